//! Shared test harness: real `docker-registry` instances on free loopback ports (plain HTTP,
//! TLS with a CA made by the test, htpasswd auth), skopeo helpers to look at what a registry
//! holds, test workspaces (a git repository with a release config) and generated OCI layouts.
//!
//! Every child process is killed when its handle is dropped; every file lives in a temp dir.
//! Use from a test file with `mod support;` (not every test file uses every helper).
#![allow(dead_code)]

pub mod dockerd;
pub mod examples;
pub mod fixtures;
pub mod proxy;
pub mod real_repos;
pub mod registry;
pub mod release_toml;
pub mod repo;
pub mod roots;
pub mod runner;
pub mod tls;
pub mod token;

// Not every test file uses every part.
#[allow(unused_imports)]
pub use fixtures::*;
#[allow(unused_imports)]
pub use registry::*;
#[allow(unused_imports)]
pub use release_toml::*;
#[allow(unused_imports)]
pub use repo::*;
#[allow(unused_imports)]
pub use runner::*;
#[allow(unused_imports)]
pub use tls::*;
