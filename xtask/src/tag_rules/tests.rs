//! The tag engine's cases, by behaviour.

use sha2::{Digest, Sha256};

use super::engine::*;
use super::rules::*;
use crate::oci::reference::is_valid_tag;
use crate::tag_rules::context::{Event, GitRef, RefContext};

const SHA: &str = "abc1234def5678abc1234def5678abc1234def56";
/// 2023-11-14T22:13:20Z.
const NOW: i64 = 1_700_000_000;
/// 2023-11-13T08:05:09Z.
const COMMIT: i64 = 1_699_862_709;

pub(super) fn ctx(git_ref: GitRef) -> RefContext {
    RefContext {
        event: Event::Push,
        git_ref,
        sha: SHA.into(),
        commit_time: COMMIT,
        now: NOW,
        default_branch: "main".into(),
        repo_tags: Vec::new(),
        base_ref: None,
    }
}

pub(super) fn branch(name: &str) -> RefContext {
    ctx(GitRef::Branch { name: name.into() })
}

pub(super) fn tag(name: &str, repo_tags: &[&str]) -> RefContext {
    let mut c = ctx(GitRef::Tag { name: name.into() });
    c.repo_tags = repo_tags.iter().map(|t| t.to_string()).collect();
    c
}

pub(super) fn pr(number: u64, head: &str, base: &str) -> RefContext {
    let mut c = ctx(GitRef::PullRequest {
        number,
        head_ref: head.into(),
        base_ref: base.into(),
    });
    c.event = Event::PullRequest;
    c
}

pub(super) fn rules(texts: &[&str]) -> Vec<Rule> {
    texts
        .iter()
        .map(|t| t.parse().unwrap_or_else(|e| panic!("{t:?}: {e}")))
        .collect()
}

pub(super) fn set_with(texts: &[&str], latest: Latest, flavor: &Flavor, c: &RefContext) -> TagSet {
    compute(&rules(texts), latest, flavor, c).unwrap()
}

pub(super) fn tags(texts: &[&str], latest: Latest, c: &RefContext) -> Vec<String> {
    set_with(texts, latest, &Flavor::default(), c).tags
}

const SEMVER3: &[&str] = &[
    "type=semver,pattern=v{{version}}",
    "type=semver,pattern={{major}}.{{minor}}",
    "type=semver,pattern={{major}}",
];

#[test]
fn semver_rules_tag_each_kind_of_release() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        ("v1.2.3", &["v1.2.3", "v2.0.0"], &["v1.2.3", "1.2", "1"]),
        (
            "v2.1.0",
            &["v1.2.3", "v2.0.0", "v2.1.0"],
            &["v2.1.0", "2.1", "2", "latest"],
        ),
        (
            "v0.3.1",
            &["v0.3.0", "v0.3.1"],
            &["v0.3.1", "0.3", "latest"],
        ),
        ("v0.3.1", &["v0.3.1", "v1.0.0"], &["v0.3.1", "0.3"]),
        ("v1.3.0-rc.1", &["v1.2.3", "v1.3.0-rc.1"], &["v1.3.0-rc.1"]),
        (
            "v1.9.1",
            &["v1.9.0", "v1.10.0", "v1.9.1"],
            &["v1.9.1", "1.9"],
        ),
    ];
    for (name, repo, want) in cases {
        assert_eq!(
            tags(SEMVER3, Latest::Auto, &tag(name, repo)),
            *want,
            "tag {name} with {repo:?}"
        );
    }
}

#[test]
fn floating_ranges_compare_releases_only() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        // A higher patch in the same minor holds back both floating tags.
        ("v1.2.3", &["v1.2.4"], &["v1.2.3"]),
        // A higher minor holds back `1` but not `1.2`.
        ("v1.2.3", &["v1.3.0"], &["v1.2.3", "1.2"]),
        // Prereleases, unparsable tags and other majors do not count.
        (
            "v1.2.3",
            &["v1.3.0-rc.1", "release-9", "v1.9", "v0.9.9"],
            &["v1.2.3", "1.2", "1", "latest"],
        ),
        // `1.2.3` and `v1.2.3` are one version; the released tag need not be listed yet.
        ("v1.2.3", &["1.2.3"], &["v1.2.3", "1.2", "1", "latest"]),
        ("v1.2.3", &[], &["v1.2.3", "1.2", "1", "latest"]),
        // Build metadata does not make a version higher.
        (
            "v1.2.3",
            &["v1.2.3+build.9"],
            &["v1.2.3", "1.2", "1", "latest"],
        ),
    ];
    for (name, repo, want) in cases {
        assert_eq!(
            tags(SEMVER3, Latest::Auto, &tag(name, repo)),
            *want,
            "tag {name} with {repo:?}"
        );
    }
}

