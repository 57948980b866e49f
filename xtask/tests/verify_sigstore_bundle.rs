//! GitHub-native attestations: `actions/attest-build-provenance` with `push-to-registry` signs
//! a provenance keylessly (a Fulcio certificate for the workflow) and pushes the Sigstore bundle
//! as an OCI referrer of the image. Here a test CA stands in for Fulcio
//! (verify_sigstore_bundle/make_bundle.py, Python `cryptography`), the image is in a real
//! `docker-registry` (distribution 2.8: no referrers API, so the `sha256-<hex>` fallback tag),
//! and the bundle is pushed the way sigstore-js's `attachArtifactToImage` does. `verify` finds
//! it, checks the DSSE signature with the certificate's key, prints who signed, says what it
//! did not check offline, and refuses tampered, replayed, foreign-CA and wrong-signer bundles.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use support::*;
use xtask::oci::layout::Layout;

const REPO: &str = "octo/app";
const WORKFLOW: &str = "https://github.com/octo/app/.github/workflows/release.yml@refs/heads/main";
const V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const V02: &str = "application/vnd.dev.sigstore.bundle+json;version=0.2";
const SLSA: &str = "https://slsa.dev/provenance/v1";

/// Everything the tests need, or a skip naming what is missing.
fn tools() -> bool {
    if !have_all(&["docker-registry", "skopeo", "curl", "python3"]) {
        return false;
    }
    let ok = Command::new("python3")
        .args(["-c", "import cryptography"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        skipped("SKIPPED (no Python cryptography: pip install cryptography)");
    }
    ok
}

/// A one-platform image of its own (`seed`) pushed as `REPO:tag`; its digest.
fn push_image(reg: &Registry, tag: &str, seed: u64) -> String {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path()).unwrap();
    let spec = ImageSpec {
        name: "app".into(),
        platforms: vec![("linux", "amd64")],
        shared: vec![],
        own: vec![(seed, 2000)],
    };
    write_image(&layout, &spec, tag);
    let out = skopeo(
        &["copy", "--all", "--preserve-digests", "--quiet"],
        &["--dest-tls-verify=false".to_string()],
        &[
            &format!("oci:{}:app:{tag}", dir.path().display()),
            &format!("docker://{}/{REPO}:{tag}", reg.host),
        ],
    );
    assert!(out.status.success(), "skopeo copy: {}", output_text(&out));
    digest_of(&reg.inspect_raw(&format!("{REPO}:{tag}")).unwrap())
}

fn digest_of(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{:x}", sha2::Sha256::digest(bytes))
}

/// A directory for the CAs and bundles of one test.
struct Keys {
    dir: tempfile::TempDir,
}

impl Keys {
    fn new() -> Keys {
        Keys {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A bundle signed by a leaf of CA `ca` (made on first use) about `digest`.
    fn bundle(&self, ca: &str, digest: &str, version: &str, git_ref: &str) -> Vec<u8> {
        let out_file = self.dir.path().join(format!("bundle-{}.json", rand_name()));
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/verify_sigstore_bundle/make_bundle.py");
        let out = Command::new("python3")
            .arg(script)
            .arg(self.dir.path())
            .arg(ca)
            .arg(&out_file)
            .args(["--digest", digest, "--name", &format!("127.0.0.1/{REPO}")])
            .args(["--repo", REPO, "--ref", git_ref, "--version", version])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "make_bundle.py: {}",
            output_text(&out)
        );
        std::fs::read(out_file).unwrap()
    }

    /// CA `ca`'s intermediate and root, as a PEM file to trust.
    fn trusted_pem(&self, ca: &str) -> PathBuf {
        let read = |part: &str| {
            std::fs::read_to_string(self.dir.path().join(format!("{ca}-{part}.pem"))).unwrap()
        };
        let path = self.dir.path().join(format!("{ca}-trusted.pem"));
        std::fs::write(&path, read("intermediate") + &read("root")).unwrap();
        path
    }

    /// CA `ca` as Sigstore's trusted_root.json (what `gh attestation trusted-root` prints).
    fn trusted_root_json(&self, ca: &str) -> PathBuf {
        use rustls_pki_types::pem::PemObject as _;
        let pem = std::fs::read(self.trusted_pem(ca)).unwrap();
        let certs: Vec<serde_json::Value> = rustls_pki_types::CertificateDer::pem_slice_iter(&pem)
            .map(|c| {
                serde_json::json!({"rawBytes": base64::engine::general_purpose::STANDARD.encode(c.unwrap().as_ref())})
            })
            .collect();
        let doc = serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [],
            "certificateAuthorities": [{
                "subject": {"organization": "stevedore test", "commonName": ca},
                "uri": "https://fulcio.test",
                "certChain": {"certificates": certs},
                "validFor": {"start": "2020-01-01T00:00:00Z"},
            }],
            "ctlogs": [],
            "timestampAuthorities": [],
        });
        let path = self.dir.path().join(format!("{ca}-trusted_root.json"));
        std::fs::write(&path, doc.to_string() + "\n").unwrap();
        path
    }
}

