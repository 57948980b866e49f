use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::*;
use crate::attest::input::{BuilderKind, GithubContext, Source};
use crate::attest::time::Timestamp;
use crate::oci::Digest;

fn facts() -> BuildFacts {
    BuildFacts {
        source: Source {
            repository: "https://github.com/o/r".into(),
            git_ref: "refs/tags/v1.2.3".into(),
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
        },
        config_path: "stevedore.toml".into(),
        config_digest: Digest::of(b"config"),
        image_name: "ghcr.io/o/app".into(),
        platforms: vec!["linux/amd64".into(), "linux/arm64".into()],
        builder_kind: BuilderKind::Buildx,
        builder_version: "v0.17.1".into(),
        build_args: BTreeMap::from([
            ("RUST_VERSION".to_string(), "1.82".to_string()),
            ("NPM_TOKEN".to_string(), "s3cr3t-value".to_string()),
        ]),
        secret_args: BTreeSet::from(["NPM_TOKEN".to_string()]),
        base_images: vec![BaseImage {
            reference: "alpine:3.20".into(),
            digest: Digest::of(b"alpine-amd64"),
            platform: "linux/amd64".into(),
        }],
        cargo_lock_digest: Some(Digest::of(b"lock")),
        github: None,
        started_on: Timestamp::Unix(1_714_564_800),
        finished_on: Timestamp::Rfc3339("2024-05-01T12:03:00Z".into()),
    }
}

fn github() -> GithubContext {
    GithubContext {
        server_url: "https://github.com".into(),
        repository: "o/r".into(),
        workflow_ref: "o/r/.github/workflows/release.yml@refs/tags/v1.2.3".into(),
        job_workflow_ref: None,
        run_id: "123".into(),
        run_attempt: "1".into(),
        event_name: "push".into(),
    }
}

fn subject() -> Subject {
    Subject {
        name: "ghcr.io/o/app".into(),
        digest: Digest::of(b"index"),
    }
}

fn predicate(facts: &BuildFacts) -> serde_json::Value {
    let st = statement(&subject(), facts).unwrap();
    assert_eq!(st.predicate_type, "https://slsa.dev/provenance/v1");
    assert_eq!(st.type_, "https://in-toto.io/Statement/v1");
    assert!(st.names_subject(subject().digest.hex()));
    st.predicate
}

#[test]
fn local_build_has_the_documented_fields() {
    let f = facts();
    let p = predicate(&f);
    let want = json!({
        "buildDefinition": {
            "buildType": "https://stevedore-rs.github.io/buildtypes/release/v1",
            "externalParameters": {
                "source": {"repository": "https://github.com/o/r", "ref": "refs/tags/v1.2.3"},
                "config": {"path": "stevedore.toml", "digest": {"sha256": f.config_digest.hex()}},
                "image": {"name": "ghcr.io/o/app", "platforms": ["linux/amd64", "linux/arm64"]},
            },
            "internalParameters": {
                "builder": {"kind": "buildx", "version": "v0.17.1"},
                "build_args": {"RUST_VERSION": "1.82"},
            },
            "resolvedDependencies": [
                {"uri": "git+https://github.com/o/r@refs/tags/v1.2.3",
                 "digest": {"gitCommit": "0123456789abcdef0123456789abcdef01234567"}},
                {"uri": "pkg:docker/alpine@3.20?platform=linux%2Famd64",
                 "digest": {"sha256": Digest::of(b"alpine-amd64").hex()}},
                {"name": "Cargo.lock", "digest": {"sha256": Digest::of(b"lock").hex()}},
            ],
        },
        "runDetails": {
            "builder": {"id": "https://stevedore-rs.github.io/builders/local/v1"},
            "metadata": {"startedOn": "2024-05-01T12:00:00Z", "finishedOn": "2024-05-01T12:03:00Z"},
        },
    });
    assert_eq!(p, want);
}

#[test]
fn github_actions_build_names_the_workflow_run_and_event() {
    let mut f = facts();
    f.github = Some(github());
    let p = predicate(&f);
    assert_eq!(
        p["buildDefinition"]["externalParameters"]["workflow"],
        json!({"ref": "refs/tags/v1.2.3", "repository": "https://github.com/o/r",
               "path": ".github/workflows/release.yml"})
    );
    assert_eq!(
        p["buildDefinition"]["internalParameters"]["github"],
        json!({"event_name": "push"})
    );
    assert_eq!(
        p["runDetails"]["builder"]["id"],
        "https://github.com/o/r/.github/workflows/release.yml@refs/tags/v1.2.3"
    );
    assert_eq!(
        p["runDetails"]["metadata"]["invocationId"],
        "https://github.com/o/r/actions/runs/123/attempts/1"
    );
}

#[test]
fn secret_build_args_leave_no_trace() {
    let mut f = facts();
    f.github = Some(github());
    let bytes = statement(&subject(), &f).unwrap().to_bytes();
    let text = String::from_utf8(bytes).unwrap();
    assert!(!text.contains("NPM_TOKEN"), "{text}");
    assert!(!text.contains("s3cr3t-value"), "{text}");
    assert!(text.contains("RUST_VERSION"), "{text}");
}

#[test]
fn only_secret_args_means_no_build_args_key() {
    let mut f = facts();
    f.build_args.remove("RUST_VERSION");
    let p = predicate(&f);
    assert!(
        p["buildDefinition"]["internalParameters"]
            .get("build_args")
            .is_none(),
        "{p}"
    );
}

#[test]
fn same_facts_give_the_same_bytes() {
    let f = facts();
    let a = statement(&subject(), &f).unwrap().to_bytes();
    let b = statement(&subject(), &f).unwrap().to_bytes();
    assert_eq!(a, b);
}

#[test]
fn bad_timestamp_is_an_error_not_a_document() {
    let mut f = facts();
    f.finished_on = Timestamp::Rfc3339("yesterday".into());
    let err = statement(&subject(), &f).unwrap_err();
    assert!(err.to_string().contains("YYYY-MM-DDThh:mm:ssZ"), "{err}");
}

#[test]
fn base_images_become_buildkit_style_purls() {
    for (reference, platform, want) in [
        ("alpine:3.20", "linux/amd64", "pkg:docker/alpine@3.20?platform=linux%2Famd64"),
        ("docker.io/library/debian:bookworm-slim", "linux/arm64", "pkg:docker/debian@bookworm-slim?platform=linux%2Farm64"),
        ("index.docker.io/user/app:1", "linux/amd64", "pkg:docker/user/app@1?platform=linux%2Famd64"),
        ("ghcr.io/o/base:1.0", "linux/arm/v7", "pkg:docker/ghcr.io/o/base@1.0?platform=linux%2Farm%2Fv7"),
        ("localhost:5000/base", "linux/amd64", "pkg:docker/localhost:5000/base@latest?platform=linux%2Famd64"),
        (
            "gcr.io/distroless/static@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "linux/amd64",
            "pkg:docker/gcr.io/distroless/static@sha256:0000000000000000000000000000000000000000000000000000000000000000?platform=linux%2Famd64",
        ),
        ("alpine:3.20@sha256:abc", "linux/amd64", "pkg:docker/alpine@3.20?platform=linux%2Famd64"),
    ] {
        let base = BaseImage {
            reference: reference.into(),
            digest: Digest::of(b"x"),
            platform: platform.into(),
        };
        assert_eq!(base_image_purl(&base), want, "{reference}");
    }
}
