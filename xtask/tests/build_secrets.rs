//! `secret-build-args` stay secret: a real buildah build gets them as build secrets (never on a
//! command line, never in a published blob), a Dockerfile that still reads one as an `ARG` is
//! refused with the change to make, and a layout whose blob holds a secret value (or a registry
//! password of the environment) is refused before anything is published.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

const TOKEN: &str = "npm_S3cr3t-t0ken&value";

fn release_toml(registry: &str, extra: &str, images: &str) -> String {
    ReleaseToml::new("demo")
        .registries([registry])
        .tags(["type=semver,pattern={{version}}"])
        .lines(extra)
        .table(images)
        .build()
}

/// A base image holding a static busybox as `/bin/sh`, released by stevedore to `registry`
/// as `<host>/base/sh:1.2.3`; returns the workspace (kept alive by the caller) and the name.
fn busybox_base(registry: &Registry) -> Option<(Repo, String)> {
    let Ok(busybox) = std::fs::read("/bin/busybox") else {
        skipped("busybox-static is not installed: apt-get install busybox-static");
        return None;
    };
    let config = release_toml(
        &format!("{}/base", registry.host),
        "",
        "[images.sh]\nnative = { files = [{ src = \"files/busybox\", dst = \"/bin/sh\", mode = \"0755\" }] }\n",
    );
    let repo = Repo::release(&[
        ("images/release.toml", config.as_bytes()),
        ("files/busybox", &busybox),
        (".gitignore", b"target/\n"),
    ]);
    let out = repo.xtask(&["release"], &[]);
    assert_ok(&out);
    let name = format!("{}/base/sh:1.2.3", registry.host);
    Some((repo, name))
}

/// A `buildah` on a PATH of its own that appends each invocation's arguments (one a line)
/// and environment to `log`, then runs the real one. Returns the PATH value.
fn logging_buildah(dir: &Path, log: &Path) -> String {
    let real = which("buildah").expect("buildah on PATH");
    let script = format!(
        "#!/bin/sh\n{{ echo '--- argv'; for a in \"$@\"; do printf '%s\\n' \"$a\"; done; \
         echo '--- env'; env; }} >> '{}'\nexec '{}' \"$@\"\n",
        log.display(),
        real.display()
    );
    let path = dir.join("buildah");
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn which(cmd: &str) -> Option<PathBuf> {
    std::env::var("PATH")
        .ok()?
        .split(':')
        .map(|d| Path::new(d).join(cmd))
        .find(|p| p.is_file())
}

/// Every file under `dir`, decompressed when it is gzip (every member) or zstd (by the `zstd`
/// tool): `(path, bytes)`.
fn decompressed_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let raw = std::fs::read(&p).unwrap();
            let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
                let mut v = Vec::new();
                flate2::read::MultiGzDecoder::new(&raw[..])
                    .read_to_end(&mut v)
                    .unwrap();
                v
            } else if raw.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
                let o = Command::new("zstd").args(["-dc"]).arg(&p).output().unwrap();
                assert!(o.status.success(), "zstd -dc {}", p.display());
                o.stdout
            } else {
                raw
            };
            out.push((p, bytes));
        }
    }
    out
}