fn rand_name() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::Relaxed).to_string()
}

/// `curl` against the registry; panics with its output on failure.
fn curl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-sS", "--fail-with-body"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "curl {args:?}: {}", output_text(&out));
    out.stdout
}

/// Uploads a blob (POST, then a monolithic PUT); its descriptor fields.
fn upload_blob(reg: &Registry, bytes: &[u8]) -> (String, usize) {
    let digest = digest_of(bytes);
    let headers = curl(&[
        "-i",
        "-X",
        "POST",
        &format!("http://{}/v2/{REPO}/blobs/uploads/", reg.host),
    ]);
    let headers = String::from_utf8_lossy(&headers);
    let location = headers
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("location"))
                .map(|(_, v)| v.trim().to_string())
        })
        .expect("an upload location");
    let url = if location.starts_with('/') {
        format!("http://{}{location}", reg.host)
    } else {
        location
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    curl(&[
        "-X",
        "PUT",
        "-H",
        "Content-Type: application/octet-stream",
        "--data-binary",
        &format!("@{}", file.path().display()),
        &format!("{url}{sep}digest={digest}"),
    ]);
    (digest, bytes.len())
}

/// PUTs a manifest or index under `reference`.
fn put_manifest(reg: &Registry, reference: &str, doc: &serde_json::Value) -> (String, usize) {
    let bytes = serde_json::to_vec(doc).unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &bytes).unwrap();
    curl(&[
        "-X",
        "PUT",
        "-H",
        &format!("Content-Type: {}", doc["mediaType"].as_str().unwrap()),
        "--data-binary",
        &format!("@{}", file.path().display()),
        &format!("http://{}/v2/{REPO}/manifests/{reference}", reg.host),
    ]);
    (digest_of(&bytes), bytes.len())
}

/// Attaches `bundle` to image `digest` as sigstore-js's `attachArtifactToImage` does for
/// `actions/attest`: the bundle blob and the empty config `{}`, an OCI manifest with
/// `artifactType` = the bundle's media type, the image as `subject` and the action's
/// annotations; then, since this registry answers without `OCI-Subject` (no referrers API), the
/// `sha256-<hex>` referrers index: read, the manifest appended, written back.
fn attach(reg: &Registry, digest: &str, bundle: &[u8], media_type: &str) -> String {
    let image = reg.inspect_raw(&format!("{REPO}@{digest}")).unwrap();
    let image_type = serde_json::from_slice::<serde_json::Value>(&image).unwrap()["mediaType"]
        .as_str()
        .unwrap()
        .to_string();
    let (layer, layer_size) = upload_blob(reg, bundle);
    let (config, config_size) = upload_blob(reg, b"{}");
    let annotations = serde_json::json!({
        "org.opencontainers.image.created": "2026-12-07T09:00:00.000Z",
        "dev.sigstore.bundle.content": "dsse-envelope",
        "dev.sigstore.bundle.predicateType": SLSA,
    });
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": media_type,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config, "size": config_size},
        "layers": [{"mediaType": media_type, "digest": layer, "size": layer_size}],
        "subject": {"mediaType": image_type, "digest": digest, "size": image.len()},
        "annotations": annotations,
    });
    let manifest_digest = digest_of(&serde_json::to_vec(&manifest).unwrap());
    let (manifest_digest, manifest_size) = put_manifest(reg, &manifest_digest, &manifest);
    let tag = digest.replace(':', "-");
    let mut index = reg
        .inspect_raw(&format!("{REPO}:{tag}"))
        .map(|b| serde_json::from_slice::<serde_json::Value>(&b).unwrap())
        .unwrap_or_else(|| {
            serde_json::json!({
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "schemaVersion": 2,
                "manifests": [],
            })
        });
    index["manifests"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_size,
            "artifactType": media_type,
            "annotations": annotations,
        }));
    put_manifest(reg, &tag, &index);
    manifest_digest
}

