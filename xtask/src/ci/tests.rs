use super::yaml::{is_plain, quote, scalar, Writer};
use super::*;

#[test]
fn scalars_are_plain_only_when_yaml_reads_them_back_unchanged() {
    let cases: &[(&str, &str)] = &[
        ("release", "release"),
        ("ubuntu-24.04", "ubuntu-24.04"),
        ("release-${{ github.ref }}", "release-${{ github.ref }}"),
        ("${{ secrets.GITHUB_TOKEN }}", "${{ secrets.GITHUB_TOKEN }}"),
        (
            "cargo xtask build --platform linux/arm64",
            "cargo xtask build --platform linux/arm64",
        ),
        ("true", "\"true\""),
        ("on", "\"on\""),
        ("No", "\"No\""),
        ("1.95.0", "\"1.95.0\""),
        ("", "\"\""),
        ("a: b", "\"a: b\""),
        ("a #b", "\"a #b\""),
        ("-x", "\"-x\""),
        ("*anchor", "\"*anchor\""),
        ("{x}", "\"{x}\""),
        ("say \"hi\"", "\"say \\\"hi\\\"\""),
        ("line\nbreak", "\"line\\nbreak\""),
        ("v*", "v*"),
        ("tab\there", "\"tab\\there\""),
    ];
    for (input, want) in cases {
        assert_eq!(&scalar(input), want, "scalar({input:?})");
    }
    assert!(!is_plain("trailing "));
    assert_eq!(quote("back\\slash"), "\"back\\\\slash\"");
}

#[test]
fn every_written_scalar_parses_back_to_the_same_string() {
    let values = [
        "release", "a: b", "true", "${{ x }}", "1.0", "x # y", "'quoted'", "é", "-", "?", "[a]",
        "%", "@x", "`cmd`", "a\\b", "null", "~",
    ];
    for v in values {
        let mut w = Writer::new();
        w.pair(0, "k", v);
        let text = w.finish();
        // The scalars of the document, as a YAML parser reads them: the key, then the value.
        let scalars: Vec<String> = saphyr_parser::Parser::new_from_str(&text)
            .map(|e| e.expect("valid YAML").0)
            .filter_map(|e| match e {
                saphyr_parser::Event::Scalar(s, style, _, _) => Some((s, style)),
                _ => None,
            })
            .map(|(s, style)| {
                // A plain `null`, `true` or number would not be the string written.
                if style == saphyr_parser::ScalarStyle::Plain {
                    assert!(is_plain(&s), "{s:?} written plain: {text}");
                }
                s.to_string()
            })
            .collect();
        assert_eq!(scalars, ["k", v], "{text}");
    }
}

#[test]
fn scripts_are_plain_or_literal_blocks() {
    let mut w = Writer::new();
    w.script(2, "run", "cargo xtask release");
    w.script(2, "run", "echo \"a: b\"\necho two");
    assert_eq!(
        w.finish(),
        "  run: cargo xtask release\n  run: |\n    echo \"a: b\"\n    echo two\n"
    );
}

#[test]
fn runners_are_native_for_amd64_and_arm64_else_emulated() {
    let cases = [
        ("linux/amd64", "ubuntu-24.04", false),
        ("linux/arm64", "ubuntu-24.04-arm", false),
        ("linux/arm64/v8", "ubuntu-24.04-arm", false),
        ("linux/arm/v7", "ubuntu-24.04", true),
        ("linux/s390x", "ubuntu-24.04", true),
        ("linux/riscv64", "ubuntu-24.04", true),
    ];
    for (platform, label, emulated) in cases {
        let r = runner_for(&platform.parse().unwrap());
        assert_eq!((r.label, r.emulated), (label, emulated), "{platform}");
    }
}

#[test]
fn branch_pushes_release_only_when_a_rule_tags_them() {
    let cases = [
        ("type=ref,event=branch", true),
        ("type=sha,prefix={{branch}}-", true),
        ("type=edge", true),
        ("type=raw,value=nightly", true),
        ("type=semver,pattern={{version}}", false),
        ("type=ref,event=tag", false),
        ("type=ref,event=pr", false),
        ("type=match,pattern=v(.*),group=1", false),
    ];
    for (rule, want) in cases {
        assert_eq!(rule_fires_on_branch(rule), want, "{rule}");
    }
}

#[test]
fn shell_words_are_quoted_when_needed() {
    assert_eq!(shell_word("images/release.toml"), "images/release.toml");
    assert_eq!(shell_word("my config.toml"), "'my config.toml'");
    assert_eq!(shell_word("it's"), "'it'\\''s'");
    assert_eq!(shell_word("$(id)"), "'$(id)'");
}

#[test]
fn toolchain_files_name_their_channel() {
    assert_eq!(
        toolchain_channel(&toolchain_file("1.95.0")).as_deref(),
        Ok("1.95.0")
    );
    assert_eq!(
        toolchain_channel("[toolchain]\nchannel = \"stable\"\n").as_deref(),
        Ok("stable")
    );
    assert!(toolchain_channel("[toolchain]\nprofile = \"minimal\"\n")
        .unwrap_err()
        .contains("channel"));
    assert!(toolchain_channel("[toolchain\n")
        .unwrap_err()
        .contains("not valid TOML"));
    assert_eq!(
        rustc_release("rustc 1.95.0 (59807616e 2026-04-14)").as_deref(),
        Some("1.95.0")
    );
    assert_eq!(rustc_release("rustc nonsense"), None);
    assert_eq!(rustc_release(""), None);
}

#[test]
fn actions_are_pinned_by_full_commit_sha_with_a_version() {
    for a in steps::ACTIONS {
        assert_eq!(a.sha.len(), 40, "{}", a.repo);
        assert!(a
            .sha
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert!(a.version.starts_with('v'), "{}", a.repo);
    }
}

#[test]
fn tag_filters_follow_the_repository_s_version_tags() {
    let tags = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(tag_filters(&tags(&[])), ["v*"]);
    assert_eq!(tag_filters(&tags(&["v1.2.3", "latest", "nightly"])), ["v*"]);
    assert_eq!(
        tag_filters(&tags(&["1.37.1", "1.37.2-rc.1", "docs-2024"])),
        [BARE_VERSION_FILTER]
    );
    assert_eq!(
        tag_filters(&tags(&["v0.9.0", "1.0.0"])),
        ["v*", BARE_VERSION_FILTER]
    );
}
