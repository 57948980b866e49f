//! Provenance and SBOMs, found where standard tools look on a registry without the referrers
//! API (CNCF distribution): the `sha256-<hex>` fallback tag. Signatures check with Python
//! `cryptography` and the public key alone; `cargo xtask verify` fails on a tampered blob or
//! another key; `provenance = "index"` writes BuildKit's in-index form.

mod support;

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use support::*;

const SECRET_ARG: &str = "tok-5ecret-bu1ld-arg";

/// A workspace whose image `hello` is a `cargo-bin` binary linking `itoa` (a crates.io crate
/// already in this repository's lock file, so no download is needed).
fn rust_workspace(registry: &Registry, extra: &str) -> Workspace {
    let config = ReleaseToml::new("hello")
        .registries([format!("{}/att", registry.host)])
        .tags(["type=semver,pattern=v{{version}}"])
        .strings("secret-build-args", ["API_TOKEN"])
        .lines(extra)
        .image(
            "hello",
            &format!(
                "native = {{ cargo-bin = \"hello\" }}\nbuild-args = {{ API_TOKEN = {} }}",
                toml_str(SECRET_ARG)
            ),
        )
        .build();
    let cargo_toml = "[package]\nname = \"hello\"\nversion = \"0.1.0\"\nedition = \"2021\"\nlicense = \"MIT\"\n\n\
                      [dependencies]\nitoa = \"=1.0.19\"\n\n[workspace]\n";
    let main_rs = "fn main() { println!(\"{}\", itoa::Buffer::new().format(42)); }\n";
    let repo = Repo::init();
    repo.write("images/release.toml", config);
    repo.write("Cargo.toml", cargo_toml);
    repo.write("src/main.rs", main_rs);
    repo.write(".gitignore", "target/\n");
    let lock = Command::new("cargo")
        .args(["generate-lockfile", "--offline"])
        .current_dir(repo.path())
        .output()
        .unwrap();
    assert!(lock.status.success(), "cargo generate-lockfile: {lock:?}");
    repo.commit("hello");
    repo.git(&["tag", "v1.2.3"]);
    Workspace { repo }
}

/// An ECDSA P-256 key pair made by openssl: `(private PKCS#8 PEM path, public PEM path)`.
fn key_pair(dir: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let private = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub.pem"));
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    };
    run(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        private.to_str().unwrap(),
    ]);
    run(&[
        "pkey",
        "-in",
        private.to_str().unwrap(),
        "-pubout",
        "-out",
        public.to_str().unwrap(),
    ]);
    (private, public)
}

fn raw(registry: &Registry, reference: &str) -> serde_json::Value {
    serde_json::from_slice(
        &registry
            .inspect_raw(reference)
            .unwrap_or_else(|| panic!("{reference} is not in the registry")),
    )
    .unwrap()
}

/// The file of blob `digest` in the registry's storage.
fn blob_path(registry: &Registry, digest: &str) -> std::path::PathBuf {
    let hex = digest.trim_start_matches("sha256:");
    registry
        .storage()
        .join("docker/registry/v2/blobs/sha256")
        .join(&hex[..2])
        .join(hex)
        .join("data")
}

/// The statement a referrer layer holds (a Sigstore bundle's DSSE payload, or the statement).
fn statement_of(layer: &[u8]) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_slice(layer).unwrap();
    match v["dsseEnvelope"]["payload"].as_str() {
        Some(p) => {
            serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(p).unwrap())
                .unwrap()
        }
        None => v,
    }
}

