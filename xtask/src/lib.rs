//! stevedore: build and release multi-service container images from one `cargo xtask` command.
//!
//! The pipeline, one module per stage: config + git → plan → build (OCI layout) → publish.

pub mod build;
pub mod cli;
pub mod commands;
pub mod config;
pub mod facts;
pub mod oci;
pub mod plan;
pub mod progress;
pub mod publish;
pub mod release;
pub mod report;
pub mod workspace;
