use serde_json::{json, Value};

use super::*;
use crate::attest::cargo_deps::tests::{lock, metadata, GIT};
use crate::oci::Digest;

fn subject() -> Subject {
    Subject {
        name: "ghcr.io/o/app".into(),
        digest: Digest::of(b"amd64 manifest"),
    }
}

fn source() -> Source {
    Source {
        repository: "https://github.com/o/app".into(),
        git_ref: "refs/tags/v0.1.0".into(),
        commit: "89abcdef0123456789abcdef0123456789abcdef".into(),
    }
}

fn linux_cfg() -> Vec<String> {
    ["target_os=\"linux\"", "target_family=\"unix\"", "unix"]
        .map(String::from)
        .to_vec()
}

fn sbom(f: impl FnOnce(&Value)) {
    let (meta, lock, cfg, subject, source) = (metadata(), lock(), linux_cfg(), subject(), source());
    let created = Timestamp::Unix(1_714_564_800);
    let req = SbomRequest {
        metadata_json: &meta,
        cargo_lock: &lock,
        package: None,
        bin: "app",
        target: "x86_64-unknown-linux-gnu",
        target_cfg: &cfg,
        subject: &subject,
        document_name: "ghcr.io/o/app",
        created: &created,
        tool_version: "0.1.0",
        source: Some(&source),
    };
    let doc = serde_json::to_value(document(&req).unwrap()).unwrap();
    f(&doc);
}

fn package<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap()
}

#[test]
fn document_header_is_reproducible_spdx_2_3() {
    sbom(|doc| {
        assert_eq!(doc["spdxVersion"], "SPDX-2.3");
        assert_eq!(doc["dataLicense"], "CC0-1.0");
        assert_eq!(doc["SPDXID"], "SPDXRef-DOCUMENT");
        assert_eq!(doc["name"], "ghcr.io/o/app");
        assert_eq!(
            doc["documentNamespace"],
            format!(
                "https://stevedore-rs.github.io/spdx/ghcr.io/o/app/sha256-{}",
                subject().digest.hex()
            )
        );
        assert_eq!(
            doc["creationInfo"],
            json!({"created": "2024-05-01T12:00:00Z", "creators": ["Tool: stevedore-0.1.0"]})
        );
    });
}

#[test]
fn crates_io_crates_have_purl_checksum_license_and_download_url() {
    sbom(|doc| {
        let libc = package(doc, "libc");
        assert_eq!(
            *libc,
            json!({
                "SPDXID": "SPDXRef-Package-libc-1.0.0",
                "name": "libc",
                "versionInfo": "1.0.0",
                "downloadLocation": "https://crates.io/api/v1/crates/libc/1.0.0/download",
                "filesAnalyzed": false,
                "licenseDeclared": "MIT OR Apache-2.0",
                "checksums": [{"algorithm": "SHA256", "checksumValue": "dd".repeat(32)}],
                "externalRefs": [{"referenceCategory": "PACKAGE_MANAGER", "referenceType": "purl",
                                  "referenceLocator": "pkg:cargo/libc@1.0.0"}],
                "primaryPackagePurpose": "LIBRARY",
            })
        );
    });
}

#[test]
fn root_and_git_crates_point_at_their_commits() {
    sbom(|doc| {
        let root = &doc["packages"][0];
        assert_eq!(root["name"], "app");
        assert_eq!(root["primaryPackagePurpose"], "APPLICATION");
        assert_eq!(
            root["downloadLocation"],
            "git+https://github.com/o/app@89abcdef0123456789abcdef0123456789abcdef"
        );
        assert_eq!(root["licenseDeclared"], "Apache-2.0");
        assert!(
            root.get("externalRefs").is_none(),
            "a workspace crate has no crates.io purl"
        );
        let forked = package(doc, "forked");
        assert_eq!(
            forked["downloadLocation"],
            format!(
                "git+https://github.com/o/fork@{}",
                GIT.rsplit('#').next().unwrap()
            )
        );
        assert_eq!(forked["licenseDeclared"], "NOASSERTION");
        assert!(forked.get("checksums").is_none());
    });
}

#[test]
fn relationships_describe_the_root_and_every_edge() {
    sbom(|doc| {
        let rels: Vec<(String, String, String)> = doc["relationships"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let s = |k: &str| r[k].as_str().unwrap().to_string();
                (
                    s("spdxElementId"),
                    s("relationshipType"),
                    s("relatedSpdxElement"),
                )
            })
            .collect();
        let r = |a: &str, t: &str, b: &str| (a.to_string(), t.to_string(), b.to_string());
        assert_eq!(
            rels,
            [
                r("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Package-app-0.1.0"),
                r(
                    "SPDXRef-Package-app-0.1.0",
                    "DEPENDS_ON",
                    "SPDXRef-Package-forked-0.3.0"
                ),
                r(
                    "SPDXRef-Package-app-0.1.0",
                    "DEPENDS_ON",
                    "SPDXRef-Package-libc-1.0.0"
                ),
                r(
                    "SPDXRef-Package-app-0.1.0",
                    "DEPENDS_ON",
                    "SPDXRef-Package-serde-1.0.0"
                ),
                r(
                    "SPDXRef-Package-forked-0.3.0",
                    "DEPENDS_ON",
                    "SPDXRef-Package-libc-1.0.0"
                ),
            ]
        );
        let names: Vec<&str> = doc["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["app", "forked", "libc", "serde"]);
    });
}

#[test]
fn same_inputs_give_the_same_bytes() {
    let mut docs = Vec::new();
    for _ in 0..2 {
        sbom(|doc| docs.push(serde_json::to_vec(doc).unwrap()));
    }
    assert_eq!(docs[0], docs[1]);
}

#[test]
fn statement_wraps_the_document_for_the_subject() {
    let (meta, lock, cfg, subject) = (metadata(), lock(), linux_cfg(), subject());
    let created = Timestamp::Rfc3339("2024-05-01T12:00:00Z".into());
    let req = SbomRequest {
        metadata_json: &meta,
        cargo_lock: &lock,
        package: None,
        bin: "app",
        target: "x86_64-unknown-linux-gnu",
        target_cfg: &cfg,
        subject: &subject,
        document_name: "app",
        created: &created,
        tool_version: "0.1.0",
        source: None,
    };
    let st = statement(&req).unwrap();
    assert_eq!(st.predicate_type, "https://spdx.dev/Document");
    assert!(st.names_subject(subject.digest.hex()));
    assert_eq!(
        st.predicate["packages"][0]["downloadLocation"],
        "NOASSERTION"
    );
}

#[test]
fn spdx_ids_are_sanitised_and_unique() {
    let mk = |id: &str, name: &str, version: &str| Crate {
        id: id.into(),
        name: name.into(),
        version: version.into(),
        license: None,
        source: None,
        checksum: None,
        deps: vec![],
    };
    let closure = Closure {
        root: mk("r", "my_app", "1.0.0+build.1"),
        crates: vec![mk("a", "dup", "1.0.0"), mk("b", "dup", "1.0.0")],
    };
    let ids = spdx_ids(&closure);
    assert_eq!(ids["r"], "SPDXRef-Package-my-app-1.0.0-build.1");
    assert_eq!(ids["a"], "SPDXRef-Package-dup-1.0.0");
    assert_eq!(ids["b"], "SPDXRef-Package-dup-1.0.0-2");
}
