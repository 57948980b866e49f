//! `[compose]` (or `[[compose]]`): files inside the workspace, a repository of its own.

use std::collections::BTreeMap;

use super::{check_inside_file, Problems};
use crate::config::Config;
use crate::oci::reference::validate_repository;

pub(super) fn check(cfg: &Config, p: &mut Problems, repos: &mut BTreeMap<String, String>) {
    let r = &cfg.release;
    let several = cfg.compose.len() > 1;
    for (n, c) in cfg.compose.iter().enumerate() {
        let ck = |k: &str| {
            if several {
                format!("compose[{n}].{k}")
            } else {
                format!("compose.{k}")
            }
        };
        if c.files.is_empty() {
            p.add(ck("files"), "list at least one compose file");
        }
        for (i, f) in c.files.iter().enumerate() {
            check_inside_file(p, &cfg.root, &ck(&format!("files[{i}]")), f);
        }
        let repo = c.repository.clone().unwrap_or_else(|| r.name.clone());
        let k = if c.repository.is_some() {
            ck("repository")
        } else {
            "release.name".to_string()
        };
        if let Err(e) = validate_repository(&repo) {
            p.add(k, format!("compose artifact: {e}"));
        } else if let Some(other) = repos.get(&repo) {
            p.fix(
                k,
                format!("compose artifact repository {repo:?} is already used by {other}"),
                "set a distinct `repository`",
            );
        } else {
            repos.insert(repo.clone(), ck("repository"));
        }
    }
}