#[test]
fn signed_provenance_and_sbom_are_found_through_the_fallback_tag_and_verified() {
    if !have_all(&["docker-registry", "skopeo", "openssl", "python3"]) {
        return;
    }
    let registry = Registry::plain();
    let ws = rust_workspace(&registry, "");
    let keys = tempfile::tempdir().unwrap();
    let (private, public) = key_pair(keys.path(), "signer");
    let (_, other_public) = key_pair(keys.path(), "other");
    let pem = std::fs::read_to_string(&private).unwrap();
    let out = ws.xtask(&["-v", "release"], &[("STEVEDORE_SIGNING_KEY", &pem)]);
    assert_ok(&out);
    let text = output_text(&out);
    let key_body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(!text.contains(&key_body[..40]), "the signing key leaked");
    assert!(
        !text.contains(SECRET_ARG),
        "a secret build arg leaked: {text}"
    );

    for cmd in [&["plan", "--json"][..], &["plan"][..]] {
        let plan = output_text(&ws.xtask(cmd, &[]));
        assert!(
            !plan.contains(SECRET_ARG),
            "{cmd:?} shows a secret build arg: {plan}"
        );
        assert!(plan.contains("<secret>"), "{plan}");
    }
    let index_bytes = registry.inspect_raw("att/hello:v1.2.3").unwrap();
    let index_digest = xtask::oci::Digest::of(&index_bytes);
    let fallback = raw(
        &registry,
        &format!("att/hello:sha256-{}", index_digest.hex()),
    );
    let entries = fallback["manifests"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 2, "provenance and SBOM: {fallback}");
    let head = ws.head();
    let mut seen = Vec::new();
    for e in &entries {
        assert_eq!(
            e["artifactType"],
            "application/vnd.dev.sigstore.bundle.v0.3+json"
        );
        let m = raw(
            &registry,
            &format!("att/hello@{}", e["digest"].as_str().unwrap()),
        );
        assert_eq!(m["subject"]["digest"], index_digest.to_string());
        let layer_digest = m["layers"][0]["digest"].as_str().unwrap();
        let layer = std::fs::read(blob_path(&registry, layer_digest)).unwrap();
        assert!(!String::from_utf8_lossy(&layer).contains(SECRET_ARG));
        let bundle = keys.path().join(format!("{}.json", seen.len()));
        std::fs::write(&bundle, &layer).unwrap();
        // An independent check: Python `cryptography` with the public key alone.
        let py = Command::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/verify_dsse.py"))
            .arg(&bundle)
            .arg(&public)
            .output()
            .unwrap();
        assert!(py.status.success(), "verify_dsse.py: {}", output_text(&py));
        let statement = statement_of(&layer);
        assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
        assert_eq!(
            statement["subject"][0]["digest"]["sha256"],
            index_digest.hex()
        );
        let predicate_type = statement["predicateType"].as_str().unwrap().to_string();
        if predicate_type == "https://slsa.dev/provenance/v1" {
            let deps = statement["predicate"]["buildDefinition"]["resolvedDependencies"]
                .as_array()
                .unwrap();
            assert!(
                deps.iter()
                    .any(|d| d["digest"]["gitCommit"] == head.as_str()),
                "{statement}"
            );
        } else {
            assert_eq!(predicate_type, "https://spdx.dev/Document");
            let text = statement["predicate"].to_string();
            assert!(text.contains("pkg:cargo/itoa@1.0.19"), "{text}");
            // An independent check: the SPDX document validates with PyPI spdx-tools.
            if have_all(&["pyspdxtools"]) {
                support::assert_spdx_validates(keys.path(), &text);
            }
        }
        seen.push(predicate_type);
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "https://slsa.dev/provenance/v1",
            "https://spdx.dev/Document"
        ]
    );

    let reference = format!("{}/att/hello:v1.2.3", registry.host);
    let pub_s = public.display().to_string();
    let out = ws.xtask(&["verify", &reference, "--key", &pub_s], &[]);
    assert_ok(&out);
    assert!(output_text(&out).contains("fallback tag"));
    let other_s = other_public.display().to_string();
    let out = ws.xtask(&["verify", &reference, "--key", &other_s], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));

    // A re-run of the same release adds no entry to the fallback index.
    let out = ws.xtask(&["release"], &[("STEVEDORE_SIGNING_KEY", &pem)]);
    assert_ok(&out);
    let again = raw(
        &registry,
        &format!("att/hello:sha256-{}", index_digest.hex()),
    );
    assert_eq!(again["manifests"], fallback["manifests"]);

    // One byte of the provenance bundle changed in the registry's storage: verify fails.
    let provenance = entries
        .iter()
        .find(|e| {
            e["annotations"]["dev.sigstore.bundle.predicateType"]
                == "https://slsa.dev/provenance/v1"
        })
        .unwrap();
    let m = raw(
        &registry,
        &format!("att/hello@{}", provenance["digest"].as_str().unwrap()),
    );
    let path = blob_path(&registry, m["layers"][0]["digest"].as_str().unwrap());
    let mut bytes = std::fs::read(&path).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let out = ws.xtask(&["verify", &reference, "--key", &pub_s], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
}

#[test]
fn index_form_adds_one_attestation_manifest_per_platform() {
    if !have_all(&["docker-registry", "skopeo"]) {
        return;
    }
    let registry = Registry::plain();
    let ws = Workspace::new(
        &[format!("{}/att", registry.host)],
        &["app"],
        "provenance = \"index\"",
    );
    let out = ws.xtask(&["release"], &[]);
    assert_ok(&out);
    let index = raw(&registry, "att/app:v1.2.3");
    let entries = index["manifests"].as_array().unwrap();
    let runnable: Vec<&serde_json::Value> = entries
        .iter()
        .filter(|e| e["platform"]["architecture"] != "unknown")
        .collect();
    let attestations: Vec<&serde_json::Value> = entries
        .iter()
        .filter(|e| e["platform"]["architecture"] == "unknown")
        .collect();
    let platforms: Vec<&str> = runnable
        .iter()
        .map(|e| e["platform"]["architecture"].as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["amd64", "arm64"]);
    assert_eq!(attestations.len(), 2);
    for a in attestations {
        assert_eq!(a["platform"]["os"], "unknown");
        assert_eq!(
            a["annotations"]["vnd.docker.reference.type"],
            "attestation-manifest"
        );
        let target = a["annotations"]["vnd.docker.reference.digest"]
            .as_str()
            .unwrap();
        assert!(
            runnable.iter().any(|r| r["digest"] == target),
            "{target} is one of the platform manifests"
        );
    }
    let reference = format!("{}/att/app:v1.2.3", registry.host);
    let out = ws.xtask(&["verify", &reference], &[]);
    assert_ok(&out);
    assert!(output_text(&out).contains("image index"));
}