/// `verify ARGS` from a directory that is no workspace.
fn verify(args: &[&str]) -> (Output, String) {
    let elsewhere = tempfile::tempdir().unwrap();
    let mut cmd = xtask_command(elsewhere.path(), &["verify"], &[]);
    cmd.args(args).current_dir(elsewhere.path());
    let out = run_limited(cmd, std::time::Duration::from_secs(120));
    let text = output_text(&out);
    (out, text)
}

#[track_caller]
fn assert_contains(text: &str, parts: &[&str]) {
    for p in parts {
        assert!(text.contains(p), "missing {p:?} in:\n{text}");
    }
}

#[track_caller]
fn assert_fails(out: &Output, text: &str, parts: &[&str]) {
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_contains(text, parts);
}

/// A bundle edited as JSON.
fn edited(bundle: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(bundle).unwrap();
    edit(&mut v);
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn a_bundle_pushed_as_attest_build_provenance_does_verifies_and_names_its_signer() {
    if !tools() {
        return;
    }
    let reg = Registry::plain();
    let keys = Keys::new();
    let digest = push_image(&reg, "v1", 1);
    let bundle = keys.bundle("test", &digest, "0.3", "refs/heads/main");
    attach(&reg, &digest, &bundle, V03);
    let image = format!("{}/{REPO}@{digest}", reg.host);

    // Nothing required: the signature is checked and the signer shown, with what was not.
    let (out, text) = verify(&[&image]);
    assert_ok(&out);
    assert_contains(
        &text,
        &[
            "found in the fallback tag",
            &format!("signed by certificate {WORKFLOW} (not checked against a trusted root)"),
            "ok   signature: DSSE signature verifies with the certificate's ECDSA P-256 key",
            "ok   statement subject",
            &format!("  signed by certificate: {WORKFLOW}"),
            "    issuer: https://token.actions.githubusercontent.com",
            "    repository: https://github.com/octo/app",
            "    ref: refs/heads/main",
            &format!("    workflow: {WORKFLOW}"),
            "not checked: the certificate chain: no --trusted-root was given",
            "not checked: the transparency log and timestamps: the bundle's 1 Rekor entry",
            "not checked: who signed: not constrained",
        ],
    );

    // The signer required, the chain checked against the test CA (PEM, then trusted_root.json).
    let pem = keys.trusted_pem("test");
    let json = keys.trusted_root_json("test");
    for root in [&pem, &json] {
        let (out, text) = verify(&[
            &image,
            "--trusted-root",
            root.to_str().unwrap(),
            "--repo",
            REPO,
            "--certificate-identity",
            WORKFLOW,
        ]);
        assert_ok(&out);
        assert_contains(
            &text,
            &[
                "ok   certificate chain: chains to",
                "code signing, valid at its issue time",
                "ok   signer: identity",
                "repository https://github.com/octo/app, issuer https://token.actions.githubusercontent.com: as required",
                "not checked: the transparency log",
            ],
        );
        assert!(!text.contains("not constrained"), "{text}");
        assert!(!text.contains("no --trusted-root"), "{text}");
    }

    // The JSON report carries the signer and the unchecked parts.
    let (out, _) = verify(&[&image, "--trusted-root", pem.to_str().unwrap(), "--json"]);
    assert_ok(&out);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["digest"], digest.as_str());
    let statement = &doc["attestations"][0]["statements"][0];
    assert_eq!(statement["predicate_type"], SLSA);
    assert_eq!(statement["signer"]["identity"], WORKFLOW);
    assert_eq!(
        statement["signer"]["repository"],
        "https://github.com/octo/app"
    );
    assert_eq!(statement["signer"]["ref"], "refs/heads/main");
    assert_eq!(
        statement["signer"]["fulcio_extensions"]["1.3.6.1.4.1.57264.1.11 runner environment"],
        "github-hosted"
    );
    assert_eq!(statement["not_checked"].as_array().unwrap().len(), 2);
}

