//! `cargo xtask`: parse, dispatch, print errors (the `stevedore` binary is the same program).

use std::process::ExitCode;

fn main() -> ExitCode {
    xtask::commands::main("cargo xtask")
}
