//! `cargo xtask release --dry-run` on a fresh copy of this repository builds
//! stevedore's own image (compiling the xtask binary, statically, for linux/amd64), prints the
//! table, and the layout copies into a real registry from which dockerd pulls and runs it.
//!
//! This is the only test that compiles stevedore itself; the cargo target dir is kept in
//! `CARGO_TARGET_TMPDIR` so that re-runs only rebuild the xtask crate.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::dockerd::Dockerd;
use support::{git, have, output_text, run_limited, xtask_command};

/// A fresh repository holding this workspace's files as they are now (tracked and untracked,
/// not ignored): what a clone of the next commit would hold. Tagged `v1.2.3`.
fn fresh_copy(dest: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let files = git(root, &["ls-files", "-co", "--exclude-standard", "-z"]);
    for rel in files.split('\0').filter(|f| !f.is_empty()) {
        let src = root.join(rel);
        if !src.is_file() {
            continue; // deleted in the working tree
        }
        let to = dest.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&src, &to).unwrap();
    }
    git(dest, &["init", "-q", "-b", "main"]);
    git(dest, &["add", "-A"]);
    git(dest, &["commit", "-q", "-m", "fresh"]);
    git(dest, &["tag", "v1.2.3"]);
}

#[test]
fn release_dry_run_of_this_repo_then_registry_and_docker_run() {
    let ws = tempfile::tempdir().unwrap();
    fresh_copy(ws.path());
    let cargo_dir: PathBuf = Path::new(env!("CARGO_TARGET_TMPDIR")).join("stevedore-e2e-cargo");

    let cmd = xtask_command(
        ws.path(),
        &["release", "--dry-run"],
        &[("STEVEDORE_CARGO_TARGET_DIR", cargo_dir.to_str().unwrap())],
    );
    let out = run_limited(cmd, Duration::from_secs(1200));
    support::assert_ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for want in [
        "IMAGE",
        "stevedore  linux/amd64  sha256:",
        "stevedore:1.2.3 index sha256:",
        "would push ghcr.io/stevedore-rs/stevedore:v1.2.3",
        "would push docker.io/stevedore/stevedore:1",
        "dry run: nothing was pushed",
    ] {
        assert!(
            stdout.contains(want),
            "{want:?} missing:\n{}",
            output_text(&out)
        );
    }
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("[stevedore linux/amd64]"),
        "{}",
        output_text(&out)
    );
    let arm64_built = stdout.contains("stevedore  linux/arm64  sha256:");
    assert!(
        arm64_built || stdout.contains("skipped stevedore linux/arm64: "),
        "{stdout}"
    );

    if !have("skopeo") || !have("docker-registry") {
        support::skipped("SKIPPED the registry part: skopeo and docker-registry are needed");
        return;
    }
    let registry = support::Registry::plain();
    let image = format!("{}/stevedore:1.2.3", registry.host);
    let layout = ws.path().join("target/stevedore/oci");
    let copy = Command::new("skopeo")
        .args(["copy", "--all", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:stevedore:1.2.3", layout.display()))
        .arg(format!("docker://{image}"))
        .output()
        .unwrap();
    assert!(copy.status.success(), "skopeo copy: {copy:?}");

    if !have("dockerd") {
        support::skipped(
            "SKIPPED docker pull/run: dockerd is not installed (apt-get install docker.io)",
        );
        return;
    }
    let dockerd = Dockerd::start();
    let pull = dockerd.docker(&["pull", &image]);
    assert!(
        pull.status.success(),
        "docker pull: {}\n{}",
        output_text(&pull),
        dockerd.log()
    );
    let run = dockerd.docker(&["run", "--rm", "--network", "none", &image, "--version"]);
    assert!(
        run.status.success(),
        "docker run: {}\n{}",
        output_text(&run),
        dockerd.log()
    );
    assert_eq!(
        String::from_utf8_lossy(&run.stdout).trim(),
        "stevedore 1.2.3"
    );

    // The CA bundle inside the image holds Mozilla's roots only.
    let created = dockerd.docker(&["create", &image]);
    assert!(
        created.status.success(),
        "docker create: {}",
        output_text(&created)
    );
    let id = String::from_utf8_lossy(&created.stdout).trim().to_string();
    let copied = ws.path().join("image-ca-certificates.crt");
    let cp = dockerd.docker(&[
        "cp",
        &format!("{id}:/etc/ssl/certs/ca-certificates.crt"),
        &copied.display().to_string(),
    ]);
    assert!(cp.status.success(), "docker cp: {}", output_text(&cp));
    let bundle = std::fs::read_to_string(&copied).unwrap();
    assert!(support::roots::assert_only_mozilla_roots(&bundle) > 100);

    image_runs_on_a_mounted_checkout(&dockerd, &image, &registry);
}

/// The image (built with gitoxide, no git inside) on a mounted fixture repository: `plan
/// --json` equals the host binary's (which reads the repository with the git binary), and
/// `release` publishes to a local registry, as `docker run -v "$PWD:/w" -w /w` does in the
/// README. The checkout is mounted at its own path so that the two plans name the same paths.
fn image_runs_on_a_mounted_checkout(dockerd: &Dockerd, image: &str, registry: &support::Registry) {
    let prefix = format!("{}/mounted", registry.host);
    let ws = support::Workspace::new(&[prefix], &["hello"], "");
    // A commit past the tag: the version is describe-based, so git's and gitoxide's describe
    // both count.
    ws.write("files/more.txt", "more\n");
    ws.commit("past the tag");
    let dir = ws.path().display().to_string();
    let mount = format!("{dir}:{dir}");
    let in_image = |args: &[&str]| {
        let mut all = vec![
            "run",
            "--rm",
            "--network",
            "host",
            "--user",
            "0:0",
            "-v",
            &mount,
            "-w",
            &dir,
            image,
        ];
        all.extend_from_slice(args);
        dockerd.docker(&all)
    };

    let host = ws.xtask(&["plan", "--json"], &[]);
    support::assert_ok(&host);
    let inside = in_image(&["plan", "--json"]);
    assert!(
        inside.status.success(),
        "docker run … plan --json: {}",
        output_text(&inside)
    );
    let host_plan: serde_json::Value = serde_json::from_slice(&host.stdout).unwrap();
    let image_plan: serde_json::Value = serde_json::from_slice(&inside.stdout).unwrap();
    assert_eq!(
        host_plan, image_plan,
        "the image's plan differs from the host's"
    );
    let version = host_plan["version"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!version.is_empty() && version != "1.2.3", "{version}");

    // A dirty tree is refused inside the image as on the host.
    ws.write("files/hello.txt", "changed\n");
    let dirty = in_image(&["release"]);
    assert!(!dirty.status.success());
    assert!(
        output_text(&dirty).contains("files/hello.txt"),
        "{}",
        output_text(&dirty)
    );
    ws.git(&["checkout", "-q", "--", "."]);

    // Tagged: the release publishes the semver tags.
    ws.git(&["tag", "v1.3.0"]);
    let host = ws.xtask(&["plan", "--json"], &[]);
    let inside = in_image(&["plan", "--json"]);
    assert!(
        inside.status.success(),
        "docker run … plan --json: {}",
        output_text(&inside)
    );
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&host.stdout).unwrap(),
        serde_json::from_slice::<serde_json::Value>(&inside.stdout).unwrap(),
        "the image's plan of the tagged commit differs from the host's"
    );
    let released = in_image(&["release"]);
    assert!(
        released.status.success(),
        "docker run … release: {}",
        output_text(&released)
    );
    let tags = registry.tags("mounted/hello");
    assert!(
        !tags.is_empty(),
        "nothing published: {}",
        output_text(&released)
    );
    for tag in &tags {
        let raw = Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{}/mounted/hello:{tag}", registry.host))
            .output()
            .unwrap();
        assert!(raw.status.success(), "skopeo inspect {tag}: {raw:?}");
        let index: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();
        assert_eq!(
            index["manifests"].as_array().map(Vec::len),
            Some(2),
            "{tag}: {index}"
        );
    }
}

/// A release that publishes: build every platform, then push to the registry of the config.
#[test]
fn release_builds_then_publishes() {
    if !have("docker-registry") || !have("skopeo") {
        support::skipped("SKIPPED: docker-registry and skopeo are needed");
        return;
    }
    let registry = support::Registry::plain();
    let prefix = format!("{}/demo", registry.host);
    let ws = support::Workspace::new(&[prefix], &["hello"], "");
    let out = ws.xtask(&["release"], &[]);
    support::assert_ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("hello  linux/arm64  sha256:"), "{stdout}");
    assert_eq!(registry.tags("demo/hello"), support::TAGS);
    let raw = registry.inspect_raw("demo/hello:v1.2.3").expect("pushed");
    let index: xtask::oci::Index = serde_json::from_slice(&raw).unwrap();
    assert_eq!(index.manifests.len(), 2);
}
