//! The release version: `1.2.3` on tag `v1.2.3`, a `git describe`-style dev version otherwise.

use std::sync::OnceLock;

use super::context::{GitRef, RefContext};
use regex_lite::Regex;
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

/// A PEP 440 version (`1.2`, `1.2.3rc2`, `v1.0.dev4`, `1.2post1`, `1!2.0+local.7`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pep440 {
    /// The normalised form (`1.1beta2` → `1.1b2`, `1.2post1` → `1.2.post1`), as
    /// metadata-action's `{{version}}` renders it.
    pub normalized: String,
    /// The release segment (`1.2.3` → `[1, 2, 3]`).
    pub release: Vec<u64>,
    /// A pre-release, post-release or development release (metadata-action treats the three
    /// alike: no floating tags, no `latest`).
    pub is_prerelease_like: bool,
}

impl Pep440 {
    /// `{{major}}`, `{{minor}}`, `{{patch}}`: the release's first three numbers (0 when absent).
    pub fn part(&self, i: usize) -> u64 {
        self.release.get(i).copied().unwrap_or(0)
    }

    /// The semver view the engine compares releases with: `major.minor.patch`, with a
    /// prerelease marker when this is not a final release.
    pub fn as_semver(&self) -> Version {
        let mut v = Version::new(self.part(0), self.part(1), self.part(2));
        if self.is_prerelease_like {
            v.pre = semver::Prerelease::new("pep440").expect("a valid prerelease identifier");
        }
        v
    }
}

/// Parses a PEP 440 version with the specification's own regular expression (PEP 440,
/// appendix B: case-insensitive, an optional leading `v`, surrounding spaces ignored) and
/// normalises it as `packaging` does: `alpha`/`beta`/`c`/`pre`/`preview` → `a`/`b`/`rc`, an
/// implicit number is `0`, post and dev releases are `.postN`/`.devN`, `-N` is `.postN`, a
/// zero epoch and leading zeros are dropped, a local label is lower-cased with `.` separators.
pub fn pep440_of_tag(tag: &str) -> Option<Pep440> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(concat!(
            r"(?i)^v?(?:(?P<epoch>[0-9]+)!)?(?P<release>[0-9]+(?:\.[0-9]+)*)",
            r"(?P<pre>[-_.]?(?P<pre_l>alpha|beta|preview|pre|a|b|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?",
            r"(?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?",
            r"(?P<dev>[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?",
            r"(?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?$",
        ))
        .expect("the PEP 440 expression compiles")
    });
    let c = re.captures(tag.trim())?;
    let num = |name: &str| -> Option<u64> {
        match c.name(name) {
            Some(m) => m.as_str().parse().ok(),
            None => Some(0),
        }
    };
    let release: Vec<u64> = c["release"]
        .split('.')
        .map(|n| n.parse().ok())
        .collect::<Option<_>>()?;
    let mut out = String::new();
    let epoch = num("epoch")?;
    if epoch != 0 {
        out.push_str(&format!("{epoch}!"));
    }
    let parts: Vec<String> = release.iter().map(u64::to_string).collect();
    out.push_str(&parts.join("."));
    if let Some(l) = c.name("pre_l") {
        let l = match l.as_str().to_ascii_lowercase().as_str() {
            "a" | "alpha" => "a",
            "b" | "beta" => "b",
            _ => "rc",
        };
        out.push_str(&format!("{l}{}", num("pre_n")?));
    }
    if c.name("post").is_some() {
        let n = if c.name("post_n1").is_some() {
            num("post_n1")?
        } else {
            num("post_n2")?
        };
        out.push_str(&format!(".post{n}"));
    }
    if c.name("dev").is_some() {
        out.push_str(&format!(".dev{}", num("dev_n")?));
    }
    if let Some(local) = c.name("local") {
        let local = local.as_str().to_ascii_lowercase().replace(['-', '_'], ".");
        out.push_str(&format!("+{local}"));
    }
    Some(Pep440 {
        normalized: out,
        release,
        is_prerelease_like: c.name("pre").is_some()
            || c.name("post").is_some()
            || c.name("dev").is_some(),
    })
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
    use super::*;
    use crate::tag_rules::context::Event;

    fn ctx(git_ref: GitRef) -> RefContext {
        RefContext {
            event: Event::Push,
            git_ref,
            sha: "0123456789abcdef0123456789abcdef01234567".into(),
            commit_time: 0,
            now: 0,
            default_branch: "main".into(),
            repo_tags: vec![],
            base_ref: None,
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
    fn pep440_versions_parse_and_normalise_as_packaging_does() {
        // (tag, normalised, release, pre/post/dev)
        let cases: &[(&str, &str, &[u64], bool)] = &[
            ("1.2", "1.2", &[1, 2], false),
            ("v1.1.1", "1.1.1", &[1, 1, 1], false),
            ("1.2.3rc2", "1.2.3rc2", &[1, 2, 3], true),
            ("v1.2.3rc2", "1.2.3rc2", &[1, 2, 3], true),
            ("1.1beta2", "1.1b2", &[1, 1], true),
            ("1.0dev4", "1.0.dev4", &[1, 0], true),
            ("1.2post1", "1.2.post1", &[1, 2], true),
            ("1.2-1", "1.2.post1", &[1, 2], true),
            ("1.2.r", "1.2.post0", &[1, 2], true),
            ("1.0a", "1.0a0", &[1, 0], true),
            ("1.0-C-1", "1.0rc1", &[1, 0], true),
            ("1.0.PREVIEW.2", "1.0rc2", &[1, 0], true),
            ("2.0alpha1.post2.dev3", "2.0a1.post2.dev3", &[2, 0], true),
            ("0!1.0", "1.0", &[1, 0], false),
            ("2!1.0", "2!1.0", &[1, 0], false),
            ("01.002.0003", "1.2.3", &[1, 2, 3], false),
            ("1.0+Ubuntu-1_x", "1.0+ubuntu.1.x", &[1, 0], false),
            (" 1.0 ", "1.0", &[1, 0], false),
        ];
        for (tag, normalized, release, pre) in cases {
            let v = pep440_of_tag(tag).unwrap_or_else(|| panic!("{tag:?} is PEP 440"));
            assert_eq!(v.normalized, *normalized, "{tag:?}");
            assert_eq!(v.release, *release, "{tag:?}");
            assert_eq!(v.is_prerelease_like, *pre, "{tag:?}");
        }
        for bad in [
            "",
            "sometag",
            "v",
            "1..2",
            "1.0+",
            "1.0+a..b",
            "release1",
            "p1-v1.0.0",
            "20200110-RC2x",
        ] {
            assert_eq!(pep440_of_tag(bad), None, "{bad:?}");
        }
        assert_eq!(
            pep440_of_tag("1.2").unwrap().as_semver().to_string(),
            "1.2.0"
        );
        assert!(!pep440_of_tag("1.2rc1").unwrap().as_semver().pre.is_empty());
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
