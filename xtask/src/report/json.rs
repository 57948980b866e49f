//! The JSON documents (stable shapes, documented in README.md).

use serde_json::json;

use crate::oci::reference::ImageRef;
use crate::plan::Plan;

/// `tags --json`: version, tags, and per image every full reference.
pub fn tags_json(plan: &Plan) -> serde_json::Value {
    let images: serde_json::Map<String, serde_json::Value> = plan
        .images
        .iter()
        .map(|i| {
            let refs: Vec<&ImageRef> = i.targets.iter().flat_map(|t| &t.references).collect();
            (i.name.clone(), json!(refs))
        })
        .collect();
    json!({
        "version": plan.version,
        "tags": plan.tags,
        "images": images,
        "rewritten": plan.rewritten_tags,
    })
}