/// `sha256:<hex>` of bytes.
fn digest_of(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{:x}", sha2::Sha256::digest(bytes))
}

/// PUTs `doc` as a manifest of `repo` under `reference` (a tag or its digest) on a plain
/// registry, as anyone with push access can.
fn put_manifest(registry: &Registry, repo: &str, reference: &str, doc: &serde_json::Value) {
    let bytes = serde_json::to_vec(doc).unwrap();
    let media = doc["mediaType"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("manifest.json");
    std::fs::write(&file, &bytes).unwrap();
    let out = Command::new("curl")
        .args(["-sS", "--fail-with-body", "-X", "PUT", "-H"])
        .arg(format!("Content-Type: {media}"))
        .arg("--data-binary")
        .arg(format!("@{}", file.display()))
        .arg(format!(
            "http://{}/v2/{repo}/manifests/{reference}",
            registry.host
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "PUT {repo}:{reference}: {out:?}");
}

/// `verify ARGS` run from a directory that is no workspace (no config, no git).
fn verify_outside(args: &[&str]) -> std::process::Output {
    let elsewhere = tempfile::tempdir().unwrap();
    let mut cmd = xtask_command(elsewhere.path(), &["verify"], &[]);
    cmd.args(args).current_dir(elsewhere.path());
    run_limited(cmd, std::time::Duration::from_secs(120))
}

/// [`rust_workspace`] released with a fresh signing key: the workspace, the key directory
/// (kept alive), the public key's path and the digest of `att/hello:v1.2.3`.
fn signed_release(
    registry: &Registry,
) -> (Workspace, tempfile::TempDir, std::path::PathBuf, String) {
    let ws = rust_workspace(registry, "");
    let keys = tempfile::tempdir().unwrap();
    let (private, public) = key_pair(keys.path(), "signer");
    let pem = std::fs::read_to_string(&private).unwrap();
    let out = ws.xtask(&["release"], &[("STEVEDORE_SIGNING_KEY", &pem)]);
    assert_ok(&out);
    let digest = digest_of(&registry.inspect_raw("att/hello:v1.2.3").unwrap());
    (ws, keys, public, digest)
}

/// Image A is released and signed; image B (a later commit) is released unsigned, in the same
/// repository. An attacker with push access copies A's signed attestations into B's
/// `sha256-<B>` fallback index, annotated as being about A, and then with a fresh manifest
/// whose `subject` is B. `verify B --key --source-repo` fails both times, naming the subject.
#[test]
fn replayed_attestations_of_another_image_do_not_verify() {
    if !have_all(&["docker-registry", "skopeo", "openssl", "curl"]) {
        return;
    }
    let registry = Registry::plain();
    let (ws, _keys, public, a) = signed_release(&registry);
    let a_fallback = raw(
        &registry,
        &format!("att/hello:sha256-{}", a.trim_start_matches("sha256:")),
    );
    let slsa_entry = a_fallback["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["annotations"]["dev.sigstore.bundle.predicateType"]
                == "https://slsa.dev/provenance/v1"
        })
        .expect("a provenance entry")
        .clone();
    let provenance: serde_json::Value = raw(
        &registry,
        &format!("att/hello@{}", slsa_entry["digest"].as_str().unwrap()),
    );
    let statement = statement_of(
        &std::fs::read(blob_path(
            &registry,
            provenance["layers"][0]["digest"].as_str().unwrap(),
        ))
        .unwrap(),
    );
    let source_repo = statement["predicate"]["buildDefinition"]["externalParameters"]["source"]
        ["repository"]
        .as_str()
        .unwrap()
        .to_string();
    let pub_s = public.display().to_string();
    let a_ref = format!("{}/att/hello@{a}", registry.host);
    // The genuine image verifies, from a directory that is no workspace.
    let out = verify_outside(&[&a_ref, "--key", &pub_s, "--source-repo", &source_repo]);
    assert_ok(&out);

    ws.write("src/main.rs", "fn main() { println!(\"malware\"); }\n");
    ws.commit("B");
    ws.git(&["tag", "v1.2.4"]);
    let out = ws.xtask(&["release"], &[]);
    assert_ok(&out);
    let b = digest_of(&registry.inspect_raw("att/hello:v1.2.4").unwrap());
    assert_ne!(a, b);
    let b_ref = format!("{}/att/hello@{b}", registry.host);
    let b_tag = format!("sha256-{}", b.trim_start_matches("sha256:"));

    // 1. A's entries, annotated as being about A, in B's fallback index.
    let mut replay = a_fallback.clone();
    for e in replay["manifests"].as_array_mut().unwrap() {
        e["annotations"]["vnd.docker.reference.digest"] = a.clone().into();
    }
    put_manifest(&registry, "att/hello", &b_tag, &replay);
    let out = verify_outside(&[&b_ref, "--key", &pub_s, "--source-repo", &source_repo]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL statement subject"), "{text}");
    assert!(text.contains("is not verified"), "{text}");

    // 2. A fresh referrer manifest of B carrying A's signed layers.
    let mut forged = provenance.clone();
    forged["subject"] = serde_json::json!({
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": b,
        "size": registry.inspect_raw("att/hello:v1.2.4").unwrap().len(),
    });
    let forged_digest = digest_of(&serde_json::to_vec(&forged).unwrap());
    put_manifest(&registry, "att/hello", &forged_digest, &forged);
    let mut entry = slsa_entry.clone();
    entry["digest"] = forged_digest.clone().into();
    entry["size"] = serde_json::to_vec(&forged).unwrap().len().into();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [entry],
    });
    put_manifest(&registry, "att/hello", &b_tag, &index);
    let out = verify_outside(&[&b_ref, "--key", &pub_s, "--source-repo", &source_repo]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("ok   manifest subject"), "{text}");
    assert!(text.contains("FAIL statement subject"), "{text}");
}

