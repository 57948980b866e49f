//! `stevedore`: the same program as `cargo xtask`, for repositories that are not Rust
//! workspaces (`cargo install --locked --git <repo> xtask`, or the container image).

use std::process::ExitCode;

fn main() -> ExitCode {
    xtask::commands::main("stevedore")
}