fn holds(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn a_buildah_build_gets_the_secret_as_a_build_secret_and_publishes_no_trace_of_it() {
    if !have_all(&["buildah", "skopeo", "docker-registry"]) {
        return;
    }
    let registry = Registry::plain();
    let Some((_base, base)) = busybox_base(&registry) else {
        return;
    };
    // The step proves it read the whole secret (its length), without writing the value.
    let dockerfile = format!(
        "FROM {base}\n\
         RUN --mount=type=secret,id=NPM_TOKEN read -r t < /run/secrets/NPM_TOKEN || [ -n \"$t\" ]; \
         [ ${{#t}} -eq {} ] && echo \"token of ${{#t}} bytes read\" > /seen\n",
        TOKEN.len()
    );
    let config = release_toml(
        &format!("{}/app", registry.host),
        "secret-build-args = [\"NPM_TOKEN\"]",
        "[images.web]\ndockerfile = \"Dockerfile\"\ncontext = \".\"\nbuilder = \"buildah\"\n\
         build-args = { MODE = \"prod\" }\n",
    );
    let repo = Repo::release(&[
        ("images/release.toml", config.as_str()),
        ("Dockerfile", dockerfile.as_str()),
        (".gitignore", "target/\n"),
    ]);
    let tools = tempfile::tempdir().unwrap();
    let log = tools.path().join("buildah.log");
    let path = logging_buildah(tools.path(), &log);
    let cache = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // The value comes from the environment (the committed config names it only); buildah
    // gets it only as a build secret, not in its environment either.
    let env = [
        ("PATH", path.as_str()),
        ("XDG_CACHE_HOME", cache.path().to_str().unwrap()),
        ("TMPDIR", tmp.path().to_str().unwrap()),
        ("NPM_TOKEN", TOKEN),
    ];
    let out = repo.xtask(&["release"], &env);
    assert_ok(&out);
    let text = output_text(&out);
    assert!(!text.contains(TOKEN), "the output shows the secret: {text}");
    assert!(
        text.contains("no secret in the"),
        "the publish check ran: {text}"
    );

    // buildah ran, with the secret as a file and never as a value.
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("--secret\nid=NPM_TOKEN,src=/"), "{log}");
    assert!(log.contains("--build-arg\nMODE=prod"), "{log}");
    // No buildah command line holds it, and no build step's environment (`--version` probes
    // and clean-ups inherit stevedore's environment as any child does: readable only by the
    // same user, unlike a command line).
    for call in log.split("--- argv\n").skip(1) {
        let (argv, env) = call.split_once("--- env\n").unwrap();
        assert!(
            !argv.contains(TOKEN),
            "a buildah command line holds the secret"
        );
        assert!(!argv.contains("NPM_TOKEN="), "{argv}");
        if argv.lines().any(|a| a == "build" || a == "bud") {
            assert!(
                !env.contains(TOKEN),
                "buildah build's environment holds the secret"
            );
        }
    }
    assert!(log.lines().any(|a| a == "build" || a == "bud"), "{log}");

    // The step saw the secret: its file in the image says so.
    let layout = repo.path().join("target/stevedore/oci");
    let files = decompressed_files(&layout.join("blobs"));
    let seen = format!("token of {} bytes read", TOKEN.len());
    assert!(
        files.iter().any(|(_, b)| holds(b, &seen)),
        "no layer holds /seen"
    );
    // No blob of the layout, nor of the registry, holds the value (in any JSON form).
    let escaped = TOKEN.replace('&', "\\u0026");
    for (p, bytes) in files
        .iter()
        .chain(decompressed_files(&registry.storage()).iter())
    {
        assert!(
            !holds(bytes, TOKEN) && !holds(bytes, &escaped),
            "{} holds the secret",
            p.display()
        );
    }
    // The private secret directory is gone, and buildah's storage holds no copy either.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    for (p, bytes) in decompressed_files(cache.path()) {
        assert!(!holds(&bytes, TOKEN), "{} holds the secret", p.display());
    }
}

/// A secret-build-arg the Dockerfile reads, with no value in the config or the environment,
/// stops the build before buildah runs, naming the variable to set.
#[test]
fn a_secret_the_dockerfile_reads_without_a_value_stops_the_build_naming_the_variable() {
    let config = release_toml(
        "127.0.0.1:9/app",
        "secret-build-args = [\"NPM_TOKEN\"]",
        "[images.web]\ndockerfile = \"Dockerfile\"\ncontext = \".\"\nbuilder = \"buildah\"\n",
    );
    let repo = Repo::release(&[
        ("images/release.toml", config.as_str()),
        (
            "Dockerfile",
            "FROM scratch\nRUN --mount=type=secret,id=NPM_TOKEN cat /run/secrets/NPM_TOKEN\n",
        ),
        (".gitignore", "target/\n"),
    ]);
    let out = repo.xtask(&["build"], &[]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("set the environment variable NPM_TOKEN"),
        "{text}"
    );
}