#[test]
fn a_v02_bundle_with_its_certificate_chain_verifies_against_the_root_alone() {
    if !tools() {
        return;
    }
    let reg = Registry::plain();
    let keys = Keys::new();
    let digest = push_image(&reg, "v1", 2);
    let bundle = keys.bundle("test", &digest, "0.2", "refs/tags/v1.0.0");
    attach(&reg, &digest, &bundle, V02);
    // The bundle carries the intermediate: the root alone is enough to trust.
    let root = keys.dir.path().join("test-root.pem");
    let (out, text) = verify(&[
        &format!("{}/{REPO}:v1", reg.host),
        "--trusted-root",
        root.to_str().unwrap(),
        "--repo",
        REPO,
    ]);
    assert_ok(&out);
    assert_contains(
        &text,
        &[
            &format!("→ {digest}"),
            "ok   certificate chain",
            "    ref: refs/tags/v1.0.0",
        ],
    );
}

#[test]
fn a_tampered_payload_or_signature_is_rejected() {
    if !tools() {
        return;
    }
    let reg = Registry::plain();
    let keys = Keys::new();
    let b64 = base64::engine::general_purpose::STANDARD;

    // The Statement changed after signing (still about this image: only the ref differs).
    let digest = push_image(&reg, "payload", 3);
    let bundle = edited(
        &keys.bundle("test", &digest, "0.3", "refs/heads/main"),
        |v| {
            let p = b64
                .decode(v["dsseEnvelope"]["payload"].as_str().unwrap())
                .unwrap();
            let text = String::from_utf8(p)
                .unwrap()
                .replace("refs/heads/main", "refs/heads/evil");
            v["dsseEnvelope"]["payload"] = b64.encode(text).into();
        },
    );
    attach(&reg, &digest, &bundle, V03);
    let (out, text) = verify(&[&format!("{}/{REPO}@{digest}", reg.host)]);
    assert_fails(
        &out,
        &text,
        &[
            "FAIL signature: no signature of the DSSE envelope verifies with the public key of the bundle's certificate",
            "fix: the attestation was changed after it was signed",
            "is not verified",
        ],
    );

    // One bit of the signature flipped.
    let digest = push_image(&reg, "signature", 4);
    let bundle = edited(
        &keys.bundle("test", &digest, "0.3", "refs/heads/main"),
        |v| {
            let mut s = b64
                .decode(v["dsseEnvelope"]["signatures"][0]["sig"].as_str().unwrap())
                .unwrap();
            let mid = s.len() / 2;
            s[mid] ^= 0x01;
            v["dsseEnvelope"]["signatures"][0]["sig"] = b64.encode(s).into();
        },
    );
    attach(&reg, &digest, &bundle, V03);
    let pem = keys.trusted_pem("test");
    let (out, text) = verify(&[
        &format!("{}/{REPO}@{digest}", reg.host),
        "--trusted-root",
        pem.to_str().unwrap(),
    ]);
    assert_fails(
        &out,
        &text,
        &["FAIL signature: no signature", "is not verified"],
    );
}

#[test]
fn a_bundle_about_another_image_is_rejected() {
    if !tools() {
        return;
    }
    let reg = Registry::plain();
    let keys = Keys::new();
    let genuine = push_image(&reg, "genuine", 5);
    let other = push_image(&reg, "other", 6);
    // A's genuine signed bundle, attached to B by someone with push access.
    let bundle = keys.bundle("test", &genuine, "0.3", "refs/heads/main");
    attach(&reg, &other, &bundle, V03);
    let pem = keys.trusted_pem("test");
    let (out, text) = verify(&[
        &format!("{}/{REPO}@{other}", reg.host),
        "--trusted-root",
        pem.to_str().unwrap(),
        "--repo",
        REPO,
    ]);
    assert_fails(
        &out,
        &text,
        &[
            "ok   manifest subject",
            "ok   signature",
            "FAIL statement subject",
            genuine.trim_start_matches("sha256:"),
            "no SLSA provenance about this digest",
        ],
    );
}

