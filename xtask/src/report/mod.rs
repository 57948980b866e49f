//! Everything people read: tables, JSON documents, GitHub Actions outputs, progress.

pub mod github;
