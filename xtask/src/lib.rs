//! stevedore: build and release multi-service container images from one `cargo xtask` command.
//!
//! The pipeline, one module per stage: config + git → plan → build (OCI layout) → publish.

pub mod attest;
pub mod build;
pub mod ci;
pub mod cli;
pub mod commands;
pub mod config;
pub mod git;
pub mod oci;
pub mod plan;
pub mod platform;
pub mod progress;
pub mod publish;
pub mod reference;
pub mod release;
pub mod workspace;
