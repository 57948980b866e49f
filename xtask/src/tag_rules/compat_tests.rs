//! The tag engine's cases for what metadata-action's own tests hold it to: the short form,
//! `latest = auto` from the first tag's rule, PEP 440, time zones, `{{is_not_default_branch}}`,
//! `{{base_ref}}` of a tag push and skipped match groups.

use super::engine::*;
use super::tests::{branch, pr, set_with, tag, tags};

#[test]
fn latest_auto_follows_the_rule_of_the_first_tag() {
    let c = tag("v1.2.3", &["v1.0.0"]);
    let cases: &[(&[&str], bool)] = &[
        (&["type=raw,value=foo"], false),
        (&["type=raw,foo", "type=raw,bar"], false),
        (&["type=sha"], false),
        (&["type=ref,event=tag"], true),
        (&["type=semver,pattern={{version}}"], true),
        (&["type=pep440,pattern={{version}}"], true),
        (&["type=match,pattern=v(\\d+),group=1"], true),
        (
            &[
                "type=raw,value=foo,priority=1000",
                "type=semver,pattern={{version}}",
            ],
            false,
        ),
        (
            &["type=raw,value=foo", "type=semver,pattern={{version}}"],
            true,
        ),
    ];
    for (texts, want) in cases {
        let got = tags(texts, Latest::Auto, &c);
        assert_eq!(
            got.contains(&"latest".to_string()),
            *want,
            "{texts:?}: {got:?}"
        );
    }
    // A lower release among the repository's tags never takes `latest` (stevedore's rule).
    let older = tag("v1.2.3", &["v2.0.0"]);
    assert_eq!(
        tags(&["type=ref,event=tag"], Latest::Auto, &older),
        ["v1.2.3"]
    );
}

#[test]
fn a_field_without_equals_is_the_value_as_in_metadata_action() {
    let c = branch("dev");
    let cases: &[(&str, &str)] = &[
        ("type=raw,foo", "type=raw,value=foo"),
        ("foo", "type=raw,value=foo"),
        ("type=raw,{{branch}}-x", "type=raw,value={{branch}}-x"),
        ("type=raw,\"a,b\"", "type=raw,value=\"a,b\""),
        ("type=raw,prefix=p-,my", "type=raw,prefix=p-,value=my"),
        ("TYPE=raw,Value=x", "type=raw,value=x"),
        (
            "type=semver,pattern={{version}},v1.2.3",
            "type=semver,pattern={{version}},value=v1.2.3",
        ),
    ];
    for (short, long) in cases {
        let (short_tags, long_tags) = (
            tags(&[short], Latest::False, &c),
            tags(&[long], Latest::False, &c),
        );
        assert!(!short_tags.is_empty(), "{short}");
        assert_eq!(short_tags, long_tags, "{short} vs {long}");
    }
    assert_eq!(
        tags(&["type=raw,my", "type=raw,custom"], Latest::Auto, &c),
        ["my", "custom"]
    );
}

#[test]
fn pep440_rules_read_pep440_versions() {
    let pep = [
        "type=pep440,pattern={{raw}}",
        "type=pep440,pattern={{version}}",
        "type=pep440,pattern={{major}}.{{minor}}",
        "type=pep440,pattern={{major}}",
    ];
    let cases: &[(&str, &[&str], &[&str])] = &[
        ("1.2", &[], &["1.2", "1", "latest"]),
        ("v1.1.1", &[], &["v1.1.1", "1.1.1", "1.1", "1", "latest"]),
        ("1.2.3rc2", &[], &["1.2.3rc2"]),
        ("v1.2.3rc2", &[], &["v1.2.3rc2", "1.2.3rc2"]),
        ("1.1beta2", &[], &["1.1beta2", "1.1b2"]),
        ("1.2post1", &[], &["1.2post1", "1.2.post1"]),
        // Floating tags and `latest` follow the highest PEP 440 release among the tags.
        ("1.2", &["1.10", "2.0rc1"], &["1.2"]),
        ("1.2", &["1.1", "2.0rc1"], &["1.2", "1", "latest"]),
        ("sometag", &[], &[]),
    ];
    for (name, others, want) in cases {
        let mut all: Vec<&str> = others.to_vec();
        all.push(name);
        assert_eq!(
            tags(&pep, Latest::Auto, &tag(name, &all)),
            *want,
            "{name} among {others:?}"
        );
    }
}

