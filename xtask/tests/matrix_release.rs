//! The matrix release: two jobs in separate clones of one commit each `build --platform` +
//! `push --by-digest`, and `merge` in a third clone publishes what a single-job `release` of
//! that commit publishes: the same index digests, signed provenance per image that
//! `verify --key` accepts, the same syft SBOMs, and the compose artifact pinned to the merged
//! digests (loaded by the real docker-compose). The digest files (with their job records) are
//! read as hostile: a tampered digest, manifest or SBOM, a foreign image name, an unknown key
//! and an oversized file are refused, naming the file and the fix, and no tag moves.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;
use support::*;

const PLATFORMS: [&str; 2] = ["linux/amd64", "linux/arm64"];

/// A repository releasing `web` and `worker` (static busybox, native builder) for amd64 and
/// arm64 to `<registry>/acme`, syft SBOMs, and a compose artifact `acme/stack-oci`.
fn origin(registry: &Registry) -> Repo {
    origin_with(registry, "")
}

/// [`origin`] with more `[release]` lines.
fn origin_with(registry: &Registry, extra: &str) -> Repo {
    let busybox = std::fs::read("/bin/busybox").expect("busybox-static is installed");
    let ca = registry
        .ca_file
        .as_ref()
        .map(|f| std::fs::read(f).unwrap())
        .unwrap_or_default();
    let image = "native = { files = [{ src = \"files/busybox\", dst = \"/bin/busybox\", mode = \"0755\" }] }\n\
                 entrypoint = [\"/bin/busybox\"]";
    let mut config = ReleaseToml::new("stack")
        .registries([format!("{}/acme", registry.host)])
        .platforms(PLATFORMS)
        .tags([
            "type=semver,pattern=v{{version}}",
            "type=semver,pattern={{major}}.{{minor}}",
            "type=semver,pattern={{major}}",
        ])
        .string("latest", "auto")
        .string("sbom", "syft")
        // Every job names the repository the same way (as in CI), not by its clone's path.
        .string("source", "https://github.com/acme/stack")
        .image("web", image)
        .image("worker", image)
        .lines(extra)
        .table("[compose]\nfiles = [\"compose.yaml\"]\nrepository = \"stack-oci\"");
    if registry.tls {
        config = config.strings("ca-files", ["certs/ca.pem"]);
    }
    let compose = format!(
        "services:\n  web:\n    image: {h}/acme/web:${{TAG:-latest}}\n    network_mode: none\n  \
         worker:\n    image: {h}/acme/worker:${{TAG:-latest}}\n    network_mode: none\n",
        h = registry.host
    );
    let config = config.build();
    let files: Vec<(&str, &[u8])> = vec![
        ("images/release.toml", config.as_bytes()),
        ("files/busybox", &busybox),
        ("certs/ca.pem", &ca),
        ("compose.yaml", compose.as_bytes()),
        (".gitignore", b"target/\n"),
    ];
    Repo::release(&files)
}

/// A clone of `origin` (the same commit and tag, `origin` as its remote) in a new temp dir.
fn clone(origin: &Repo) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("git")
        .args(["clone", "-q"])
        .arg(origin.path())
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "git clone: {out:?}");
    dir
}

/// An ECDSA P-256 key pair (PEM PKCS#8 private, PEM public) made by openssl.
fn key_pair(dir: &Path) -> (String, PathBuf) {
    let private = dir.join("signer.pem");
    let public = dir.join("signer.pub.pem");
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    };
    let (private_s, public_s) = (private.to_str().unwrap(), public.to_str().unwrap());
    run(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        private_s,
    ]);
    run(&["pkey", "-in", private_s, "-pubout", "-out", public_s]);
    (std::fs::read_to_string(&private).unwrap(), public)
}

/// One matrix job in its own clone: `build --platform P` and `push --by-digest`. Returns the
/// clone, with the digest file, its job record and SBOM files in `target/stevedore/`.
fn matrix_job(origin: &Repo, platform: &str) -> tempfile::TempDir {
    let dir = clone(origin);
    let out = xtask(dir.path(), &["build", "--platform", platform], &[]);
    assert_ok(&out);
    let file = format!("target/stevedore/{}.json", digest_name(platform));
    let out = xtask(
        dir.path(),
        &["push", "--by-digest", "--digest-file", &file],
        &[],
    );
    assert_ok(&out);
    dir
}

