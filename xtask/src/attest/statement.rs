//! The in-toto Statement v1 envelope around a predicate, and its ResourceDescriptor.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::input::Subject;

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

/// An in-toto Statement v1. Keys serialise in field order, so the bytes are deterministic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub type_: String,
    pub subject: Vec<ResourceDescriptor>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    pub predicate: serde_json::Value,
}

impl Statement {
    /// A Statement about one subject (matched by its sha256 digest).
    pub fn new(subject: &Subject, predicate_type: &str, predicate: serde_json::Value) -> Self {
        let mut digest = BTreeMap::new();
        digest.insert("sha256".to_string(), subject.digest.hex().to_string());
        Statement {
            type_: STATEMENT_TYPE.into(),
            subject: vec![ResourceDescriptor {
                name: Some(subject.name.clone()),
                digest,
                ..ResourceDescriptor::default()
            }],
            predicate_type: predicate_type.into(),
            predicate,
        }
    }

    /// The compact JSON bytes that are stored, signed and digested.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a Statement always serialises")
    }

    /// True if one subject has `sha256` equal to `hex`.
    pub fn names_subject(&self, hex: &str) -> bool {
        self.subject
            .iter()
            .any(|s| s.digest.get("sha256").is_some_and(|d| d == hex))
    }
}

/// An in-toto ResourceDescriptor (at least one of `uri`, `digest`, `content` is set).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceDescriptor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digest: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::Digest;

    #[test]
    fn statement_serialises_with_spec_names_in_a_fixed_order() {
        let subject = Subject {
            name: "ghcr.io/o/app".into(),
            digest: Digest::of(b"image"),
        };
        let st = Statement::new(
            &subject,
            "https://example.com/p",
            serde_json::json!({"k": 1}),
        );
        let json = String::from_utf8(st.to_bytes()).unwrap();
        let want = format!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"ghcr.io/o/app","digest":{{"sha256":"{}"}}}}],"predicateType":"https://example.com/p","predicate":{{"k":1}}}}"#,
            subject.digest.hex()
        );
        assert_eq!(json, want);
        assert!(st.names_subject(subject.digest.hex()));
        assert!(!st.names_subject(Digest::of(b"other").hex()));
    }
}
