//! `init` on condensed copies of ten public repositories that release images today
//! (`tests/fixtures/real-repos/`, README there): for each, a scratch clone gets a config that
//! passes stevedore's own validation (`plan --json`), builds no vendored, test, e2e or
//! devcontainer image, and publishes — for a push to the default branch and for a version tag
//! in the project's own form — the references the project's real workflow publishes, except the
//! differences written down next to the fixture (`expected.toml`, each with why). The same file
//! counts the workflow's release features `init` maps right, wrongly or not at all.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;
use support::output_text;
use support::real_repos::{real_repo, real_repos_dir, RealRepo};

/// What a fixture's real release workflow publishes, read by hand from its workflows, and where
/// the drafted config knowingly differs.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Expected {
    /// `owner/name` on GitHub.
    upstream: String,
    /// What the workflows were read for this file (a reader's pointer).
    read_from: Vec<String>,
    default_branch: String,
    version_tag: String,
    /// Every platform the real release publishes.
    platforms: Vec<String>,
    /// Dockerfiles that no image of the config may build (vendored, test, devcontainer, helper
    /// images the project does not release).
    not_built: Vec<String>,
    /// Every reference (`registry/repository:tag`) a push to the default branch publishes.
    branch_refs: Vec<String>,
    /// Every reference a push of `version-tag` publishes.
    version_refs: Vec<String>,
    /// Lines init's report must hold (what it says it could not map, in its words).
    #[serde(default)]
    report_names: Vec<String>,
    #[serde(default)]
    differences: Differences,
    features: Features,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Differences {
    /// The platforms the config has, when they are not `platforms`, and why.
    platforms_written: Option<Vec<String>>,
    platforms_why: Option<String>,
    /// Reference → why: published by the project, not by the config.
    #[serde(default)]
    branch_missing: BTreeMap<String, String>,
    /// Reference → why: published by the config, not by the project.
    #[serde(default)]
    branch_extra: BTreeMap<String, String>,
    #[serde(default)]
    version_missing: BTreeMap<String, String>,
    #[serde(default)]
    version_extra: BTreeMap<String, String>,
}

/// The release features of the project's workflow (images, registries, platforms, tag rules,
/// build args, cache, signing, …), each as `init` left it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Features {
    right: Vec<String>,
    #[serde(default)]
    wrong: Vec<String>,
    #[serde(default)]
    missing: Vec<String>,
}

