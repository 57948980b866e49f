//! Build: every image of the plan, every platform, into one OCI image layout.

pub mod layout;
