use serde_json::{json, Value};

use super::*;
use crate::oci::Digest;

/// syft 1.18.1's `spdx-json` for a Python app (trimmed to one package and one file, fields
/// as syft writes them).
fn syft_output(namespace_uuid: &str, created: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": "ghcr.io/o/app",
        "documentNamespace":
            format!("https://anchore.com/syft/image/ghcr.io/o/app-{namespace_uuid}"),
        "creationInfo": {
            "licenseListVersion": "3.25",
            "creators": ["Organization: Anchore, Inc", "Tool: syft-1.18.1"],
            "created": created
        },
        "packages": [{
            "name": "requests",
            "SPDXID": "SPDXRef-Package-python-requests-8dbd1ac03fcd2902",
            "versionInfo": "2.31.0",
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseDeclared": "LicenseRef-Apache-2.0",
            "externalRefs": [{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": "pkg:pypi/requests@2.31.0"
            }]
        }],
        "files": [{
            "fileName": "srv/requirements.txt",
            "SPDXID": "SPDXRef-File-srv-requirements.txt-98afa6745e0fadd5"
        }],
        "relationships": []
    }))
    .unwrap()
}

fn subject(what: &[u8]) -> Subject {
    Subject {
        name: "ghcr.io/o/app".into(),
        digest: Digest::of(what),
    }
}

const COMMIT_TIME: i64 = 1_714_564_800; // 2024-05-01T12:00:00Z

fn normalised(raw: &[u8], subject: &Subject) -> Value {
    normalise(raw, "app", subject, &Timestamp::Unix(COMMIT_TIME), "0.1.0").unwrap()
}

#[test]
fn namespace_and_time_come_from_the_subject_and_the_commit() {
    let s = subject(b"amd64 manifest");
    let doc = normalised(&syft_output("b5d6b978", "2026-11-30T13:41:38Z"), &s);
    assert_eq!(doc["name"], "app");
    assert_eq!(
        doc["documentNamespace"],
        format!("{}app/sha256-{}", spdx::NAMESPACE_PREFIX, s.digest.hex())
    );
    assert_eq!(doc["creationInfo"]["created"], "2024-05-01T12:00:00Z");
    assert_eq!(
        doc["creationInfo"]["creators"],
        json!([
            "Organization: Anchore, Inc",
            "Tool: syft-1.18.1",
            "Tool: stevedore-0.1.0"
        ])
    );
    // syft's findings are kept as they are.
    assert_eq!(
        doc["packages"][0]["externalRefs"][0]["referenceLocator"],
        "pkg:pypi/requests@2.31.0"
    );
    assert_eq!(doc["creationInfo"]["licenseListVersion"], "3.25");
    assert_eq!(doc["files"][0]["fileName"], "srv/requirements.txt");
}

#[test]
fn two_scans_of_one_image_give_the_same_bytes_and_other_subjects_other_namespaces() {
    let s = subject(b"amd64 manifest");
    let a = normalised(&syft_output("b5d6b978", "2026-11-30T13:41:38Z"), &s);
    let b = normalised(&syft_output("808774ea", "2026-11-30T13:41:39Z"), &s);
    assert_eq!(
        serde_json::to_vec(&a).unwrap(),
        serde_json::to_vec(&b).unwrap()
    );
    let other = normalised(
        &syft_output("b5d6b978", "2026-11-30T13:41:38Z"),
        &subject(b"index"),
    );
    assert_ne!(a["documentNamespace"], other["documentNamespace"]);
    // Normalising twice changes nothing (stevedore is named once).
    let again = normalised(&serde_json::to_vec(&a).unwrap(), &s);
    assert_eq!(again, a);
}

#[test]
fn output_that_is_not_spdx_2_3_json_is_refused_with_what_it_is() {
    let s = subject(b"m");
    let t = Timestamp::Unix(COMMIT_TIME);
    let err = |raw: &[u8]| {
        format!(
            "{:#}",
            normalise(raw, "app", &s, &t, "0.1.0").expect_err("refused")
        )
    };
    assert!(err(b"SPDXVersion: SPDX-2.3\n").contains("not JSON"));
    assert!(err(b"[]").contains("not an object"));
    let v22 = String::from_utf8(syft_output("u", "2026-11-30T13:41:38Z"))
        .unwrap()
        .replace("SPDX-2.3", "SPDX-2.2");
    assert!(err(v22.as_bytes()).contains("SPDX-2.2"));
    assert!(err(br#"{"bomFormat": "CycloneDX"}"#).contains("spdxVersion missing"));
    assert!(err(br#"{"spdxVersion": "SPDX-2.3", "creationInfo": []}"#).contains("creationInfo"));
}

#[test]
fn version_is_read_from_syft_s_version_line() {
    assert_eq!(parse_version("syft 1.18.1\n").as_deref(), Some("1.18.1"));
    assert_eq!(parse_version("syft\n"), None);
    assert_eq!(parse_version("syft unknown\n"), None);
    assert_eq!(parse_version(""), None);
}
