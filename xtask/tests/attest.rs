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
    let config = format!(
        "[release]\nname = \"hello\"\nregistries = [\"{}/att\"]\nplatforms = [\"linux/amd64\"]\n\
         tags = [\"type=semver,pattern=v{{{{version}}}}\"]\nsecret-build-args = [\"API_TOKEN\"]\n{extra}\n\
         [images.hello]\nnative = {{ cargo-bin = \"hello\" }}\n\
         build-args = {{ API_TOKEN = \"{SECRET_ARG}\" }}\n",
        registry.host
    );
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
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
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
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(output_text(&out).contains("fallback tag"));
    let other_s = other_public.display().to_string();
    let out = ws.xtask(&["verify", &reference, "--key", &other_s], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));

    // A re-run of the same release adds no entry to the fallback index.
    let out = ws.xtask(&["release"], &[("STEVEDORE_SIGNING_KEY", &pem)]);
    assert!(out.status.success(), "{}", output_text(&out));
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
    assert!(out.status.success(), "{}", output_text(&out));
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
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(output_text(&out).contains("image index"));
}