fn expected(name: &str) -> Expected {
    let path = real_repos_dir().join(name).join("expected.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Path parts that mark a file the project does not release.
const NEVER_RELEASED: &[&str] = &[
    "vendor/",
    "node_modules/",
    "third_party/",
    "testdata/",
    ".devcontainer/",
    "test/",
    "tests/",
    "e2e/",
    "playwright/",
    "examples/",
];

/// `tags --json` as GitHub Actions runs it for a push of `git_ref`, every reference of every
/// image.
fn published(repo: &RealRepo, git_ref: &str) -> BTreeSet<String> {
    let sha = support::git(&repo.path, &["rev-parse", "HEAD"]);
    let out = support::xtask(
        &repo.path,
        &["tags", "--json"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_REF", git_ref),
            ("GITHUB_SHA", &sha),
        ],
    );
    assert!(
        out.status.success(),
        "tags --json for {git_ref}: {}",
        output_text(&out)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["images"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|refs| refs.as_array().unwrap().iter())
        .map(|r| r.as_str().unwrap().to_string())
        .collect()
}

/// The references the project publishes and the config does not (`missing`), and the reverse
/// (`extra`), must be exactly the documented ones.
fn compare(
    what: &str,
    want: &[String],
    got: &BTreeSet<String>,
    missing: &BTreeMap<String, String>,
    extra: &BTreeMap<String, String>,
) -> Vec<String> {
    let want: BTreeSet<String> = want.iter().cloned().collect();
    let mut problems = Vec::new();
    let got_missing: BTreeSet<&String> = want.difference(got).collect();
    let got_extra: BTreeSet<&String> = got.difference(&want).collect();
    let doc_missing: BTreeSet<&String> = missing.keys().collect();
    let doc_extra: BTreeSet<&String> = extra.keys().collect();
    if got_missing != doc_missing {
        problems.push(format!(
            "{what}: not published by the config: {got_missing:?}; documented: {doc_missing:?}"
        ));
    }
    if got_extra != doc_extra {
        problems.push(format!(
            "{what}: published by the config only: {got_extra:?}; documented: {doc_extra:?}"
        ));
    }
    problems
}

/// The whole check of one fixture.
fn check(name: &str) {
    let want = expected(name);
    assert!(
        !want.read_from.is_empty(),
        "{name}: read-from names the workflows"
    );
    let repo = real_repo(
        name,
        &want.upstream,
        &want.default_branch,
        &want.version_tag,
    );

    let out = support::xtask(&repo.path, &["init"], &[]);
    let report = output_text(&out);
    assert!(out.status.success(), "{name}: init failed: {report}");
    let config = std::fs::read_to_string(repo.path.join("images/release.toml"))
        .unwrap_or_else(|e| panic!("{name}: no config written ({e}): {report}"));

    // The config passes stevedore's own validation, and the report counts what was written.
    let plan = support::xtask(&repo.path, &["plan", "--json"], &[]);
    assert!(
        plan.status.success(),
        "{name}: plan: {}\n{config}",
        output_text(&plan)
    );
    let plan: Value = serde_json::from_slice(&plan.stdout).unwrap();
    let images = plan["images"].as_array().unwrap();
    let wrote = format!(
        "wrote images/release.toml: {} image{}",
        images.len(),
        if images.len() == 1 { "" } else { "s" }
    );
    assert!(
        report.contains(&wrote),
        "{name}: {wrote:?} not in:\n{report}"
    );

    // The config is committed, as a user would, and the version tag moved onto that commit.
    support::git(&repo.path, &["add", "-A"]);
    support::git(&repo.path, &["commit", "-q", "-m", "stevedore init"]);
    support::git(&repo.path, &["tag", "-f", &want.version_tag]);

    let mut problems = Vec::new();
    for line in &want.report_names {
        if !report.contains(line.as_str()) {
            problems.push(format!("the report does not name {line:?}"));
        }
    }
    // No vendored, test or devcontainer image, nor a helper the project does not release.
    for img in images {
        let dockerfile = img["builder"]["dockerfile"].as_str().unwrap_or("");
        let rel = dockerfile
            .strip_prefix(repo.path.to_str().unwrap())
            .unwrap_or(dockerfile)
            .trim_start_matches('/');
        if NEVER_RELEASED.iter().any(|p| rel.contains(p)) || want.not_built.iter().any(|n| n == rel)
        {
            problems.push(format!("image {} builds {rel}", img["name"]));
        }
    }
    // The default branch.
    let branch_line = format!("default-branch = \"{}\"", want.default_branch);
    if !config.contains(&branch_line) {
        problems.push(format!("{branch_line:?} not in the config"));
    }
    // Platforms: every image's.
    let got_platforms: BTreeSet<String> = images
        .iter()
        .flat_map(|i| i["platforms"].as_array().unwrap().iter())
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    let want_platforms: BTreeSet<String> = match &want.differences.platforms_written {
        Some(p) => {
            assert!(
                want.differences.platforms_why.is_some(),
                "{name}: platforms-written needs platforms-why"
            );
            p.iter().cloned().collect()
        }
        None => want.platforms.iter().cloned().collect(),
    };
    if got_platforms != want_platforms {
        problems.push(format!(
            "platforms: {got_platforms:?}, expected {want_platforms:?}"
        ));
    }
    // References for a push to the default branch and for a version tag.
    let d = &want.differences;
    let branch = published(&repo, &format!("refs/heads/{}", want.default_branch));
    problems.extend(compare(
        "default-branch push",
        &want.branch_refs,
        &branch,
        &d.branch_missing,
        &d.branch_extra,
    ));
    let version = published(&repo, &format!("refs/tags/{}", want.version_tag));
    problems.extend(compare(
        &format!("tag {}", want.version_tag),
        &want.version_refs,
        &version,
        &d.version_missing,
        &d.version_extra,
    ));
    assert!(
        problems.is_empty(),
        "{name}:\n  {}\n--- config\n{config}\n--- init's report\n{report}",
        problems.join("\n  ")
    );
}

#[test]
fn khoj_python_monorepo_with_a_native_runner_matrix() {
    check("khoj");
}

#[test]
fn searxng_built_through_make_with_a_devcontainer() {
    check("searxng");
}

#[test]
fn buildx_root_bake_file_github_builder_and_vendored_bake_files() {
    check("buildx");
}

#[test]
fn vaultwarden_bake_file_in_docker_and_tags_without_v() {
    check("vaultwarden");
}

#[test]
fn mealie_depot_build_push_action_in_a_reusable_workflow() {
    check("mealie");
}

#[test]
fn uptime_kuma_lower_case_dockerfiles_and_an_image_only_compose_file() {
    check("uptime-kuma");
}

#[test]
fn whoami_released_by_goreleaser() {
    check("whoami");
}

#[test]
fn memos_canary_on_main_and_a_tag_release_pushed_by_digest() {
    check("memos");
}

#[test]
fn umami_image_names_computed_by_a_run_step_and_a_cypress_compose_file() {
    check("umami");
}

#[test]
fn plane_a_build_push_look_alike_named_by_literal_step_outputs() {
    check("plane");
}

/// The tally of issue 20's measure: the release features of the ten projects, mapped right,
/// wrongly, or not at all (a feature `init` names in its report as not mapped counts as
/// missing but reported).
#[test]
fn every_fixture_tallies_its_workflow_release_features() {
    let mut total = (0usize, 0usize, 0usize);
    let mut names: Vec<String> = std::fs::read_dir(real_repos_dir())
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            e.path()
                .is_dir()
                .then(|| e.file_name().to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    assert!(names.len() >= 6, "{names:?}");
    for name in &names {
        let f = expected(name).features;
        let n = f.right.len() + f.wrong.len() + f.missing.len();
        assert!(n > 0, "{name}: no release feature listed");
        eprintln!(
            "{name}: {} right, {} wrong, {} missing of {n}",
            f.right.len(),
            f.wrong.len(),
            f.missing.len()
        );
        total.0 += f.right.len();
        total.1 += f.wrong.len();
        total.2 += f.missing.len();
    }
    let all = total.0 + total.1 + total.2;
    eprintln!(
        "all: {} of {all} right ({} %), {} wrong, {} missing",
        total.0,
        total.0 * 100 / all,
        total.1,
        total.2
    );
}