#[test]
fn semver_patterns_render() {
    let cases: &[(&str, &str, &[&str])] = &[
        ("v1.2.3", "type=semver,pattern={{version}}", &["1.2.3"]),
        ("1.2.3", "type=semver,pattern=v{{version}}", &["v1.2.3"]),
        ("v1.2.3", "type=semver,pattern={{raw}}", &["v1.2.3"]),
        (
            "v1.2.3",
            "type=semver,pattern={{major}}.{{minor}}.{{patch}}",
            &["1.2.3"],
        ),
        (
            "v1.2.3",
            "type=pep440,pattern={{major}}.{{minor}}",
            &["1.2"],
        ),
        ("v1.2.3", "type=semver,pattern=stable", &["stable"]),
        (
            "v1.2.3+build.5",
            "type=semver,pattern={{version}}",
            &["1.2.3"],
        ),
        (
            "v1.3.0-rc.1",
            "type=semver,pattern={{version}}",
            &["1.3.0-rc.1"],
        ),
        (
            "v1.3.0-rc.1",
            "type=semver,pattern={{raw}}",
            &["v1.3.0-rc.1"],
        ),
        (
            "v1.3.0-rc.1",
            "type=semver,pattern={{major}}.{{minor}}.{{patch}}",
            &[],
        ),
        (
            "v1.3.0-rc.1",
            "type=semver,pattern={{major}}.{{minor}}",
            &[],
        ),
        ("v1.3.0-rc.1", "type=semver,pattern=stable", &[]),
        // Major zero: `{{major}}` alone never emits `0`, even with a prefix.
        ("v0.4.1", "type=semver,pattern=v{{major}}", &[]),
        ("v0.4.1", "type=semver,pattern={{minor}}", &["4"]),
        // Not semver: the rule emits nothing, without error.
        ("release-7", "type=semver,pattern={{version}}", &[]),
        ("v1.2", "type=semver,pattern={{version}}", &[]),
        // `match` narrows the tag; group 1 when the regex has one, else the whole match.
        (
            "api/v2.0.1",
            r"type=semver,pattern={{version}},match=api/(v\d+\.\d+\.\d+)",
            &["2.0.1"],
        ),
        (
            "api/v2.0.1",
            r"type=semver,pattern={{raw}},match=\d+\.\d+\.\d+",
            &["2.0.1"],
        ),
        (
            "web/v2.0.1",
            r"type=semver,pattern={{version}},match=api/(.*)",
            &[],
        ),
    ];
    for (name, rule, want) in cases {
        assert_eq!(
            tags(&[rule], Latest::False, &tag(name, &[])),
            *want,
            "{rule} on {name}"
        );
    }
}

#[test]
fn semver_value_works_on_any_event() {
    let rule = ["type=semver,pattern={{version}},value=v3.1.4"];
    let mut dispatch = branch("main");
    dispatch.event = Event::WorkflowDispatch;
    // As in metadata-action, a semver rule's release gives `latest` on any event.
    assert_eq!(tags(&rule, Latest::Auto, &dispatch), ["3.1.4", "latest"]);
    let mut release = tag("v1.0.0", &["v1.0.0"]);
    release.event = Event::Release;
    assert_eq!(
        tags(SEMVER3, Latest::Auto, &release),
        ["v1.0.0", "1.0", "1", "latest"]
    );
    // `value` is templated: the branch carries the version here.
    let rule = ["type=semver,pattern={{major}}.{{minor}},value={{branch}}"];
    assert_eq!(
        tags(&rule, Latest::False, &branch("release/2.5.0")),
        [] as [&str; 0]
    );
    let rule = ["type=semver,pattern={{major}}.{{minor}},value={{branch}},match=release/(.*)"];
    assert_eq!(
        tags(&rule, Latest::False, &branch("release/2.5.0")),
        ["2.5"]
    );
}