/// The signed SBOM of an image stays in its fallback index, the provenance entry is dropped,
/// and the SBOM entry is relabelled as SLSA provenance: `verify --key --source-repo` of another
/// repository fails, since no verified Statement is SLSA provenance naming it.
#[test]
fn a_relabelled_sbom_does_not_stand_in_for_provenance() {
    if !have_all(&["docker-registry", "skopeo", "openssl", "curl"]) {
        return;
    }
    let registry = Registry::plain();
    let (_ws, _keys, public, a) = signed_release(&registry);
    let tag = format!("sha256-{}", a.trim_start_matches("sha256:"));
    let fallback = raw(&registry, &format!("att/hello:{tag}"));
    let slsa = "https://slsa.dev/provenance/v1";
    let mut sbom = fallback["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["annotations"]["dev.sigstore.bundle.predicateType"] != slsa)
        .expect("an SBOM entry")
        .clone();
    sbom["annotations"]["dev.sigstore.bundle.predicateType"] = slsa.into();
    sbom["annotations"]["in-toto.io/predicate-type"] = slsa.into();
    let relabelled = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [sbom],
    });
    put_manifest(&registry, "att/hello", &tag, &relabelled);
    let reference = format!("{}/att/hello@{a}", registry.host);
    let pub_s = public.display().to_string();
    let out = verify_outside(&[
        &reference,
        "--key",
        &pub_s,
        "--source-repo",
        "https://github.com/someone/else",
    ]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("https://spdx.dev/Document"), "{text}");
    assert!(
        text.contains("no SLSA provenance about this digest"),
        "{text}"
    );
    // Without --source-repo too: an SBOM is no provenance. The JSON says why, per statement.
    let out = verify_outside(&[&reference, "--key", &pub_s, "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["digest"], a.as_str());
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["verified_provenance"], 0);
    let statement = &doc["attestations"][0]["statements"][0];
    assert_eq!(statement["predicate_type"], "https://spdx.dev/Document");
    assert_eq!(statement["ok"], true, "the SBOM itself is genuine: {doc}");
    assert_eq!(statement["provenance"], false);
}

/// A signing key with `provenance = "index"` (whose BuildKit form is unsigned) is refused
/// before anything is built, with the fix.
#[test]
fn a_signing_key_with_in_index_provenance_is_refused() {
    let registry_host = "127.0.0.1:9";
    let ws = Workspace::new(
        &[format!("{registry_host}/att")],
        &["app"],
        "provenance = \"index\"",
    );
    let keys = tempfile::tempdir().unwrap();
    let (private, _) = key_pair(keys.path(), "signer");
    let pem = std::fs::read_to_string(&private).unwrap();
    let out = ws.xtask(
        &["release", "--dry-run"],
        &[("STEVEDORE_SIGNING_KEY", &pem)],
    );
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("provenance = \"index\" cannot be signed"),
        "{text}"
    );
    assert!(text.contains("provenance = \"referrers\""), "{text}");
    assert!(!ws.path().join("target/stevedore/oci/index.json").exists());
}
