//! Image references as the distribution grammar defines them, normalised the way docker does.
//!
//! A registry prefix in `release.toml` (`ghcr.io/oxilith`, `docker.io/oxilith`, `localhost:5000`)
//! names a registry host and an optional namespace; each image's repository goes under it.

use std::fmt;

/// Docker Hub, as users write it.
pub const DOCKER_HUB: &str = "docker.io";
/// Docker Hub, as its API is reached.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A registry host plus the namespace images are pushed under.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct RegistryPrefix {
    /// Canonical host (`docker.io`, `ghcr.io`, `localhost:5000`).
    pub host: String,
    /// Path under the host, without leading or trailing `/` (may be empty).
    pub namespace: String,
}

impl RegistryPrefix {
    /// Parses and normalises a prefix: `oxilith` and `index.docker.io/oxilith` both become
    /// `docker.io/oxilith`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim_end_matches('/');
        if s.is_empty() {
            return Err("empty registry prefix".into());
        }
        if s.contains("://") {
            return Err(format!(
                "{s:?}: write a registry prefix without a scheme, e.g. \"ghcr.io/org\""
            ));
        }
        let (host, namespace) = match s.split_once('/') {
            Some((first, rest)) if looks_like_host(first) => (first.to_string(), rest.to_string()),
            None if looks_like_host(s) => (s.to_string(), String::new()),
            _ => (DOCKER_HUB.to_string(), s.to_string()),
        };
        validate_host(&host).map_err(|e| format!("{s:?}: {e}"))?;
        if !namespace.is_empty() {
            validate_repository(&namespace).map_err(|e| format!("{s:?}: {e}"))?;
        }
        let host = match host.as_str() {
            "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
                DOCKER_HUB.to_string()
            }
            _ => host,
        };
        Ok(RegistryPrefix { host, namespace })
    }

    /// The repository path (without host) of `repo` under this prefix, with docker's
    /// `library/` rule for single-component Docker Hub names.
    pub fn repository(&self, repo: &str) -> String {
        let path = if self.namespace.is_empty() {
            repo.to_string()
        } else {
            format!("{}/{repo}", self.namespace)
        };
        if self.host == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        }
    }

    /// `host/namespace/repo`, the name users type.
    pub fn image(&self, repo: &str) -> String {
        format!("{}/{}", self.host, self.repository(repo))
    }

    /// The host the registry API is reached at.
    pub fn api_host(&self) -> &str {
        if self.host == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.host
        }
    }

    /// Docker treats these as insecure by default: plain HTTP is allowed.
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.host)
    }
}

impl fmt::Display for RegistryPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            f.write_str(&self.host)
        } else {
            write!(f, "{}/{}", self.host, self.namespace)
        }
    }
}

/// An image reference as `docker pull` reads it: `alpine:3.20` is
/// `docker.io/library/alpine:3.20`, `ghcr.io/o/r:tag`, `host:port/repo@sha256:…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Canonical host (`docker.io`, `ghcr.io`, `127.0.0.1:5000`).
    pub host: String,
    /// Repository path on the host (`library/alpine`).
    pub repository: String,
    /// The tag, when one is written; `latest` when neither a tag nor a digest is.
    pub tag: Option<String>,
    pub digest: Option<crate::oci::Digest>,
}

impl ImageRef {
    /// Parses and normalises a reference, with the host rules of [`RegistryPrefix::parse`].
    pub fn parse(s: &str) -> Result<ImageRef, String> {
        let s = s.trim();
        let (name, digest) = match s.split_once('@') {
            Some((n, d)) => (
                n,
                Some(
                    d.parse::<crate::oci::Digest>()
                        .map_err(|e| format!("{s:?}: {e}"))?,
                ),
            ),
            None => (s, None),
        };
        // A tag is after the last `:` that follows the last `/` (`host:port/repo` has none).
        let last = name.rsplit('/').next().unwrap_or(name);
        let (name, tag) = match last.rsplit_once(':') {
            Some((_, t)) => (&name[..name.len() - t.len() - 1], Some(t.to_string())),
            None => (name, None),
        };
        if let Some(t) = &tag {
            if !is_valid_tag(t) {
                return Err(format!(
                    "{s:?}: invalid tag {t:?} (a tag is [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})"
                ));
            }
        }
        let prefix = RegistryPrefix::parse(name)?;
        if prefix.namespace.is_empty() {
            return Err(format!(
                "{s:?}: no repository after the registry host (write e.g. \"{}/repo:tag\")",
                prefix.host
            ));
        }
        // The whole path is the repository: `library/` applies to one-component Hub names.
        let host = RegistryPrefix {
            host: prefix.host,
            namespace: String::new(),
        };
        let repository = host.repository(&prefix.namespace);
        let tag = match (tag, &digest) {
            (None, None) => Some("latest".to_string()),
            (t, _) => t,
        };
        Ok(ImageRef {
            host: host.host,
            repository,
            tag,
            digest,
        })
    }

