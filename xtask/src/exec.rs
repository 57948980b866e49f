//! Subprocesses: build tools streamed to the log line by line, prefixed with
//! `[image platform]`, with the last lines kept for the error message; quiet probes for tools;
//! lookups on PATH. (git does not run through here: `facts::git` runs the git binary itself,
//! with `std::process::Command` and xshell, or reads the repository with gitoxide under the
//! `gix` feature.)

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::thread;

use anyhow::{Context, Result};

use crate::progress::Sink;

/// Lines of output quoted in an error message.
const TAIL: usize = 15;

/// A failed command: what it printed last.
#[derive(Debug)]
pub struct Failed {
    pub status: String,
    pub tail: Vec<String>,
}

impl Failed {
    /// The last lines, indented, for an error message.
    pub fn tail_text(&self) -> String {
        if self.tail.is_empty() {
            return "  (no output)".into();
        }
        self.tail
            .iter()
            .map(|l| format!("  | {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Runs `cmd`, streaming stdout and stderr to `log` as `[prefix] line`. `Ok(Err(_))` when it ran
/// and failed; `Err` when it could not be started.
pub fn streamed(
    cmd: &mut Command,
    prefix: &str,
    log: &dyn Sink,
) -> Result<std::result::Result<(), Failed>> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {program}"))?;
    let tail = Mutex::new(VecDeque::with_capacity(TAIL));
    let streams: Vec<Box<dyn Read + Send>> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .collect();
    let status = thread::scope(|scope| {
        for stream in streams {
            let tail = &tail;
            scope.spawn(move || pump(stream, prefix, tail, log));
        }
        child
            .wait()
            .with_context(|| format!("{program} did not finish"))
    })?;
    if status.success() {
        return Ok(Ok(()));
    }
    let tail = tail
        .into_inner()
        .map(|t| t.into_iter().collect())
        .unwrap_or_default();
    Ok(Err(Failed {
        status: status.to_string(),
        tail,
    }))
}

fn pump(
    stream: Box<dyn Read + Send>,
    prefix: &str,
    tail: &Mutex<VecDeque<String>>,
    log: &dyn Sink,
) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end();
        log.line(&format!("[{prefix}] {line}"));
        if let Ok(mut t) = tail.lock() {
            if t.len() == TAIL {
                t.pop_front();
            }
            t.push_back(line.to_string());
        }
    }
}

/// Runs `cmd` quietly; true when it exits 0 (used to probe for tools).
pub fn probe(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Is `program` an executable on PATH (or a path to one)?
pub fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let is_exec = |p: &std::path::Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return is_exec(std::path::Path::new(program));
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| is_exec(&d.join(program))))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_keeps_the_last_lines() {
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "for i in $(seq 1 30); do echo line $i; done; sleep 0.2; echo oops >&2; exit 3",
        ]);
        let failed = streamed(&mut cmd, "t", &crate::progress::Silent)
            .unwrap()
            .unwrap_err();
        assert_eq!(failed.tail.len(), TAIL);
        assert!(failed.tail.contains(&"oops".to_string()));
        assert!(failed.status.contains('3'), "{}", failed.status);
        assert!(
            streamed(&mut Command::new("true"), "t", &crate::progress::Silent)
                .unwrap()
                .is_ok()
        );
        assert!(streamed(
            &mut Command::new("/nonexistent/tool"),
            "t",
            &crate::progress::Silent
        )
        .is_err());
    }

    #[test]
    fn finds_programs() {
        assert!(on_path("sh"));
        assert!(!on_path("surely-not-a-program-xyz"));
    }
}
