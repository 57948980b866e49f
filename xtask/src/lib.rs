//! stevedore: build and release multi-service container images from one `cargo xtask` command.
//!
//! The pipeline, one module per stage: config + git → plan → build (OCI layout) → attest
//! (signed provenance and SBOMs into the layout) → compose (the compose artifact into the layout)
//! → publish.

pub mod attest;
pub mod builder;
pub mod ci;
pub mod cli;
pub mod commands;
pub mod compose;
pub mod config;
pub mod exec;
pub mod facts;
pub mod oci;
pub mod pipeline;
pub mod plan;
pub mod policy;
pub mod problem;
pub mod progress;
pub mod publish;
pub mod registry;
pub mod report;
// Rust target triples and cross linkers, for `builder/cargo.rs` and `ci/`.
pub mod rust_targets;
// The tag-rule grammar and engine, shared by `config` (parsing) and `plan` (computing).
pub mod tag_rules;
#[cfg(test)]
mod tidy;
pub mod workspace;
// YAML read as a tree with byte positions, for `compose/` and `init/`.
pub mod yaml_positions;
// `init`: a release config drafted from a repository's Dockerfiles, bake, compose and workflows.
pub mod init;
