//! A problem's fix is printed on its own line (`  fix: …`) after the error, for the errors users
//! meet most: a config error, a credential refusal and a compose finding.

mod support;

use support::*;

/// The line of `text` holding `reason`, and a later `fix:` line (only indentation before it)
/// holding `fix`.
fn assert_fix_line(text: &str, reason: &str, fix: &str) {
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains(reason))
        .unwrap_or_else(|| panic!("no line with {reason:?}:\n{text}"));
    let fix_line = lines[at + 1..]
        .iter()
        .find(|l| l.trim_start().starts_with("fix: "))
        .unwrap_or_else(|| panic!("no `fix:` line after {reason:?}:\n{text}"));
    assert!(fix_line.starts_with("  "), "indented: {fix_line:?}\n{text}");
    assert!(
        fix_line.contains(fix),
        "the fix of {reason:?} is {fix:?}: {fix_line:?}\n{text}"
    );
    assert!(
        !lines[at].contains(fix),
        "the fix is on its own line, not in the error's: {:?}",
        lines[at]
    );
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_config_error_prints_its_fix_on_its_own_line() {
    let config = ReleaseToml::new("demo")
        .registries(["127.0.0.1:1/demo"])
        .platforms(Vec::<&str>::new())
        .raw("concurrency", "0")
        .image(
            "app",
            "native = { files = [{ src = \"app.txt\", dst = \"/app.txt\" }] }",
        )
        .build();
    let repo = Repo::release(&[
        ("images/release.toml", config.as_str()),
        ("app.txt", "app\n"),
    ]);
    let out = repo.xtask(&["plan"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: images/release.toml: 2 problems"),
        "{err}"
    );
    assert_fix_line(
        &err,
        "images/release.toml: release.platforms: must not be empty",
        "list the platforms to build, e.g. [\"linux/amd64\", \"linux/arm64\"]",
    );
    assert_fix_line(
        &err,
        "images/release.toml: release.concurrency: 0 is out of range",
        "use 1 to 64",
    );
}

#[test]
fn a_credential_refusal_prints_its_fix_on_its_own_line() {
    if !have_all(&["docker-registry", "htpasswd"]) {
        return;
    }
    let locked = Registry::with_auth("pusher", "right-password");
    let ws = Workspace::new(std::slice::from_ref(&locked.host), &["app"], "");
    write_image(&ws.layout(), &small_image("app", 3), VERSION);
    let bad = docker_config(&[(&locked.host, "pusher", "wrong-password")]);
    let out = ws.xtask(
        &["push"],
        &[("DOCKER_CONFIG", bad.path().to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let err = stderr(&out);
    assert!(!err.contains("wrong-password"), "secret leaked:\n{err}");
    assert_fix_line(
        &err,
        &format!("{} refused the credentials from", locked.host),
        "check them, then re-run",
    );

    let none = ws.xtask(&["push"], &[]);
    assert_eq!(none.status.code(), Some(1), "{}", output_text(&none));
    assert_fix_line(
        &stderr(&none),
        &format!("{} requires credentials and none were found", locked.host),
        "run `docker login",
    );
}

#[test]
fn a_compose_finding_prints_its_fix_on_its_own_line() {
    let compose = "services:\n  web:\n    image: acme/web\n    volumes:\n      - /etc:/host-etc\n";
    let config = ReleaseToml::new("stack")
        .registries(["127.0.0.1:1/acme"])
        .image(
            "web",
            "native = { files = [{ src = \"compose.yaml\", dst = \"/c\" }] }",
        )
        .table("[compose]\nfiles = [\"compose.yaml\"]\nrepository = \"stack-oci\"")
        .build();
    let repo = Repo::release(&[
        ("images/release.toml", config.as_str()),
        ("compose.yaml", compose),
    ]);
    let out = repo.xtask(&["release", "--dry-run"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let err = stderr(&out);
    assert_fix_line(&err, "compose.yaml: services.web.volumes", "allow");
    // The problem as a whole ends with the way to allow the findings, on the last line.
    let last = err.trim_end().lines().last().unwrap();
    assert!(last.starts_with("  fix: "), "{err}");
    assert!(last.contains("bind-mounts"), "{err}");
}