#[test]
fn dates_take_an_iana_zone_and_an_unquoted_format_renders_iso() {
    let c = branch("main");
    let cases: &[(&str, &str)] = &[
        (
            "type=raw,value={{date 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}",
            "20231115-071320",
        ),
        (
            "type=raw,value={{commit_date 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}",
            "20231113-170509",
        ),
        (
            "type=raw,value={{date 'YYYYMMDD-HHmmss'}}",
            "20231114-221320",
        ),
        (
            "type=raw,value=src-{{commit_date YYYY-MM-DD}}",
            "src-2023-11-13T08-05-09Z",
        ),
    ];
    for (rule, want) in cases {
        assert_eq!(tags(&[rule], Latest::False, &c), [*want], "{rule}");
    }
    let set = set_with(
        &["type=raw,value={{commit_date YYYY-MM-DD}}"],
        Latest::False,
        &Flavor::default(),
        &c,
    );
    assert_eq!(set.warnings.len(), 1, "{set:?}");
    assert!(set.warnings[0].contains("'YYYY-MM-DD'"), "{set:?}");
}

#[test]
fn is_not_default_branch_and_base_ref() {
    let rule = ["type=raw,value=preview,enable={{is_not_default_branch}}"];
    assert_eq!(tags(&rule, Latest::False, &branch("dev")), ["preview"]);
    assert_eq!(tags(&rule, Latest::False, &branch("main")), [] as [&str; 0]);
    let base = ["type=raw,value={{base_ref}}-x"];
    let mut pushed = tag("v1.0.0", &[]);
    assert_eq!(tags(&base, Latest::False, &pushed), ["x"]);
    pushed.base_ref = Some("master".into());
    assert_eq!(tags(&base, Latest::False, &pushed), ["master-x"]);
    assert_eq!(
        tags(&base, Latest::False, &pr(3, "feat", "main")),
        ["main-x"]
    );
    assert_eq!(tags(&base, Latest::False, &branch("main")), ["x"]);
}

#[test]
fn a_match_group_that_does_not_exist_is_skipped_with_a_warning() {
    let c = tag("v1.2.3", &[]);
    let set = set_with(
        &["type=match,pattern=v(\\d),group=2", "type=ref,event=tag"],
        Latest::False,
        &Flavor::default(),
        &c,
    );
    assert_eq!(set.tags, ["v1.2.3"]);
    assert_eq!(set.warnings.len(), 1, "{set:?}");
    assert!(
        set.warnings[0].contains("group 2 does not exist"),
        "{set:?}"
    );
    assert!(set.warnings[0].contains("groups 0 to 1"), "{set:?}");
}

#[test]
fn match_patterns_take_metadata_action_slash_form() {
    let c = tag("V1.2.3", &[]);
    let cases: &[(&str, &[&str])] = &[
        ("type=match,pattern=/v(\\d+)/i,group=1", &["1"]),
        ("type=match,pattern=/v(\\d+)/gi,group=1", &["1"]),
        ("type=match,pattern=/v(\\d+)/,group=1", &[]),
        ("type=match,pattern=V(\\d+),group=1", &["1"]),
    ];
    for (rule, want) in cases {
        assert_eq!(tags(&[rule], Latest::False, &c), *want, "{rule}");
    }
}

#[test]
fn rules_name_the_documented_differences_they_meet() {
    use super::rules::{Rule, DIFFERENCE_FLOATING, DIFFERENCE_PR_COMMIT};
    let cases: &[(&str, &[&str])] = &[
        ("type=semver,pattern={{version}}", &[]),
        ("type=semver,pattern={{raw}}", &[]),
        (
            "type=semver,pattern={{major}}.{{minor}}",
            &[DIFFERENCE_FLOATING],
        ),
        ("type=semver,pattern=v{{major}}", &[DIFFERENCE_FLOATING]),
        ("type=pep440,pattern={{major}}", &[DIFFERENCE_FLOATING]),
        ("type=sha", &[DIFFERENCE_PR_COMMIT]),
        ("type=sha,format=long", &[DIFFERENCE_PR_COMMIT]),
        ("type=raw,value={{branch}}-{{sha}}", &[DIFFERENCE_PR_COMMIT]),
        ("type=ref,event=pr,suffix=-{{sha}}", &[DIFFERENCE_PR_COMMIT]),
        // Branch and tag pushes only: no pull request is ever tagged by these.
        ("type=ref,event=branch,suffix=-{{sha}}", &[]),
        ("type=ref,event=pr", &[]),
        ("type=raw,value=latest", &[]),
        ("type=edge", &[]),
    ];
    for (text, want) in cases {
        let rule: Rule = text.parse().unwrap();
        assert_eq!(rule.differences(), *want, "{text}");
    }
}