fn digest_name(platform: &str) -> String {
    format!("digests-{}", platform.replace('/', "-"))
}

/// Copies each job's digest file into `to`, as a workflow's artifact upload and download
/// would; returns their paths.
fn collect_job_files(jobs: &[(&tempfile::TempDir, &str)], to: &Path) -> Vec<PathBuf> {
    std::fs::create_dir_all(to).unwrap();
    let mut files = Vec::new();
    for (dir, platform) in jobs {
        let name = digest_name(platform);
        let file = format!("{name}.json");
        std::fs::copy(
            dir.path().join("target/stevedore").join(&file),
            to.join(&file),
        )
        .unwrap();
        files.push(to.join(format!("{name}.json")));
    }
    files
}

fn run_merge(dir: &Path, files: &[PathBuf], env: &[(&str, &str)]) -> Output {
    let mut args = vec!["merge".to_string()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    xtask(dir, &args, env)
}

fn index_digest(registry: &Registry, repo: &str) -> String {
    let raw = registry
        .inspect_raw(&format!("{repo}:v1.2.3"))
        .unwrap_or_else(|| panic!("{repo}:v1.2.3 is not in the registry"));
    xtask::oci::Digest::of(&raw).to_string()
}

fn raw_json(registry: &Registry, reference: &str) -> Value {
    serde_json::from_slice(&registry.inspect_raw(reference).unwrap()).unwrap()
}

fn blob(registry: &Registry, digest: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").unwrap();
    std::fs::read(
        registry
            .storage()
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data"),
    )
    .unwrap()
}

/// The statements attached to `repo:v1.2.3` (through the referrers fallback tag), by
/// predicate type; each is a signed Sigstore bundle.
fn statements(registry: &Registry, repo: &str) -> Vec<(String, Value)> {
    statements_of(registry, repo, &index_digest(registry, repo))
}

/// The statements about `digest` in `repo` (its referrers fallback tag).
fn statements_of(registry: &Registry, repo: &str, digest: &str) -> Vec<(String, Value)> {
    let hex = digest.strip_prefix("sha256:").unwrap();
    let fallback = raw_json(registry, &format!("{repo}:sha256-{hex}"));
    let mut out = Vec::new();
    for e in fallback["manifests"].as_array().unwrap() {
        assert_eq!(
            e["artifactType"], "application/vnd.dev.sigstore.bundle.v0.3+json",
            "signed: {e}"
        );
        let m = raw_json(
            registry,
            &format!("{repo}@{}", e["digest"].as_str().unwrap()),
        );
        assert_eq!(m["subject"]["digest"], digest);
        let layer = blob(registry, m["layers"][0]["digest"].as_str().unwrap());
        let bundle: Value = serde_json::from_slice(&layer).unwrap();
        let payload = base64::engine::general_purpose::STANDARD
            .decode(bundle["dsseEnvelope"]["payload"].as_str().unwrap())
            .unwrap();
        let statement: Value = serde_json::from_slice(&payload).unwrap();
        out.push((
            statement["predicateType"].as_str().unwrap().to_string(),
            statement,
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// A provenance statement without the fields that describe the run (its start and end).
fn without_run_fields(mut statement: Value) -> Value {
    if let Some(meta) = statement["predicate"]["runDetails"]
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
    {
        meta.remove("startedOn");
        meta.remove("finishedOn");
    }
    statement
}

/// `verify REF --key PUB --json` from `dir`: it passes, with provenance verified.
fn assert_verifies(dir: &Path, reference: &str, public: &Path) {
    let out = xtask(
        dir,
        &[
            "verify",
            reference,
            "--key",
            public.to_str().unwrap(),
            "--json",
        ],
        &[],
    );
    assert_ok(&out);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["ok"], true, "{doc}");
    assert!(doc["verified_provenance"].as_u64().unwrap() >= 1, "{doc}");
}

/// Empties the registry's storage: the same registry (host, CA) holds nothing any more.
fn empty_registry(registry: &Registry) {
    let storage = registry.storage();
    std::fs::remove_dir_all(&storage).unwrap();
    std::fs::create_dir_all(&storage).unwrap();
    assert!(registry.tags("acme/web").is_empty());
}

/// What a release of the origin commit published, read back from the registry.
struct Published {
    indexes: Vec<String>,
    compose: String,
    statements: Vec<Vec<(String, Value)>>,
    /// Per image, the statements about each platform manifest.
    platforms: Vec<Vec<(String, Value)>>,
}

fn published(registry: &Registry) -> Published {
    let repos = ["acme/web", "acme/worker"];
    for repo in repos.iter().chain(&["acme/stack-oci"]) {
        assert_eq!(registry.tags(repo), TAGS.to_vec(), "{repo}");
    }
    // Per platform manifest too (`provenance-per-platform`), without the run's times.
    let platforms = repos
        .iter()
        .map(|r| {
            let index = raw_json(registry, &format!("{r}:v1.2.3"));
            index["manifests"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|m| statements_of(registry, r, m["digest"].as_str().unwrap()))
                .map(|(k, v)| (k, without_run_fields(v)))
                .collect()
        })
        .collect();
    Published {
        indexes: repos.iter().map(|r| index_digest(registry, r)).collect(),
        compose: index_digest(registry, "acme/stack-oci"),
        statements: repos.iter().map(|r| statements(registry, r)).collect(),
        platforms,
    }
}

#[test]
fn matrix_jobs_and_merge_publish_what_a_single_job_release_does() {
    if !have_all(&["docker-registry", "openssl", "skopeo", "busybox", "syft"]) {
        return;
    }
    let registry = Registry::tls();
    let host = registry.host.clone();
    let origin = origin_with(&registry, "provenance-per-platform = true");
    let keys = tempfile::tempdir().unwrap();
    let (pem, public) = key_pair(keys.path());
    let signing = [("STEVEDORE_SIGNING_KEY", pem.as_str())];

    // The single job, in its own clone.
    let single = clone(&origin);
    let out = xtask(single.path(), &["release"], &signing);
    assert_ok(&out);
    for image in ["web", "worker"] {
        assert_verifies(
            single.path(),
            &format!("{host}/acme/{image}:v1.2.3"),
            &public,
        );
    }
    let one = published(&registry);
    empty_registry(&registry);

    // The matrix: a job per platform, each in its own clone, then merge in a third.
    let amd64 = matrix_job(&origin, PLATFORMS[0]);
    let arm64 = matrix_job(&origin, PLATFORMS[1]);
    assert!(registry.tags("acme/web").is_empty(), "the jobs move no tag");
    let merger = clone(&origin);
    let files = collect_job_files(
        &[(&amd64, PLATFORMS[0]), (&arm64, PLATFORMS[1])],
        &merger.path().join("target/stevedore/digests"),
    );
    let out = run_merge(merger.path(), &files, &signing);
    assert_ok(&out);
    let text = output_text(&out);
    assert!(
        !text.contains("SBOM by syft"),
        "merge does not scan: {text}"
    );
    let merged = published(&registry);

    assert_eq!(merged.indexes, one.indexes, "the same index digests");
    assert_eq!(merged.compose, one.compose, "the same compose artifact");
    for (image, (m, s)) in ["web", "worker"]
        .iter()
        .zip(merged.statements.iter().zip(&one.statements))
    {
        assert_verifies(
            merger.path(),
            &format!("{host}/acme/{image}:v1.2.3"),
            &public,
        );
        let kinds: Vec<&str> = m.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "https://slsa.dev/provenance/v1",
                "https://spdx.dev/Document"
            ],
            "{image}: a provenance statement and an SBOM"
        );
        // The SBOM is the one the single job made; provenance differs only in the run's times.
        assert_eq!(m[1].1, s[1].1, "{image}: the same SBOM");
        let text = m[1].1["predicate"].to_string();
        assert!(text.contains("Tool: syft-"), "{image}: syft's SBOM: {text}");
        assert_eq!(
            without_run_fields(m[0].1.clone()),
            without_run_fields(s[0].1.clone()),
            "{image}: the same provenance but for the run's times"
        );
    }

    for platforms in &merged.platforms {
        // A provenance statement and an SBOM per platform manifest.
        assert_eq!(platforms.len(), 2 * PLATFORMS.len(), "{platforms:?}");
    }
    assert_eq!(
        merged.platforms, one.platforms,
        "per platform: the same statements"
    );

    // docker-compose resolves the compose artifact to the merged digests.
    if !have_all(&["docker-compose"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("docker-compose");
    cmd.args([
        "-f",
        &format!("oci://{host}/acme/stack-oci:v1.2.3"),
        "config",
    ])
    .current_dir(dir.path())
    .env("SSL_CERT_FILE", registry.ca_file.as_ref().unwrap())
    .env("DOCKER_CONFIG", dir.path().join("docker-config"))
    .env("XDG_CACHE_HOME", dir.path().join("cache"))
    .env("HOME", dir.path())
    .env_remove("DOCKER_HOST");
    let config = run_limited(cmd, Duration::from_secs(240));
    assert_ok(&config);
    let text = output_text(&config);
    for (image, digest) in ["web", "worker"].iter().zip(&merged.indexes) {
        assert!(
            text.contains(&format!("image: {host}/acme/{image}:v1.2.3@{digest}")),
            "{text}"
        );
    }
}

/// Edits the JSON file `path` with `edit`.
fn edit_json(path: &Path, edit: impl FnOnce(&mut Value)) {
    let mut doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    edit(&mut doc);
    std::fs::write(path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
}

/// `merge` fails, naming `file` and the fix, and no tag moved.
#[track_caller]
fn assert_refused(out: &Output, file: &Path, why: &str, registry: &Registry) {
    let text = output_text(out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&file.display().to_string()),
        "names {file:?}: {text}"
    );
    assert!(text.contains(why), "says {why:?}: {text}");
    assert!(text.contains("push --by-digest"), "says the fix: {text}");
    assert!(!text.contains("panicked"), "{text}");
    assert!(registry.tags("acme/web").is_empty(), "no tag moved");
}

#[test]
fn tampered_foreign_or_oversized_digest_files_and_a_missing_manifest_move_no_tag() {
    if !have_all(&["docker-registry", "busybox", "skopeo", "syft"]) {
        return;
    }
    let registry = Registry::plain();
    let origin = origin(&registry);
    let jobs: Vec<_> = PLATFORMS.iter().map(|p| matrix_job(&origin, p)).collect();
    let merger = clone(&origin);
    let dir = merger.path().join("target/stevedore/digests");
    let collect = || collect_job_files(&[(&jobs[0], PLATFORMS[0]), (&jobs[1], PLATFORMS[1])], &dir);
    let refused = |edit: &dyn Fn(&mut Value), why: &str| {
        let files = collect();
        edit_json(&files[0], edit);
        let out = run_merge(merger.path(), &files, &[]);
        assert_refused(&out, &files[0], why, &registry);
    };

    // A digest file naming another manifest than its job built.
    refused(
        &|d| d["images"]["web"][0]["digest"] = Value::from(format!("sha256:{}", "ab".repeat(32))),
        "is not a manifest its job record describes",
    );
    // A job record whose manifest bytes do not hash to the digest.
    refused(
        &|d| {
            let m = &mut d["job"]["images"]["web"][0]["manifest_json"];
            *m = Value::from(m.as_str().unwrap().replacen('{', "{ ", 1));
        },
        "do not hash to",
    );
    // An SBOM changed after the job made it.
    refused(
        &|d| {
            let s = &mut d["job"]["images"]["web"][0]["sbom"]["spdx_json"];
            *s = Value::from(s.as_str().unwrap().replacen("busybox", "busyb0x", 1));
        },
        "does not match its recorded size and digest",
    );
    // An image name that is a path out of anywhere, not an image of the config.
    refused(
        &|d| {
            let images = d["images"].as_object_mut().unwrap();
            let web = images.remove("web").unwrap();
            images.insert("../../../etc/web".into(), web);
        },
        "which this config does not release",
    );
    // A key this stevedore does not know.
    refused(
        &|d| d["job"]["signed_by"] = Value::from("me"),
        "unknown field",
    );
    // A digest file without a job record (an older stevedore's).
    refused(
        &|d| {
            d.as_object_mut().unwrap().remove("job");
        },
        "has no job record",
    );
    // An oversized digest file is not read.
    let files = collect();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&files[1])
        .unwrap()
        .set_len(200 << 20)
        .unwrap();
    let out = run_merge(merger.path(), &files, &[]);
    assert_refused(&out, &files[1], "larger than 128 MiB", &registry);

    // A platform manifest gone from the registry: nothing is tagged, not the other image, not
    // the compose artifact (their tags move in the same last step).
    let files = collect();
    let file: Value = serde_json::from_slice(&std::fs::read(&files[1]).unwrap()).unwrap();
    let arm64 = file["images"]["worker"][0]["digest"].as_str().unwrap();
    let path = format!("/v2/acme/worker/manifests/{arm64}");
    assert_eq!(http_status(&registry.host, "DELETE", &path).unwrap(), 202);
    let out = run_merge(merger.path(), &files, &[]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(arm64) && text.contains("push --by-digest"),
        "{text}"
    );
    for repo in ["acme/web", "acme/worker", "acme/stack-oci"] {
        assert!(registry.tags(repo).is_empty(), "{repo}: no tag moved");
    }

    // The arm64 job pushes again; untouched, the same files merge.
    let out = xtask(
        jobs[1].path(),
        &[
            "push",
            "--by-digest",
            "--digest-file",
            &format!("target/stevedore/{}.json", digest_name(PLATFORMS[1])),
        ],
        &[],
    );
    assert_ok(&out);
    let files = collect();
    assert_ok(&run_merge(merger.path(), &files, &[]));
    for repo in ["acme/web", "acme/worker", "acme/stack-oci"] {
        assert_eq!(registry.tags(repo), TAGS.to_vec(), "{repo}");
    }
}

/// The in-index form of `repo:v1.2.3`: the runnable platform manifests, and per platform the
/// statements of its attestation manifest (by predicate type, the run's times left out).
fn in_index(registry: &Registry, repo: &str) -> (Vec<Value>, Vec<Vec<(String, Value)>>) {
    let index = raw_json(registry, &format!("{repo}:v1.2.3"));
    let (mut runnable, mut attested) = (Vec::new(), Vec::new());
    for m in index["manifests"].as_array().unwrap() {
        if m["platform"]["os"] != "unknown" {
            runnable.push(m.clone());
            continue;
        }
        let manifest = raw_json(
            registry,
            &format!("{repo}@{}", m["digest"].as_str().unwrap()),
        );
        let mut statements: Vec<(String, Value)> = manifest["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let s: Value =
                    serde_json::from_slice(&blob(registry, l["digest"].as_str().unwrap())).unwrap();
                (
                    s["predicateType"].as_str().unwrap().to_string(),
                    without_run_fields(s),
                )
            })
            .collect();
        statements.sort_by(|a, b| a.0.cmp(&b.0));
        attested.push(statements);
    }
    (runnable, attested)
}

#[test]
fn in_index_attestations_of_a_merge_are_the_single_jobs_but_for_the_run_times() {
    if !have_all(&["docker-registry", "busybox", "skopeo", "syft"]) {
        return;
    }
    let registry = Registry::plain();
    let origin = origin_with(&registry, "provenance = \"index\"");
    let single = clone(&origin);
    assert_ok(&xtask(single.path(), &["release"], &[]));
    let one = in_index(&registry, "acme/web");
    let one_compose = index_digest(&registry, "acme/stack-oci");
    empty_registry(&registry);

    let jobs: Vec<_> = PLATFORMS.iter().map(|p| matrix_job(&origin, p)).collect();
    let merger = clone(&origin);
    let files = collect_job_files(
        &[(&jobs[0], PLATFORMS[0]), (&jobs[1], PLATFORMS[1])],
        &merger.path().join("target/stevedore/digests"),
    );
    assert_ok(&run_merge(merger.path(), &files, &[]));
    let merged = in_index(&registry, "acme/web");
    assert_eq!(
        merged.0, one.0,
        "the same platform manifests, in the same order"
    );
    assert_eq!(
        merged.1.len(),
        PLATFORMS.len(),
        "an attestation manifest per platform"
    );
    for statements in &merged.1 {
        let kinds: Vec<&str> = statements.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "https://slsa.dev/provenance/v1",
                "https://spdx.dev/Document"
            ]
        );
    }
    assert_eq!(
        merged.1, one.1,
        "the same statements but for the run's times"
    );
    assert_eq!(registry.tags("acme/web"), TAGS.to_vec());
    // The compose artifact pins the index with its attestations: a new digest, in the same
    // tag step.
    let compose = raw_json(&registry, "acme/stack-oci:v1.2.3");
    let text: String = compose["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            String::from_utf8_lossy(&blob(&registry, l["digest"].as_str().unwrap())).into_owned()
        })
        .collect();
    let web = index_digest(&registry, "acme/web");
    assert!(text.contains(&web), "pinned to {web}: {text}");
    assert_ne!(index_digest(&registry, "acme/stack-oci"), one_compose);
}
