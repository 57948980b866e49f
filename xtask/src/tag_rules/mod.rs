//! The tag rules: docker/metadata-action's rule vocabulary (the grammar `config` parses) and
//! the engine that computes tags from it (what `plan` runs), with the action's pain points
//! fixed. One home for both, so that `config` and `plan` each depend on it and not on each other.
//!
//! A [`Rule`] is one line of metadata-action syntax (`type=semver,pattern={{major}}.{{minor}}`).
//! [`compute`] turns the rules, the `latest` policy and the flavor into the tags of one build,
//! given what is known about the commit being built ([`RefContext`]).
//!
//! Where stevedore differs from the action, on purpose:
//! - floating tags (`{{major}}`, `{{major}}.{{minor}}`, `latest`) move only when the version
//!   released is the highest non-prerelease version of its range among the repository's tags;
//! - `{{major}}` alone never emits `0`;
//! - a prerelease keeps the literal text of a `{{version}}` pattern (`v{{version}}` gives
//!   `v1.3.0-rc.1`), and floating patterns emit nothing for it;
//! - every tag is made valid for the registry grammar `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`, and
//!   every rewrite is reported in [`TagSet::rewritten`];
//! - `type=semver` works on any event whose ref is a version tag, or when `value` is given.

#[cfg(test)]
mod compat_tests;
pub mod context;
mod engine;
mod rules;
mod template;
#[cfg(test)]
mod tests;
pub mod version;

pub use engine::{compute, Flavor, Latest, Rewrite, TagSet};
pub use rules::Rule;
