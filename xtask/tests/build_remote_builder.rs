//! A Dockerfile image built with buildx on a remote BuildKit: stevedore uses the current buildx
//! builder (or the image's `builder-name`), so moving builds off the runner
//! (`docker buildx create --use --driver remote tcp://…`, or the `kubernetes` driver) changes
//! no config.
//!
//! buildx is not installable here, so `docker` is a stand-in: it answers `buildx inspect` as a
//! `remote` builder would (the format copied from `docker buildx inspect`), and builds
//! `buildx build --output type=oci,dest=DIR,tar=false` with buildah into that OCI layout, as the
//! remote BuildKit's exporter does. Every call is logged, so the test sees which builder each
//! build asked for. The release then pushes what the "remote" builder produced to a real
//! registry.

mod support;

use std::path::Path;

use support::*;

/// The stand-in `docker`: argv logged to `$STANDIN_LOG`, buildah storage under `$STANDIN_ROOT`.
const STANDIN: &str = r#"#!/usr/bin/env python3
import json, os, subprocess, sys
args = sys.argv[1:]
with open(os.environ["STANDIN_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
if args[:2] == ["buildx", "version"]:
    print("github.com/docker/buildx v0.19.3 stand-in")
    sys.exit(0)
if args[:2] == ["buildx", "inspect"]:
    name = args[2] if len(args) > 2 else "remote-bk"
    print(f"Name:          {name}\nDriver:        remote\nLast Activity: 2026-12-07 09:00:00 +0000 UTC\n\n"
          f"Nodes:\nName:      {name}0\nEndpoint:  tcp://127.0.0.1:1234\nStatus:    running\n")
    sys.exit(0)
if args[:2] != ["buildx", "build"]:
    print("stand-in docker: " + " ".join(args), file=sys.stderr)
    sys.exit(1)
rest, opts, labels, build_args, context = args[2:], {}, [], [], None
with_value = {"--platform", "--output", "--metadata-file", "-f", "--target", "--builder",
              "--label", "--build-arg", "--cache-from", "--cache-to", "--secret"}
i = 0
while i < len(rest):
    a = rest[i]
    if a in with_value:
        v = rest[i + 1]
        if a == "--label":
            labels.append(v)
        elif a == "--build-arg":
            build_args.append(v)
        else:
            opts[a] = v
        i += 2
    elif a.startswith("-"):
        i += 1
    else:
        context = a
        i += 1
out = dict(kv.split("=", 1) for kv in opts["--output"].split(","))
assert out["type"] == "oci" and out["tar"] == "false", out
root = os.environ["STANDIN_ROOT"]
# The remote builder has no credentials of this machine (the test's DOCKER_CONFIG has none).
with open(root + "/auth.json", "w") as f:
    f.write('{"auths": {}}')
os.environ["REGISTRY_AUTH_FILE"] = root + "/auth.json"
b = ["buildah", "--root", root + "/root", "--runroot", root + "/runroot", "--storage-driver", "vfs"]
subprocess.run(b + ["manifest", "rm", "stand-in"], capture_output=True)
cmd = b + ["build", "--isolation", "chroot", "--quiet", "--platform", opts["--platform"],
           "--manifest", "stand-in", "-f", opts["-f"]]
for l in labels:
    cmd += ["--label", l]
for a in build_args:
    cmd += ["--build-arg", a]
if "--target" in opts:
    cmd += ["--target", opts["--target"]]
subprocess.run(cmd + [context], check=True, stdout=sys.stderr)
subprocess.run(b + ["manifest", "push", "--all", "--quiet", "stand-in", "oci:" + out["dest"]], check=True)
with open(opts["--metadata-file"], "w") as f:
    f.write("{}\n")
"#;

fn install_standin(bin: &Path) {
    let docker = bin.join("docker");
    std::fs::write(&docker, STANDIN).unwrap();
    std::fs::set_permissions(&docker, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

/// The builds the stand-in was asked for: each `buildx build` call's arguments.
fn builds(log: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Vec<String>>(l).unwrap())
        .filter(|a| a.starts_with(&["buildx".to_string(), "build".to_string()]))
        .collect()
}

#[test]
fn a_release_builds_on_the_current_buildx_builder_and_on_a_named_remote_one() {
    if !have_all(&["docker-registry", "buildah", "python3"]) {
        skipped("docker-registry, buildah or python3 missing: remote builder release not run");
        return;
    }
    let registry = Registry::plain();
    let ws = Workspace::with_files(
        &[format!("{}/demo", registry.host)],
        &[],
        "builder = \"buildx\"",
        &[
            (
                "app/Dockerfile",
                b"FROM scratch AS final\nCOPY hello.txt /hello.txt\n",
            ),
            ("app/hello.txt", b"hello from a remote builder\n"),
        ],
    );
    let config = std::fs::read_to_string(ws.path().join("images/release.toml")).unwrap();
    ws.write(
        "images/release.toml",
        format!("{config}\n[images.app]\ndockerfile = \"app/Dockerfile\"\ncontext = \"app\"\n"),
    );
    ws.commit("a Dockerfile image");
    ws.git(&["tag", "-f", "v1.2.3"]);

    let bin = tempfile::tempdir().unwrap();
    install_standin(bin.path());
    let storage = tempfile::tempdir().unwrap();
    let log = bin.path().join("calls.log");
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let env = |extra: &[(&'static str, String)]| {
        let mut e = vec![
            ("PATH", path.clone()),
            ("STANDIN_LOG", log.display().to_string()),
            ("STANDIN_ROOT", storage.path().display().to_string()),
        ];
        e.extend(extra.iter().cloned());
        e
    };
    let run = |args: &[&str], env: &[(&'static str, String)]| {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        ws.xtask(args, &env)
    };

    // doctor accepts a remote builder: it can export an OCI layout.
    let out = run(&["doctor"], &env(&[]));
    let text = output_text(&out);
    assert!(
        text.contains("ok      build app linux/amd64: docker buildx (remote driver)"),
        "{text}"
    );

    // The release builds on the current builder: no `--builder`, both platforms in one build.
    let out = run(&["release"], &env(&[]));
    assert_ok(&out);
    let calls = builds(&log);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(!calls[0].contains(&"--builder".to_string()), "{calls:?}");
    let at = calls[0].iter().position(|a| a == "--platform").unwrap();
    assert_eq!(calls[0][at + 1], "linux/amd64,linux/arm64");
    let raw = registry.inspect_raw("demo/app:v1.2.3").expect("pushed");
    let index: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    let archs: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["platform"]["architecture"].as_str())
        .filter(|a| *a != "unknown")
        .collect();
    assert_eq!(archs, ["amd64", "arm64"], "{index}");

    // A named builder (`builder-name`, e.g. one on Kubernetes) is passed to every build.
    let config = std::fs::read_to_string(ws.path().join("images/release.toml")).unwrap();
    ws.write(
        "images/release.toml",
        config.replace(
            "context = \"app\"\n",
            "context = \"app\"\nbuilder-name = \"k8s-builder\"\n",
        ),
    );
    ws.commit("a named builder");
    ws.git(&["tag", "-f", "v1.2.4"]);
    std::fs::remove_file(&log).unwrap();
    let out = run(&["release"], &env(&[]));
    assert_ok(&out);
    let calls = builds(&log);
    assert_eq!(calls.len(), 1, "{calls:?}");
    let at = calls[0].iter().position(|a| a == "--builder").unwrap();
    assert_eq!(calls[0][at + 1], "k8s-builder");
    assert!(registry.inspect_raw("demo/app:v1.2.4").is_some());
}