    /// The registry this image lives in (no namespace).
    pub fn registry(&self) -> RegistryPrefix {
        RegistryPrefix {
            host: self.host.clone(),
            namespace: String::new(),
        }
    }

    /// The host the registry API is reached at (`registry-1.docker.io` for Docker Hub).
    pub fn api_host(&self) -> String {
        self.registry().api_host().to_string()
    }

    /// What to ask the registry for: the digest when one is written, else the tag.
    pub fn reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".into(),
        }
    }

    /// `host/repository`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.host, self.repository)
    }

    /// `host/repository:tag`: the reference a push target gives `tag`.
    pub fn tagged(host: &str, repository: &str, tag: &str) -> ImageRef {
        ImageRef {
            host: host.to_string(),
            repository: repository.to_string(),
            tag: Some(tag.to_string()),
            digest: None,
        }
    }
}

/// A reference is written as users type it (`ghcr.io/o/app:1.2.3`).
impl serde::Serialize for ImageRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// `localhost`, `127.0.0.0/8` and `::1`, with or without a port.
/// `url` without what must not leave the process: userinfo (`user:token@`), the query
/// (`?token=…`) and the fragment. For URLs placed in labels, provenance and output.
pub fn public_url(url: &str) -> String {
    let url = url.trim();
    let url = url.split(['?', '#']).next().unwrap_or_default();
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit('@').next().unwrap_or_default();
            format!("{scheme}://{host}{path}")
        }
        None => url.to_string(),
    }
}

pub fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(host, |(h, _)| h)
    };
    name == "localhost"
        || name == "::1"
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn looks_like_host(component: &str) -> bool {
    component.contains('.') || component.contains(':') || component == "localhost"
}

fn validate_host(host: &str) -> Result<(), String> {
    let (name, port) = match host.rsplit_once(':') {
        Some((n, p)) if !n.ends_with(']') || host.starts_with('[') => (n, Some(p)),
        _ => (host, None),
    };
    if let Some(port) = port {
        if port.parse::<u16>().map_or(true, |p| p == 0) || !port.chars().all(|c| c.is_ascii_digit())
        {
            return Err(format!(
                "registry host {host:?} has an invalid port: use 1 to 65535"
            ));
        }
    }
    let name = name.trim_start_matches('[').trim_end_matches(']');
    let ok = !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok || name == "::1" {
        Ok(())
    } else {
        Err(format!("invalid registry host {host:?}"))
    }
}

/// Checks a repository path against the distribution grammar:
/// `/`-separated components of `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`, at most 255 characters.
pub fn validate_repository(repo: &str) -> Result<(), String> {
    if repo.is_empty() {
        return Err("repository name is empty".into());
    }
    if repo.len() > 255 {
        return Err(format!(
            "repository name {repo:?} is longer than 255 characters"
        ));
    }
    if repo.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!(
            "repository name {repo:?} has upper-case letters: registries accept only lower-case (try {:?})",
            repo.to_ascii_lowercase()
        ));
    }
    for component in repo.split('/') {
        if !valid_component(component) {
            return Err(format!(
                "repository name {repo:?}: component {component:?} must match [a-z0-9]+([._-][a-z0-9]+)*"
            ));
        }
    }
    Ok(())
}

fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator: `.`, `_`, `__` or a run of `-`.
        let start = i;
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
        if i == start || i >= b.len() || !alnum(b[i]) {
            return false;
        }
    }
    true
}

