//! The release version: `1.2.3` on tag `v1.2.3`, a `git describe`-style dev version otherwise.

use super::context::{GitRef, RefContext};
use semver::Version;

/// The version being released.
///
/// On a tag that parses as semver: the version without its leading `v` and build metadata.
/// Otherwise the `git describe --tags --always --dirty` output without a leading `v`
/// (`1.2.3-4-gabc1234`, `abc1234-dirty`), or the short sha when git gave none (shallow CI
/// checkouts). Always a valid registry tag.
pub fn version(ctx: &RefContext, describe: Option<&str>, dirty: bool) -> String {
    if let GitRef::Tag { name } = &ctx.git_ref {
        if let Some(mut v) = version_of_tag(name) {
            v.build = semver::BuildMetadata::EMPTY;
            // A modified tree is not the tag's content: it never claims its version.
            return if dirty {
                format!("{v}-dirty")
            } else {
                v.to_string()
            };
        }
    }
    let short: String = ctx.sha.chars().take(7).collect();
    let mut v = match describe {
        Some(d) if !d.is_empty() => {
            let d = d.strip_prefix('v').unwrap_or(d);
            d.trim_end_matches("-dirty").to_string()
        }
        _ if short.is_empty() => "0.0.0-dev".to_string(),
        _ => short.clone(),
    };
    if dirty {
        v.push_str("-dirty");
    }
    let v: String = v
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect();
    // A tag starts with `[A-Za-z0-9_]`: a describe output like `@` or `-x` falls back to the
    // short sha.
    let v = v.trim_start_matches(['.', '-']);
    let v = if v.is_empty() || v.starts_with("dirty") {
        let fallback = if short.is_empty() {
            "0.0.0-dev"
        } else {
            &short
        };
        format!("{fallback}{}", if dirty { "-dirty" } else { "" })
    } else {
        v.to_string()
    };
    v.chars().take(128).collect()
}

/// Seconds since the epoch as ISO 8601 UTC (`2024-05-01T12:00:00Z`).
pub fn iso8601(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Parses a version tag: `v1.2.3`, `1.2.3`, `v1.3.0-rc.1`, `1.2.3+build.5`. The leading `v` is
/// optional; the rest must be strict semver (`1.2`, `V1.2.3` and ` 1.2.3` are not versions).
pub fn version_of_tag(tag: &str) -> Option<Version> {
    Version::parse(tag.strip_prefix('v').unwrap_or(tag)).ok()
}

/// Howard Hinnant's days-to-civil algorithm.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::super::context::Event;
    use super::*;

    fn ctx(git_ref: GitRef) -> RefContext {
        RefContext {
            event: Event::Push,
            git_ref,
            sha: "0123456789abcdef0123456789abcdef01234567".into(),
            commit_time: 0,
            now: 0,
            default_branch: "main".into(),
            repo_tags: vec![],
        }
    }

    #[test]
    fn versions() {
        let tag = |n: &str| GitRef::Tag { name: n.into() };
        let main = GitRef::Branch {
            name: "main".into(),
        };
        let cases: &[(GitRef, Option<&str>, bool, &str)] = &[
            (tag("v1.2.3"), None, false, "1.2.3"),
            (tag("1.2.3+build.5"), None, false, "1.2.3"),
            (tag("v1.3.0-rc.1"), None, false, "1.3.0-rc.1"),
            (tag("release-x"), Some("release-x"), false, "release-x"),
            (
                main.clone(),
                Some("v1.2.3-4-gabc1234"),
                false,
                "1.2.3-4-gabc1234",
            ),
            (
                main.clone(),
                Some("v1.2.3-4-gabc1234-dirty"),
                true,
                "1.2.3-4-gabc1234-dirty",
            ),
            (main.clone(), None, false, "0123456"),
            (GitRef::Detached, Some("abc1234"), true, "abc1234-dirty"),
            (tag("@"), Some("@"), false, "0123456"),
            (tag("@"), Some("@"), true, "0123456-dirty"),
            (tag("--x"), Some("--x"), false, "x"),
            (tag(".v"), Some(".v"), false, "v"),
        ];
        for (r, describe, dirty, want) in cases {
            let v = version(&ctx(r.clone()), *describe, *dirty);
            assert_eq!(v, *want, "{r:?}");
            assert!(crate::oci::reference::is_valid_tag(&v), "{v}");
        }
    }

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn version_of_tag_parses_strict_semver() {
        let cases: &[(&str, Option<&str>)] = &[
            ("v1.2.3", Some("1.2.3")),
            ("1.2.3", Some("1.2.3")),
            ("v1.3.0-rc.1", Some("1.3.0-rc.1")),
            ("v1.2.3+build.5", Some("1.2.3+build.5")),
            ("v1.2", None),
            ("V1.2.3", None),
            ("vv1.2.3", None),
            (" 1.2.3", None),
            ("release-1.2.3", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(
                version_of_tag(text).map(|v| v.to_string()).as_deref(),
                *want,
                "{text:?}"
            );
        }
    }
}