#[test]
fn a_certificate_from_another_ca_is_rejected_under_a_trusted_root() {
    if !tools() {
        return;
    }
    let reg = Registry::plain();
    let keys = Keys::new();
    let digest = push_image(&reg, "v1", 7);
    keys.bundle("test", &digest, "0.3", "refs/heads/main"); // makes the trusted CA
    let forged = keys.bundle("impostor", &digest, "0.3", "refs/heads/main");
    attach(&reg, &digest, &forged, V03);
    let image = format!("{}/{REPO}@{digest}", reg.host);
    // Unconstrained, it verifies, and says plainly that the chain was not checked.
    let (out, text) = verify(&[&image]);
    assert_ok(&out);
    assert_contains(&text, &["not checked: the certificate chain"]);
    // With the trusted root, it does not.
    let pem = keys.trusted_pem("test");
    let (out, text) = verify(&[&image, "--trusted-root", pem.to_str().unwrap()]);
    assert_fails(
        &out,
        &text,
        &[
            "FAIL certificate chain: the certificate does not chain to any CA of the trusted root",
            "fix: give the root of the CA that issued it with --trusted-root",
            "signed by a certificate from",
        ],
    );
    // And a required signer cannot be met by it either.
    let (out, text) = verify(&[
        &image,
        "--trusted-root",
        pem.to_str().unwrap(),
        "--repo",
        REPO,
    ]);
    assert_fails(&out, &text, &["FAIL certificate chain", "FAIL signer"]);
}

#[test]
fn a_signer_other_than_the_one_required_is_rejected() {
    if !tools() {
        return;
    }
    let reg = Registry::plain();
    let keys = Keys::new();
    let digest = push_image(&reg, "v1", 8);
    attach(
        &reg,
        &digest,
        &keys.bundle("test", &digest, "0.3", "refs/heads/main"),
        V03,
    );
    let image = format!("{}/{REPO}@{digest}", reg.host);
    let pem = keys.trusted_pem("test");
    let root = pem.to_str().unwrap();
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--trusted-root", root, "--repo", "someone/else"],
            &[
                "FAIL signer: repository https://github.com/someone/else required, the certificate names https://github.com/octo/app",
                "fix: this image was attested by someone else",
            ],
        ),
        (
            &[
                "--trusted-root",
                root,
                "--certificate-identity",
                "https://github.com/octo/app/.github/workflows/other.yml@refs/heads/main",
            ],
            &["FAIL signer: identity https://github.com/octo/app/.github/workflows/other.yml@refs/heads/main required"],
        ),
        (
            &["--trusted-root", root, "--certificate-oidc-issuer", "https://gitlab.com"],
            &["FAIL signer: issuer https://gitlab.com required, the certificate names https://token.actions.githubusercontent.com"],
        ),
        // A signer required without a trusted root: the certificate proves nothing.
        (
            &["--repo", REPO],
            &[
                "FAIL signer: repository https://github.com/octo/app, issuer https://token.actions.githubusercontent.com required, but the certificate is not checked against a trusted root",
                "fix: give --trusted-root FILE",
            ],
        ),
    ];
    for (flags, want) in cases {
        let mut args = vec![image.as_str()];
        args.extend_from_slice(flags);
        let (out, text) = verify(&args);
        assert_fails(&out, &text, want);
        assert_contains(&text, &["is not verified"]);
    }
}

#[test]
fn bad_keyless_flags_are_refused_naming_the_flag_and_the_fix() {
    let missing = "/nonexistent/trusted_root.json";
    let garbage = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(garbage.path(), "not a certificate\n").unwrap();
    let garbage_path = garbage.path().to_str().unwrap().to_string();
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--trusted-root", missing],
            &[
                "--trusted-root /nonexistent/trusted_root.json: cannot read it",
                "fix: give the path of a PEM file",
            ],
        ),
        (
            &["--trusted-root", &garbage_path],
            &[
                "it holds no CA certificate",
                "fix: give PEM `-----BEGIN CERTIFICATE-----` blocks",
            ],
        ),
        (
            &["--repo", "octo"],
            &[
                "--repo: \"octo\" is not OWNER/REPO",
                "fix: give the GitHub repository",
            ],
        ),
        (
            &["--certificate-identity", " "],
            &["--certificate-identity is empty", "fix:"],
        ),
    ];
    for (flags, want) in cases {
        let mut args = vec!["127.0.0.1:1/octo/app:v1"];
        args.extend_from_slice(flags);
        let (out, text) = verify(&args);
        assert_fails(&out, &text, want);
    }
    // --key and the keyless flags exclude each other (a usage error, exit 2).
    let (out, text) = verify(&["127.0.0.1:1/octo/app:v1", "--key", "k.pem", "--repo", REPO]);
    assert_eq!(out.status.code(), Some(2), "{text}");
}