/// The tag grammar: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn is_valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_lose_userinfo_query_and_fragment() {
        for (input, want) in [
            ("https://github.com/o/r", "https://github.com/o/r"),
            (
                "https://x:s3cret@github.com/o/r?token=abc#frag",
                "https://github.com/o/r",
            ),
            (
                "http://127.0.0.1:5000/v2/r/blobs/uploads/u?_state=x",
                "http://127.0.0.1:5000/v2/r/blobs/uploads/u",
            ),
            ("https://h.example?token=t", "https://h.example"),
            ("no-scheme/path?q=1", "no-scheme/path"),
        ] {
            assert_eq!(public_url(input), want, "{input}");
        }
    }

    #[test]
    fn prefixes_normalise_like_docker() {
        let p = RegistryPrefix::parse("docker.io/oxilith").unwrap();
        assert_eq!(p.image("backend"), "docker.io/oxilith/backend");
        assert_eq!(p.api_host(), "registry-1.docker.io");
        let p = RegistryPrefix::parse("oxilith").unwrap();
        assert_eq!(p.to_string(), "docker.io/oxilith");
        let p = RegistryPrefix::parse("index.docker.io").unwrap();
        assert_eq!(p.image("nginx"), "docker.io/library/nginx");
        let p = RegistryPrefix::parse("localhost:5000").unwrap();
        assert_eq!(p.image("app"), "localhost:5000/app");
        assert!(p.is_loopback());
        let p = RegistryPrefix::parse("ghcr.io/oxilith/").unwrap();
        assert_eq!(p.image("a/b"), "ghcr.io/oxilith/a/b");
        assert!(!p.is_loopback());
    }

    #[test]
    fn bad_prefixes_are_rejected() {
        for bad in [
            "ghcr.io/Oxilith",
            "https://ghcr.io/x",
            "ghcr.io:port/x",
            "localhost:99999/x",
            "127.0.0.1:65536/x",
            "localhost:0/x",
            "ghcr.io/x//y",
            "",
        ] {
            assert!(RegistryPrefix::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn repository_grammar() {
        for ok in [
            "a",
            "a/b",
            "a.b",
            "a_b",
            "a__b",
            "a---b",
            "votive-oci",
            "0x/y9",
        ] {
            assert!(validate_repository(ok).is_ok(), "{ok}");
        }
        for bad in ["A", "a/", "-a", "a-", "a___b", "a..b", "a b", "a._b", ""] {
            assert!(validate_repository(bad).is_err(), "{bad}");
        }
        let err = validate_repository("Clearsplit/api").unwrap_err();
        assert!(err.contains("upper-case"), "{err}");
    }

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:1234",
            "127.5.5.5",
            "[::1]:80",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in ["ghcr.io", "10.0.0.1:5000", "localhost.example.com"] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn image_refs_parse_like_docker() {
        let r = ImageRef::parse("alpine:3.20").unwrap();
        assert_eq!(r.host, "docker.io");
        assert_eq!(r.repository, "library/alpine");
        assert_eq!(r.tag.as_deref(), Some("3.20"));
        assert_eq!(r.digest, None);
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert_eq!(r.to_string(), "docker.io/library/alpine:3.20");
        assert_eq!(r.reference(), "3.20");

        let r = ImageRef::parse("alpine").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/alpine:latest");
        let r = ImageRef::parse("index.docker.io/org/app").unwrap();
        assert_eq!(r.to_string(), "docker.io/org/app:latest");
        let r = ImageRef::parse("org/app:v1").unwrap();
        assert_eq!(
            (r.host.as_str(), r.repository.as_str()),
            ("docker.io", "org/app")
        );

        let r = ImageRef::parse("ghcr.io/o/r:tag").unwrap();
        assert_eq!(r.host, "ghcr.io");
        assert_eq!(r.repository, "o/r");
        assert_eq!(r.api_host(), "ghcr.io");

        let d = format!("sha256:{}", "a".repeat(64));
        let r = ImageRef::parse(&format!("127.0.0.1:5000/repo@{d}")).unwrap();
        assert_eq!(r.host, "127.0.0.1:5000");
        assert_eq!(r.repository, "repo");
        assert_eq!(r.tag, None);
        assert_eq!(r.reference(), d);
        assert!(r.registry().is_loopback());
        let r = ImageRef::parse(&format!("localhost:5000/a/b:1@{d}")).unwrap();
        assert_eq!(r.tag.as_deref(), Some("1"));
        assert_eq!(r.reference(), d, "the digest wins over the tag");
        assert_eq!(r.to_string(), format!("localhost:5000/a/b:1@{d}"));
        let r = ImageRef::parse("localhost/app").unwrap();
        assert_eq!(
            (r.host.as_str(), r.repository.as_str()),
            ("localhost", "app")
        );
    }

    #[test]
    fn bad_image_refs_are_rejected() {
        for bad in [
            "",
            "Alpine:3",
            "alpine:",
            "alpine:-x",
            "alpine@sha256:short",
            "ghcr.io",
            "localhost:5000",
            "https://ghcr.io/x",
            "ghcr.io/x//y",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tag_grammar() {
        assert!(is_valid_tag("v1.2.3"));
        assert!(is_valid_tag("_x"));
        assert!(!is_valid_tag(".x"));
        assert!(!is_valid_tag("-x"));
        assert!(!is_valid_tag("a/b"));
        assert!(is_valid_tag(&"a".repeat(128)));
        assert!(!is_valid_tag(&"a".repeat(129)));
    }
}
