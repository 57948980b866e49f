//! The small grammars config values must follow, checked at load so that a bad value fails
//! `plan` naming its key, not a build or a CI run later: Rust target triples, git branch
//! names (`git check-ref-format`), paths in the image, stop signals, users, environment and
//! label keys, base image references.
//!
//! Each check returns what is wrong and the fix, without the key (the caller names it).

use std::path::Path;

/// A Rust target triple: `arch-vendor-os[-env]` in lower-case letters, digits, `_` and `.`
/// (`x86_64-unknown-linux-musl`, `armv7-unknown-linux-gnueabihf`, `wasm32-wasip1`). Nothing a
/// shell or YAML reads specially can pass: the value lands in `rustup target add` and `cargo
/// --target` in generated workflows.
pub fn target_triple(t: &str) -> Result<(), String> {
    static PATTERN: std::sync::OnceLock<regex_lite::Regex> = std::sync::OnceLock::new();
    let re = PATTERN.get_or_init(|| {
        regex_lite::Regex::new(r"^[a-z0-9_]+(-[a-z0-9_.]+){1,4}$").expect("static pattern")
    });
    if t.len() <= 64 && re.is_match(t) {
        Ok(())
    } else {
        Err(format!(
            "{t:?} is not a Rust target triple: write one `rustc --print target-list` lists, \
             e.g. \"x86_64-unknown-linux-musl\" or \"aarch64-unknown-linux-gnu\""
        ))
    }
}

/// A `release.mirrors` entry: a registry host (`docker.io`) and the `host[:port][/path]` its
/// images are pulled from instead.
pub fn mirror(host: &str, mirror: &str) -> Result<(), String> {
    use crate::oci::reference::RegistryPrefix;
    let fix = "write e.g. mirrors = { \"docker.io\" = \"mirror.gcr.io\" }";
    match RegistryPrefix::parse(host) {
        Ok(p) if p.namespace.is_empty() => {}
        _ => return Err(format!("{host:?} is not a registry host: {fix}")),
    }
    let first = mirror.split('/').next().unwrap_or_default();
    let starts_with_host = first.contains(['.', ':']) || first == "localhost";
    match RegistryPrefix::parse(mirror) {
        Ok(_) if starts_with_host => Ok(()),
        Ok(_) => Err(format!(
            "mirror {mirror:?} does not start with a registry host: {fix}"
        )),
        Err(e) => Err(format!("mirror {e}: {fix}")),
    }
}

/// A branch name git accepts (`git check-ref-format --branch`): the rules of
/// `git help check-ref-format` for `refs/heads/<name>`, and not `-…` or `HEAD`. The
/// characters a shell, an Actions expression or a `branches:` filter reads specially are
/// refused too: the name lands in generated workflows.
pub fn branch_name(b: &str) -> Result<(), String> {
    let why = branch_problem(b);
    match why {
        None => Ok(()),
        Some(why) => Err(format!(
            "{b:?} is not a git branch name ({why}): write the branch's name as `git branch` \
             shows it, e.g. \"main\""
        )),
    }
}

fn branch_problem(b: &str) -> Option<&'static str> {
    if b.is_empty() {
        return Some("it is empty");
    }
    if b.starts_with('-') {
        return Some("it starts with `-`");
    }
    if b == "HEAD" || b == "@" {
        return Some("git reserves this name");
    }
    if b.chars().any(|c| c.is_ascii_control()) {
        return Some("it holds a control character");
    }
    if let Some(c) = b
        .chars()
        .find(|c| matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\'))
    {
        return Some(match c {
            ' ' => "it holds a space",
            '~' | '^' | ':' => "it holds `~`, `^` or `:`",
            '?' | '*' | '[' => "it holds a glob character (`?`, `*`, `[`)",
            _ => "it holds `\\`",
        });
    }
    if b.contains("..") {
        return Some("it holds `..`");
    }
    if b.contains("@{") {
        return Some("it holds `@{`");
    }
    if b.starts_with('/') || b.ends_with('/') || b.contains("//") {
        return Some("it starts or ends with `/`, or holds `//`");
    }
    if b.ends_with('.') {
        return Some("it ends with `.`");
    }
    if b.split('/')
        .any(|c| c.starts_with('.') || c.ends_with(".lock"))
    {
        return Some("a `/`-separated part starts with `.` or ends with `.lock`");
    }
    if b.chars().any(|c| "$`'\";|&<>(){}!+".contains(c)) {
        return Some(
            "it holds a character a shell, a GitHub Actions expression or a workflow's branch \
             filter reads specially: $ ` ' \" ; | & < > ( ) { } ! +",
        );
    }
    None
}

/// An absolute path in the image (`dst`, `working-dir`, `volumes`): starts with `/`, no `..`
/// part (a layer entry must not climb out of the root), no NUL or control character.
pub fn image_path(p: &str) -> Result<(), String> {
    if !p.starts_with('/') {
        return Err(format!(
            "{p:?} must be an absolute path in the image, e.g. \"/usr/local/bin/app\""
        ));
    }
    if p.chars().any(|c| c.is_control()) {
        return Err(format!(
            "{p:?} holds a NUL or control character: write a plain path"
        ));
    }
    if p.split('/').any(|part| part == "..") {
        return Err(format!(
            "{p:?} holds a `..` part: write the path it means without `..` (paths in the \
             image are absolute, from its root)"
        ));
    }
    if p.len() > 4096 {
        return Err(format!("{} bytes is too long for a path", p.len()));
    }
    Ok(())
}

