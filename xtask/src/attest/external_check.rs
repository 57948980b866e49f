//! Writes attestations for checking with independent tools (`scripts/check_attestations.sh`
//! runs this and then `pyspdxtools` and Python `cryptography` on the files). Ignored unless
//! asked for: `STEVEDORE_ATTEST_OUT=<dir> cargo test -p xtask --lib external_check -- --ignored`.

use std::fs;
use std::path::{Path, PathBuf};

use super::cargo_deps::{self, tests as fixture};
use super::dsse::Bundle;
use super::input::{BaseImage, BuildFacts, BuilderKind, GithubContext, Source, Subject};
use super::provenance;
use super::sign::tests::generated_signer;
use super::sign::Signer as _;
use super::spdx::{self, SbomRequest};
use super::time::Timestamp;
use crate::oci::Digest;

fn out_dir() -> PathBuf {
    let dir = std::env::var_os("STEVEDORE_ATTEST_OUT")
        .map(PathBuf::from)
        .expect("set STEVEDORE_ATTEST_OUT to the directory to write into");
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    fs::write(dir.join(name), bytes).unwrap();
}

#[test]
#[ignore = "writes files for scripts/check_attestations.sh"]
fn write_sboms_and_a_signed_bundle_for_external_tools() {
    let dir = out_dir();
    let subject = Subject {
        name: "ghcr.io/stevedore-rs/stevedore".into(),
        digest: Digest::of(b"platform manifest"),
    };
    let source = Source {
        repository: "https://github.com/stevedore-rs/stevedore".into(),
        git_ref: "refs/heads/main".into(),
        commit: "0123456789abcdef0123456789abcdef01234567".into(),
    };
    let created = Timestamp::Unix(1_714_564_800);
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let target = "x86_64-unknown-linux-gnu";
    let real = (
        cargo_deps::cargo_metadata(&workspace, target, Some("xtask"), &[]).unwrap(),
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock")).unwrap(),
        cargo_deps::rustc_cfg(target).unwrap(),
        "xtask",
    );
    let synthetic = (
        fixture::metadata(),
        fixture::lock(),
        vec!["unix".to_string(), "target_os=\"linux\"".to_string()],
        "app",
    );
    let mut statements = Vec::new();
    for (file, (meta, lock, cfg, bin)) in [
        ("workspace.spdx.json", real),
        ("fixture.spdx.json", synthetic),
    ] {
        let req = SbomRequest {
            metadata_json: &meta,
            cargo_lock: &lock,
            package: None,
            bin,
            target,
            target_cfg: &cfg,
            subject: &subject,
            document_name: &subject.name,
            created: &created,
            tool_version: env!("CARGO_PKG_VERSION"),
            source: Some(&source),
        };
        let doc = spdx::document(&req).unwrap();
        assert!(
            doc.packages.len() > 3,
            "{file}: {} packages",
            doc.packages.len()
        );
        write(&dir, file, &serde_json::to_vec_pretty(&doc).unwrap());
        statements.push(spdx::statement(&req).unwrap());
    }
    let provenance = provenance::statement(&subject, &facts(source)).unwrap();
    write(&dir, "provenance.intoto.json", &provenance.to_bytes());
    write(&dir, "sbom.intoto.json", &statements[0].to_bytes());
    let signer = generated_signer();
    let bundle = Bundle::sign_statement(&signer, &statements[0].to_bytes()).unwrap();
    bundle.verify(&signer.public_key()).unwrap();
    write(&dir, "bundle.json", &bundle.to_bytes());
    let bundle = Bundle::sign_statement(&signer, &provenance.to_bytes()).unwrap();
    write(&dir, "provenance.bundle.json", &bundle.to_bytes());
    write(&dir, "public.pem", signer.public_key().to_pem().as_bytes());
    write(&dir, "key_hint.txt", signer.key_hint().as_bytes());
}

/// A GitHub Actions build with every optional field set.
fn facts(source: Source) -> BuildFacts {
    BuildFacts {
        source,
        config_path: "stevedore.toml".into(),
        config_digest: Digest::of(b"config"),
        image_name: "ghcr.io/stevedore-rs/stevedore".into(),
        platforms: vec!["linux/amd64".into(), "linux/arm64".into()],
        builder_kind: BuilderKind::Native,
        builder_version: env!("CARGO_PKG_VERSION").into(),
        build_args: [("RUST_LOG".to_string(), "info".to_string())].into(),
        secret_args: Default::default(),
        base_images: vec![BaseImage {
            reference: "gcr.io/distroless/static-debian12:nonroot".into(),
            digest: Digest::of(b"base"),
            platform: "linux/amd64".into(),
        }],
        cargo_lock_digest: Some(Digest::of(b"Cargo.lock")),
        github: Some(GithubContext {
            server_url: "https://github.com".into(),
            repository: "stevedore-rs/stevedore".into(),
            workflow_ref: "stevedore-rs/stevedore/.github/workflows/release.yml@refs/heads/main"
                .into(),
            job_workflow_ref: None,
            run_id: "1".into(),
            run_attempt: "1".into(),
            event_name: "push".into(),
        }),
        started_on: Timestamp::Unix(1_714_564_800),
        finished_on: Timestamp::Unix(1_714_564_900),
    }
}