#[test]
fn a_dockerfile_that_reads_a_secret_as_an_arg_is_refused_and_a_failed_build_leaves_no_secret_file()
{
    if !have_all(&["buildah"]) {
        return;
    }
    let config = release_toml(
        "127.0.0.1:1/app",
        "secret-build-args = [\"NPM_TOKEN\"]",
        &format!(
            "[images.web]\ndockerfile = \"Dockerfile\"\ncontext = \".\"\nbuilder = \"buildah\"\n\
             build-args = {{ NPM_TOKEN = \"{TOKEN}\" }}\n"
        ),
    );
    let repo = Repo::release(&[
        ("images/release.toml", config.as_str()),
        ("Dockerfile", "FROM scratch\nARG NPM_TOKEN\nCOPY a /a\n"),
        ("a", "a\n"),
        (".gitignore", "target/\n"),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let out = repo.xtask(
        &["build"],
        &[("XDG_CACHE_HOME", cache.path().to_str().unwrap())],
    );
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("Dockerfile:2"), "{text}");
    assert!(text.contains("remove `ARG NPM_TOKEN`"), "{text}");
    assert!(
        text.contains("RUN --mount=type=secret,id=NPM_TOKEN"),
        "{text}"
    );
    assert!(!text.contains(TOKEN), "{text}");

    // A build that fails with the secret mounted leaves no secret file behind.
    repo.write(
        "Dockerfile",
        "FROM scratch\nRUN --mount=type=secret,id=NPM_TOKEN exit 3\n",
    );
    repo.commit("mount");
    let tmp = tempfile::tempdir().unwrap();
    let out = repo.xtask(
        &["build"],
        &[
            ("XDG_CACHE_HOME", cache.path().to_str().unwrap()),
            ("TMPDIR", tmp.path().to_str().unwrap()),
        ],
    );
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("buildah build failed"), "{text}");
    assert!(!text.contains(TOKEN), "{text}");
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "the private secret directory is removed on error too"
    );
}

#[test]
fn a_layout_whose_blob_holds_a_secret_is_refused_before_publish_naming_the_image() {
    if !have_all(&["docker-registry", "skopeo", "htpasswd"]) {
        return;
    }
    // A native command that writes the secret it was given into the image.
    let registry = Registry::plain();
    let config = release_toml(
        &format!("{}/app", registry.host),
        "secret-build-args = [\"API_TOKEN\"]",
        &format!(
            "[images.leaky]\nnative = {{ command = ['sh', '-c', 'mkdir -p target/out && printf \"built with %s\" \"$API_TOKEN\" > target/out/token'], \
             files = [{{ src = \"target/out/token\", dst = \"/token\" }}] }}\n\
             build-args = {{ API_TOKEN = \"{TOKEN}\" }}\n\
             [images.clean]\nnative = {{ files = [{{ src = \"files/a\", dst = \"/a\" }}] }}\n"
        ),
    );
    let repo = Repo::release(&[
        ("images/release.toml", config.as_str()),
        ("files/a", "a\n"),
        (".gitignore", "target/\n"),
    ]);
    let out = repo.xtask(&["release"], &[]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("image leaky"), "{text}");
    assert!(text.contains("layer 1 of linux/amd64"), "{text}");
    assert!(text.contains("secret-build-arg API_TOKEN"), "{text}");
    assert!(!text.contains(TOKEN), "the refusal shows the value: {text}");
    assert_eq!(registry.blob_count(), 0, "nothing was published");
    assert!(registry.tags("app/clean").is_empty());

    // A registry password of the environment in a committed file: refused the same way.
    const PASSWORD: &str = "pu5h-Pa55word-xyz";
    let registry = Registry::with_auth("pusher", PASSWORD);
    let var = format!(
        "STEVEDORE_AUTH_{}",
        registry.host.replace(['.', ':'], "_").to_uppercase()
    );
    let config = release_toml(
        &format!("{}/app", registry.host),
        "",
        "[images.creds]\nnative = { files = [{ src = \"files/netrc\", dst = \"/root/.netrc\" }] }\n",
    );
    let repo = Repo::release(&[
        ("images/release.toml", config.as_str()),
        (
            "files/netrc",
            format!("machine reg login pusher password {PASSWORD}\n").as_str(),
        ),
        (".gitignore", "target/\n"),
    ]);
    let out = repo.xtask(&["release"], &[(&var, &format!("pusher:{PASSWORD}"))]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("image creds"), "{text}");
    assert!(text.contains(&var), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");
    assert_eq!(registry.blob_count(), 0, "nothing was published");
}