#[test]
fn latest_policies() {
    let highest = tag("v2.0.0", &["v1.0.0", "v2.0.0"]);
    let older = tag("v1.5.0", &["v1.0.0", "v2.0.0"]);
    let not_version = tag("nightly-build", &[]);
    let cases: &[(Latest, &RefContext, &[&str])] = &[
        (Latest::Auto, &highest, &["v2.0.0", "latest"]),
        (Latest::Auto, &older, &["v1.5.0"]),
        // As in metadata-action: a tag that is no version gets `latest` from ref,event=tag.
        (Latest::Auto, &not_version, &["nightly-build", "latest"]),
        (Latest::True, &older, &["v1.5.0", "latest"]),
        (Latest::False, &highest, &["v2.0.0"]),
    ];
    for (latest, c, want) in cases {
        assert_eq!(
            tags(&["type=ref,event=tag"], *latest, c),
            *want,
            "{latest:?} on {:?}",
            c.git_ref
        );
    }
    // Auto never adds latest to a branch push, even the default branch.
    assert_eq!(
        tags(&["type=ref,event=branch"], Latest::Auto, &branch("main")),
        ["main"]
    );
    assert_eq!(tags(&[], Latest::True, &branch("main")), ["latest"]);
    // A raw rule gives the default branch `latest`; it is not repeated.
    let raw = ["type=raw,value=latest,enable={{is_default_branch}}"];
    assert_eq!(tags(&raw, Latest::True, &branch("main")), ["latest"]);
    assert_eq!(tags(&raw, Latest::Auto, &branch("dev")), [] as [&str; 0]);
}

#[test]
fn latest_auto_uses_the_semver_rule_version() {
    // The tag name is not a version, but the first semver rule finds one in it.
    let r = [r"type=semver,pattern={{version}},match=app-(.*)"];
    let c = tag("app-v2.0.0", &["app-v1.0.0", "v0.1.0"]);
    assert_eq!(tags(&r, Latest::Auto, &c), ["2.0.0", "latest"]);
    // A disabled semver rule does not decide.
    let r = ["type=semver,pattern={{version}},value=v9.0.0,enable=false"];
    let c = tag("v1.0.0", &["v2.0.0"]);
    assert_eq!(tags(&r, Latest::Auto, &c), [] as [&str; 0]);
}

#[test]
fn flavor_prefix_and_suffix() {
    let flavor = Flavor {
        prefix: "app-".into(),
        suffix: "-alpine".into(),
        onlatest: false,
    };
    let texts = [
        "type=ref,event=branch",
        "type=ref,event=branch,prefix=own-",
        "type=ref,event=branch,suffix=",
        "type=sha",
    ];
    let set = set_with(&texts, Latest::True, &flavor, &branch("main"));
    assert_eq!(
        set.tags,
        [
            "app-main-alpine",
            "own-main-alpine",
            "app-main",
            "sha-abc1234-alpine",
            "latest"
        ]
    );
    let onlatest = Flavor {
        onlatest: true,
        ..flavor
    };
    let set = set_with(
        &["type=raw,value=x"],
        Latest::True,
        &onlatest,
        &branch("dev"),
    );
    assert_eq!(set.tags, ["app-x-alpine", "app-latest-alpine"]);
    // The flavor may use templates too.
    let templated = Flavor {
        prefix: "{{branch}}-".into(),
        ..Flavor::default()
    };
    let set = set_with(
        &["type=raw,value=x"],
        Latest::False,
        &templated,
        &branch("dev"),
    );
    assert_eq!(set.tags, ["dev-x"]);
    let bad = Flavor {
        prefix: "{{nope}}".into(),
        ..Flavor::default()
    };
    let err = compute(&[], Latest::False, &bad, &branch("dev")).unwrap_err();
    assert!(
        err.contains("flavor.prefix") && err.contains("nope"),
        "{err}"
    );
}

#[test]
fn output_is_ordered_by_priority_and_deduplicated() {
    let mut c = tag("v1.0.0", &[]);
    c.event = Event::Schedule;
    let texts = [
        "type=sha",
        "type=raw,value=b",
        "type=raw,value=a",
        "type=ref,event=tag",
        "type=match,pattern=v(\\d+),group=1",
        "type=semver,pattern={{version}}",
        "type=schedule",
        "type=raw,value=first,priority=5000",
        "type=raw,value=v1.0.0",
    ];
    assert_eq!(
        tags(&texts, Latest::Auto, &c),
        [
            "first",
            "nightly",
            "1.0.0",
            "1",
            "v1.0.0",
            "b",
            "a",
            "sha-abc1234",
        ]
    );
    // No `latest`: as in metadata-action, `latest = auto` follows the rule of the first tag
    // (here a raw rule; see latest_auto_follows_the_rule_of_the_first_tag).
}