/// Linux signal names (without `SIG`), as moby's `signal.ParseSignal` knows them.
const SIGNALS: &[&str] = &[
    "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL",
    "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP",
    "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ", "RTMIN", "RTMAX",
];

/// A stop signal Docker and the OCI runtimes accept: a name (`SIGTERM`, `TERM`, `SIGRTMIN+3`)
/// or a number 1-64.
pub fn stop_signal(s: &str) -> Result<(), String> {
    let bad = || {
        Err(format!(
            "{s:?} is not a signal: write a name like \"SIGTERM\", \"SIGQUIT\", \"SIGINT\" \
             (`kill -l` lists them) or a number 1-64"
        ))
    };
    if let Ok(n) = s.parse::<u32>() {
        return if (1..=64).contains(&n) { Ok(()) } else { bad() };
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if SIGNALS.contains(&name) {
        return Ok(());
    }
    let offset = |rest: &str| rest.parse::<u32>().is_ok_and(|n| (1..=15).contains(&n));
    match (name.strip_prefix("RTMIN+"), name.strip_prefix("RTMAX-")) {
        (Some(n), _) | (_, Some(n)) if offset(n) => Ok(()),
        _ => bad(),
    }
}

/// `user`, `uid`, `user:group` or `uid:gid`: names of letters, digits, `_`, `.` and `-`
/// (not starting with `-`), numbers that fit a uid.
pub fn user(u: &str) -> Result<(), String> {
    let part_ok = |p: &str| {
        if p.chars().all(|c| c.is_ascii_digit()) {
            return p.parse::<u32>().is_ok();
        }
        let name = p.strip_suffix('$').unwrap_or(p);
        !name.is_empty()
            && name.len() <= 32
            && !name.starts_with('-')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    };
    let mut parts = u.split(':');
    let ok = match (parts.next(), parts.next(), parts.next()) {
        (Some(user), None, None) => part_ok(user),
        (Some(user), Some(group), None) => part_ok(user) && part_ok(group),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{u:?} is not a user: write \"name\", \"uid\", \"name:group\" or \"uid:gid\" (e.g. \
             \"65532:65532\"), without spaces or control characters"
        ))
    }
}

/// An environment variable name: not empty, no `=`, no NUL, whitespace or control character.
pub fn env_key(k: &str) -> Result<(), String> {
    if k.is_empty() || k.contains('=') || k.chars().any(|c| c.is_control() || c.is_whitespace()) {
        Err(format!(
            "{k:?} is not a variable name: a name is not empty and holds no `=`, space, NUL \
             or control character (e.g. \"RUST_LOG\")"
        ))
    } else {
        Ok(())
    }
}

/// A value that goes into the image config or a command line: no NUL byte (it would cut the
/// string short in C and in the runtime).
pub fn no_nul(v: &str) -> Result<(), String> {
    if v.contains('\0') {
        Err("the value holds a NUL byte: remove it".into())
    } else {
        Ok(())
    }
}

/// A label key: not empty, no `=`, whitespace, NUL or control character; and not one of the
/// `org.opencontainers.image.*` facts stevedore sets from git and the plan.
pub fn label_key(k: &str) -> Result<(), String> {
    if k.is_empty() || k.contains('=') || k.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!(
            "{k:?} is not a label key: write a reverse-DNS key like \"com.example.team\" \
             (no `=`, space or control character)"
        ));
    }
    const FACTS: &[&str] = &[
        "org.opencontainers.image.revision",
        "org.opencontainers.image.version",
        "org.opencontainers.image.created",
        "org.opencontainers.image.source",
        "org.opencontainers.image.base.name",
        "org.opencontainers.image.base.digest",
    ];
    if FACTS.contains(&k) {
        return Err(format!(
            "{k} is set by stevedore from git and the plan (a label may not contradict the \
             provenance): remove it (`release.source` sets the source)"
        ));
    }
    Ok(())
}

/// The path part of `base = "oci:PATH[:NAME]"`, as the builder reads it: the whole rest when
/// it is a layout, else the first `PATH:NAME` split whose `PATH` is a directory, else the part
/// before the first `:`.
pub fn oci_base_path<'a>(rest: &'a str, root: &Path) -> &'a str {
    if root.join(rest).join("oci-layout").is_file() {
        return rest;
    }
    for (i, _) in rest.match_indices(':') {
        if root.join(&rest[..i]).is_dir() {
            return &rest[..i];
        }
    }
    rest.split_once(':').map_or(rest, |(p, _)| p)
}

/// A text value with no control character (a name that lands in a command line or a label).
pub fn plain_text(v: &str) -> Result<(), String> {
    if v.chars().any(|c| c.is_control()) {
        Err(format!(
            "{v:?} holds a NUL, newline or other control character: remove it"
        ))
    } else {
        Ok(())
    }
}
