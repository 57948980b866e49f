//! Running the xtask binary (with a time limit), tools on PATH, skips, docker configs.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Reports a test part that cannot run on this machine: printed on a developer's machine, a
/// failure under `CI` (where scripts/test.sh installs every tool, so a skip would hide a test).
/// Every skip is also counted in [`skip_log`], one line each, so that the run can say how many
/// tests passed without running (scripts/test.sh prints the total at the end).
pub fn skipped(why: &str) {
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("{why}: CI must run every test (scripts/test.sh installs the tools)");
    }
    eprintln!("{why}");
    let test = std::thread::current().name().unwrap_or("?").to_string();
    // The test file: the binary's name without cargo's `-<hash>`.
    let bin = std::env::args().next().unwrap_or_default();
    let bin = Path::new(&bin)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bin = bin.rsplit_once('-').map_or(bin.as_str(), |(name, _)| name);
    let line = format!("{bin} {test}: {}\n", why.replace('\n', " "));
    let _ = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(skip_log())
        .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
}

/// Skips (see [`skipped`]) unless `tool` is installed: prints `SKIPPED (no <tool>)`.
pub fn skip_without(tool: &str) -> bool {
    if have(tool) {
        return false;
    }
    skipped(&format!("SKIPPED (no {tool})"));
    true
}

/// Where [`skipped`] counts the skips of a test run: one line per skip (the test binary, the
/// test and why). scripts/test.sh empties it first and prints the total at the end.
pub fn skip_log() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("skipped-tests.log")
}

/// Asserts that a command succeeded, showing its status, stdout and stderr when it did not.
#[track_caller]
pub fn assert_ok(out: &Output) {
    assert!(out.status.success(), "{}", output_text(out));
}

/// A docker config directory that does not exist: no credentials of the machine running the
/// tests are read (stevedore, and the buildah it drives, must cope with it).
pub fn no_docker_credentials() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-docker-credentials-here")
}

/// The xtask binary with `-C dir` and `args`. CI variables, stevedore settings,
/// `SOURCE_DATE_EPOCH` and docker credentials of the machine running the tests are removed
/// (`DOCKER_CONFIG` is [`no_docker_credentials`]); `env` adds variables.
pub fn xtask_command(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.arg("-C").arg(dir).args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("GITHUB_")
            || k.starts_with("STEVEDORE_")
            || k == "CI"
            || k == "DOCKER_CONFIG"
            || k == "RUNNER_TEMP"
            || k == "SOURCE_DATE_EPOCH"
        {
            cmd.env_remove(&k);
        }
    }
    // Never read the real ~/.docker/config.json.
    cmd.env("DOCKER_CONFIG", no_docker_credentials());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs [`xtask_command`] with a time limit of 300 s.
pub fn xtask(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    run_limited(xtask_command(dir, args, env), Duration::from_secs(300))
}

/// Runs a command (stdin closed) with a time limit, capturing its output; panics with its
/// stderr when it takes longer.
pub fn run_limited(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let pump = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = pump(Box::new(child.stdout.take().unwrap()));
    let err = pump(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
            panic!("{cmd:?} took more than {limit:?}; stderr:\n{stderr}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Whether every tool of `list` is installed; the first missing one is skipped with a note
/// (`SKIPPED (no <tool>)`, a failure under CI, where scripts/test.sh installs them all).
pub fn have_all(list: &[&str]) -> bool {
    !list.iter().any(|tool| skip_without(tool))
}

/// Whether `tool` is on PATH (no skip is reported: see [`have_all`] for tests that need it).
pub fn have(tool: &str) -> bool {
    // Not `tool --version`: openssl, htpasswd and go have no such flag.
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| dir.join(tool).is_file())
}

/// stdout + stderr of a command, for assertions and messages.
pub fn output_text(out: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Writes a docker `config.json` with `auths` for `(host, user, password)` into a new temp
/// dir; returns the dir (use it as `DOCKER_CONFIG`).
pub fn docker_config(entries: &[(&str, &str, &str)]) -> tempfile::TempDir {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let mut auths = serde_json::Map::new();
    for (host, user, password) in entries {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        auths.insert(host.to_string(), serde_json::json!({ "auth": auth }));
    }
    std::fs::write(
        dir.path().join("config.json"),
        serde_json::to_vec_pretty(&serde_json::json!({ "auths": auths })).unwrap(),
    )
    .unwrap();
    dir
}

/// An independent check of an SPDX JSON document: PyPI spdx-tools (`pyspdxtools -i`) validates
/// it (written to `dir/sbom.spdx.json`).
pub fn assert_spdx_validates(dir: &Path, doc: &str) {
    let file = dir.join("sbom.spdx.json");
    std::fs::write(&file, doc).unwrap();
    let checked = Command::new("pyspdxtools")
        .arg("-i")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "pyspdxtools: {}",
        output_text(&checked)
    );
}