#[test]
fn schedule_rule() {
    let mut nightly = branch("main");
    nightly.event = Event::Schedule;
    let cases: &[(&str, &RefContext, &[&str])] = &[
        ("type=schedule", &nightly, &["nightly"]),
        ("type=schedule", &branch("main"), &[]),
        (
            "type=schedule,pattern={{date 'YYYYMMDD'}}",
            &nightly,
            &["20231114"],
        ),
        (
            r#"type=schedule,pattern="nightly-{{date ""YYYY-MM-DD[T]HHmmss""}}""#,
            &nightly,
            &["nightly-2023-11-14T221320"],
        ),
        (
            "type=schedule,pattern={{branch}}-{{commit_date 'YYMMDD'}}",
            &nightly,
            &["main-231113"],
        ),
    ];
    for (rule, c, want) in cases {
        assert_eq!(
            tags(&[rule], Latest::False, c),
            *want,
            "{rule} on {:?}",
            c.event
        );
    }
}

#[test]
fn edge_rule() {
    let cases: &[(&str, &RefContext, &[&str])] = &[
        ("type=edge", &branch("main"), &["edge"]),
        ("type=edge", &branch("dev"), &[]),
        ("type=edge", &tag("v1.0.0", &[]), &[]),
        ("type=edge,branch=dev", &branch("dev"), &["edge"]),
        ("type=edge,branch=dev", &branch("main"), &[]),
    ];
    for (rule, c, want) in cases {
        assert_eq!(
            tags(&[rule], Latest::False, c),
            *want,
            "{rule} on {:?}",
            c.git_ref
        );
    }
}

#[test]
fn ref_rules() {
    let pr42 = pr(42, "feat/x", "main");
    let cases: &[(&str, &RefContext, &[&str])] = &[
        ("type=ref,event=branch", &branch("dev"), &["dev"]),
        ("type=ref,event=branch", &tag("v1.0.0", &[]), &[]),
        ("type=ref,event=branch", &pr42, &[]),
        ("type=ref,event=tag", &tag("v1.0.0", &[]), &["v1.0.0"]),
        ("type=ref,event=tag", &branch("dev"), &[]),
        ("type=ref,event=pr", &pr42, &["pr-42"]),
        ("type=ref,event=pr,prefix=", &pr42, &["42"]),
        ("type=ref,event=pr", &branch("dev"), &[]),
        // On a pull request `{{branch}}` is the head branch and the sha the head commit.
        ("type=raw,value={{branch}}", &pr42, &["feat-x"]),
        (
            "type=raw,value={{base_ref}}-{{sha}}",
            &pr42,
            &["main-abc1234"],
        ),
        ("type=sha,prefix={{branch}}-", &pr42, &["feat-x-abc1234"]),
    ];
    for (rule, c, want) in cases {
        assert_eq!(
            tags(&[rule], Latest::False, c),
            *want,
            "{rule} on {:?}",
            c.git_ref
        );
    }
}

#[test]
fn sha_rule() {
    let mut no_commit = branch("main");
    no_commit.sha.clear();
    let gated = "type=sha,prefix={{branch}}-,enable={{is_default_branch}}";
    let cases: &[(&str, &RefContext, &[&str])] = &[
        ("type=sha", &branch("dev"), &["sha-abc1234"]),
        (
            "type=sha,format=long",
            &branch("dev"),
            &[&["sha-", SHA].concat()],
        ),
        (
            "type=sha,format=short,prefix=",
            &ctx(GitRef::Detached),
            &["abc1234"],
        ),
        (
            "type=sha,suffix=-{{tag}}",
            &tag("v1.0.0", &[]),
            &["sha-abc1234-v1.0.0"],
        ),
        ("type=sha", &no_commit, &[]),
        (gated, &branch("main"), &["main-abc1234"]),
        (gated, &branch("dev"), &[]),
        // `{{branch}}` is empty on a tag: the leading `-` is stripped.
        (
            "type=sha,prefix={{branch}}-",
            &tag("v1.0.0", &[]),
            &["abc1234"],
        ),
    ];
    for (rule, c, want) in cases {
        assert_eq!(
            tags(&[rule], Latest::False, c),
            *want,
            "{rule} on {:?}",
            c.git_ref
        );
    }
}

