//! Validation: every problem of a config found in one run, each naming its key (and, where one
//! can be said, the fix); paths that must resolve inside the workspace. One module per part of
//! the config it checks.

mod compose;
mod dockerfile_image;
mod image_keys;
mod images;
mod native_image;
mod paths;
mod release;

use std::collections::BTreeMap;

pub use paths::resolve_inside;
pub(super) use paths::{check_file, check_inside_file, check_platforms, is_path_component};

use super::Config;
use crate::problem::Problem;

/// The problems found so far, each under its key.
#[derive(Default)]
pub(super) struct Problems(Vec<(String, Problem)>);

impl Problems {
    /// A problem at `key` whose message says it all.
    pub(super) fn add(&mut self, key: impl Into<String>, reason: impl Into<String>) {
        self.fix(key, reason, "");
    }

    /// A problem at `key`, and its fix (shown on its own line).
    pub(super) fn fix(
        &mut self,
        key: impl Into<String>,
        reason: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.0.push((key.into(), Problem::config(reason, fix)));
    }
}

impl Config {
    pub(super) fn validate(&mut self) -> Vec<(String, Problem)> {
        let mut p = Problems::default();
        release::check(self, &mut p);
        // Repository -> the key that uses it: two images (or an image and a compose artifact)
        // cannot share one.
        let mut repos: BTreeMap<String, String> = BTreeMap::new();
        images::check(self, &mut p, &mut repos);
        compose::check(self, &mut p, &mut repos);
        p.0
    }
}