#[test]
fn match_rule() {
    let cases: &[(&str, &RefContext, &[&str])] = &[
        (
            r"type=match,pattern=v(\d+\.\d+),group=1",
            &tag("v1.2.3", &[]),
            &["1.2"],
        ),
        (r"type=match,pattern=v\d+", &tag("v1.2.3", &[]), &["v1"]),
        (
            r"type=match,pattern=^x(\d+)$,group=1",
            &tag("v1.2.3", &[]),
            &[],
        ),
        (r"type=match,pattern=(a)|(b),group=2", &tag("a", &[]), &[]),
        (r"type=match,pattern=v(\d+),group=1", &branch("v7"), &[]),
        (
            r"type=match,pattern=(\d+),group=1,value={{branch}}",
            &branch("release-17"),
            &["17"],
        ),
        (
            r#"type=match,pattern="\d{1,3}.\d{1,3}",group=0"#,
            &tag("v10.20.30", &[]),
            &["10.20"],
        ),
        (
            r#""type=match","pattern=\d{1,3}.\d{1,3}""#,
            &tag("v10.20.30", &[]),
            &["10.20"],
        ),
    ];
    for (rule, c, want) in cases {
        assert_eq!(
            tags(&[rule], Latest::False, c),
            *want,
            "{rule} on {:?}",
            c.git_ref
        );
    }
}

#[test]
fn raw_rule_and_templates() {
    let mut dev = branch("dev");
    dev.git_ref = GitRef::Branch { name: "dev".into() };
    let cases: &[(&str, &RefContext, &[&str])] = &[
        ("type=raw,value=stable", &dev, &["stable"]),
        (
            "type=raw,value={{ branch }}-{{sha}}",
            &dev,
            &["dev-abc1234"],
        ),
        (
            "type=raw,value=build-{{date 'YYYYMMDDHHmmss'}}",
            &dev,
            &["build-20231114221320"],
        ),
        (
            "type=raw,value={{commit_date 'DD.MM.YYYY hh'}}",
            &dev,
            &["13.11.2023-08"],
        ),
        ("type=raw,value={{is_default_branch}}", &dev, &["false"]),
        ("type=raw,value={{tag}}", &dev, &[]),
        ("type=raw,value=x,enable=false", &dev, &[]),
        ("type=raw,value=x,enable={{is_default_branch}}", &dev, &[]),
        (
            "type=raw,value=x,enable={{is_default_branch}}",
            &branch("main"),
            &["x"],
        ),
    ];
    for (rule, c, want) in cases {
        assert_eq!(tags(&[rule], Latest::False, c), *want, "{rule}");
    }
}

#[test]
fn enable_must_render_a_boolean() {
    let err = compute(
        &rules(&["type=raw,value=x,enable={{branch}}"]),
        Latest::False,
        &Flavor::default(),
        &branch("dev"),
    )
    .unwrap_err();
    assert!(err.contains("enable rendered \"dev\""), "{err}");
    assert!(err.contains("type=raw,value=x,enable={{branch}}"), "{err}");
}

#[test]
fn defaults_match_metadata_action() {
    let defaults = Rule::defaults();
    assert_eq!(
        defaults.iter().map(Rule::kind).collect::<Vec<_>>(),
        ["schedule", "ref", "ref", "ref"]
    );
    let mut nightly = branch("main");
    nightly.event = Event::Schedule;
    let cases: &[(&RefContext, &[&str])] = &[
        (&branch("main"), &["main"]),
        (&tag("v1.0.0", &[]), &["v1.0.0", "latest"]),
        (&pr(7, "fix/y", "main"), &["pr-7"]),
        (&nightly, &["nightly", "main"]),
        (&ctx(GitRef::Detached), &[]),
    ];
    for (c, want) in cases {
        let got = compute(&defaults, Latest::Auto, &Flavor::default(), c).unwrap();
        assert_eq!(got.tags, *want, "{:?}", c.git_ref);
    }
}

#[test]
fn branch_names_are_sanitised_and_reported() {
    let set = set_with(
        &["type=ref,event=branch"],
        Latest::False,
        &Flavor::default(),
        &branch("feature/Login#12"),
    );
    assert_eq!(set.tags, ["feature-Login-12"]);
    assert!(is_valid_tag(&set.tags[0]));
    assert_eq!(set.rewritten.len(), 1);
    assert_eq!(set.rewritten[0].from, "feature/Login#12");
    assert_eq!(set.rewritten[0].to, "feature-Login-12");
    assert!(set.rewritten[0].reason.contains("[A-Za-z0-9._-]"));
    // A valid tag is not reported.
    let set = set_with(
        &["type=ref,event=branch"],
        Latest::False,
        &Flavor::default(),
        &branch("a_b.c-D"),
    );
    assert_eq!(set.tags, ["a_b.c-D"]);
    assert!(set.rewritten.is_empty());
}

#[test]
fn make_valid_cases() {
    let cases: &[(&str, &str, usize)] = &[
        ("v1.2.3", "v1.2.3", 0),
        ("feature/Login#12", "feature-Login-12", 1),
        ("a//b  c", "a-b-c", 1),
        ("naïve", "na-ve", 1),
        (".hidden", "hidden", 1),
        ("-x", "x", 1),
        ("/.-x", "x", 2),
        ("_x", "_x", 0),
        ("x-", "x-", 0),
        ("///", "", 3),
        ("", "", 0),
    ];
    for (raw, want, n) in cases {
        let (got, reasons) = make_valid(raw);
        assert_eq!(got, *want, "{raw:?}");
        assert_eq!(reasons.len(), *n, "{raw:?}: {reasons:?}");
    }
}

#[test]
fn long_tags_are_truncated_distinctly() {
    let long_a = format!("{}{}", "a".repeat(150), "x".repeat(50));
    let long_b = format!("{}{}", "a".repeat(150), "y".repeat(50));
    let mut out = Vec::new();
    for name in [&long_a, &long_b] {
        let set = set_with(
            &["type=ref,event=branch"],
            Latest::False,
            &Flavor::default(),
            &branch(name),
        );
        assert_eq!(set.tags.len(), 1);
        let t = set.tags[0].clone();
        assert_eq!(t.len(), 128);
        assert!(is_valid_tag(&t), "{t}");
        assert_eq!(&t[..121], format!("{}-", "a".repeat(120)));
        assert!(t[121..].chars().all(|c| c.is_ascii_hexdigit()), "{t}");
        assert_eq!(set.rewritten.len(), 1);
        assert_eq!(set.rewritten[0].from, *name);
        assert_eq!(set.rewritten[0].to, t);
        assert!(set.rewritten[0].reason.contains("128"));
        out.push(t);
    }
    assert_ne!(out[0], out[1]);
    // Stable: the same input gives the same tag.
    assert_eq!(make_valid(&long_a).0, out[0]);
    let expected: String = Sha256::digest(long_a.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(&out[0][121..], &expected[..7]);
    // 128 characters exactly are kept.
    let exact = "b".repeat(128);
    assert_eq!(make_valid(&exact), (exact.clone(), Vec::new()));
}

#[test]
fn rewrites_are_recorded_once() {
    let set = set_with(
        &[
            "type=ref,event=branch",
            "type=raw,value={{branch}}",
            "type=raw,value=###",
        ],
        Latest::False,
        &Flavor::default(),
        &branch("a/b"),
    );
    assert_eq!(set.tags, ["a-b"]);
    assert_eq!(
        set.rewritten
            .iter()
            .map(|r| (r.from.as_str(), r.to.as_str()))
            .collect::<Vec<_>>(),
        [("a/b", "a-b"), ("###", "")]
    );
}

#[test]
fn parsing_reads_csv_fields() {
    let r: Rule = r#" type = match , pattern = "a,b" , group = 0 ,"#.parse().unwrap();
    assert_eq!(r.kind(), "match");
    assert_eq!(r.priority(), 800);
    assert_eq!(
        tags(&[r#"type=raw,value="x""y""#], Latest::False, &branch("dev")),
        ["x-y"]
    );
    assert_eq!(
        r.to_string(),
        r#" type = match , pattern = "a,b" , group = 0 ,"#
    );
    let priorities: Vec<i64> = rules(&[
        "type=schedule",
        "type=semver,pattern={{version}}",
        "type=pep440,pattern={{version}}",
        "type=match,pattern=x",
        "type=edge",
        "type=ref,event=tag",
        "type=raw,value=x",
        "type=sha",
        "type=sha,priority=-5",
    ])
    .iter()
    .map(Rule::priority)
    .collect();
    assert_eq!(priorities, [1000, 900, 900, 800, 700, 600, 200, 100, -5]);
    assert_eq!(
        "type=raw,value={{date 'YYYY' tz='UTC'}}"
            .parse::<Rule>()
            .map(|r| r.kind()),
        Ok("raw")
    );
}
