//! The `image-digests.yaml` override: every service image pinned to a digest, as compose's
//! `--resolve-image-digests` writes it (`pkg/compose/publish.go` `generateImageDigestsOverride`,
//! compose-go `Project.WithImagesResolved` + `MarshalYAML`):
//!
//! ```yaml
//! services:
//!   db:
//!     image: docker.io/library/postgres:16@sha256:…
//! ```
//!
//! Services sorted by name, only `image:`, two-space indent, the reference normalised the way
//! `reference.ParseDockerRef` does (registry host added, `library/` for Docker Hub official
//! images, `:latest` when there is no tag, the tag dropped when a digest is already written).
//!
//! A service image that names one of the release's repositories (registry host, tag and digest
//! set aside) is pinned to the reference the release pushed; any other image is resolved through
//! the caller's resolver to its index digest when `resolve_external`. Interpolation uses the
//! defaults written in the file; an image whose repository or (for an external image) tag is a
//! variable without default cannot be pinned and is listed in [`ImagePins::unpinned`].

use std::collections::HashMap;
use std::fmt;

use super::load::Project;
use super::{interp, ComposeError, ErrorKind};

/// One of the release's images, as pushed to the registry the artifact is built for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseImage {
    /// The repository path without registry host, e.g. `oxilith/votive-backend`.
    pub repository: String,
    /// The full reference pushed, e.g. `ghcr.io/oxilith/votive-backend:v1.2.3@sha256:…`.
    pub pinned: String,
}

/// A service left unpinned, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpinned {
    pub service: String,
    pub image: String,
    pub reason: String,
}

/// The pinned images by service (sorted), and those left as written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImagePins {
    pub services: Vec<(String, String)>,
    pub unpinned: Vec<Unpinned>,
}

impl ImagePins {
    /// The `image-digests.yaml` layer.
    pub fn to_yaml(&self) -> Vec<u8> {
        if self.services.is_empty() {
            return b"services: {}\n".to_vec();
        }
        let mut out = String::from("services:\n");
        for (service, image) in &self.services {
            out.push_str(&format!(
                "  {}:\n    image: {}\n",
                yaml_str(service),
                yaml_str(image)
            ));
        }
        out.into_bytes()
    }
}

/// Pins the images of `project`'s services. `resolve` gets a normalised reference without
/// digest (`docker.io/library/postgres:16`) and returns its index digest (`sha256:…`).
pub fn pin_images<E: fmt::Display>(
    project: &Project,
    release: &[ReleaseImage],
    resolve_external: bool,
    resolve: &mut dyn FnMut(&str) -> Result<String, E>,
) -> Result<ImagePins, ComposeError> {
    let mut pins = ImagePins::default();
    let mut cache: HashMap<String, String> = HashMap::new();
    for (service, view) in project.services() {
        let Some((raw, file)) = view.image else {
            continue;
        };
        let unpinned = |reason: &str| Unpinned {
            service: service.clone(),
            image: raw.clone(),
            reason: reason.to_string(),
        };
        let Some(parts) = split(&raw) else {
            pins.unpinned
                .push(unpinned("its repository is a variable without default"));
            continue;
        };
        let named = ImageRef::parse(&parts.name).map_err(|e| {
            ComposeError::new(
                ErrorKind::Image,
                Some(file.clone().into()),
                format!("services.{service}.image: {raw:?} is not an image reference: {e}"),
                "write `[registry/]repository[:tag][@sha256:…]`",
            )
        })?;
        let written_tag = parts.tag.as_deref().or(named.tag.as_deref());
        if let Some(own) = release_image_for(release, &named, written_tag) {
            let pinned = ImageRef::parse(&own.pinned).map_err(|e| {
                ComposeError::new(
                    ErrorKind::Image,
                    None,
                    format!("the release image {:?} is not a reference: {e}", own.pinned),
                    "report this: the release pushed an unparsable reference",
                )
            })?;
            pins.services.push((service, pinned.docker_ref()));
            continue;
        }
        // A variable can hold the whole reference (`${IMAGE:-redis:7}`): keep what it named.
        let image = ImageRef {
            tag: parts.tag.or(named.tag.clone()),
            digest: parts.digest.or(named.digest.clone()),
            ..named
        };
        if image.digest.is_some() {
            // `ParseDockerRef` keeps only the digest of a reference written with both.
            let image = ImageRef { tag: None, ..image };
            pins.services.push((service, image.docker_ref()));
            continue;
        }
        if !resolve_external {
            continue;
        }
        if parts.tag_unresolved {
            pins.unpinned
                .push(unpinned("its tag is a variable without default"));
            continue;
        }
        let key = image.docker_ref();
        let digest = match cache.get(&key) {
            Some(d) => d.clone(),
            None => {
                let d = resolve(&key).map_err(|e| {
                    ComposeError::new(
                        ErrorKind::Image,
                        Some(file.clone().into()),
                        format!("services.{service}.image: cannot resolve {key} to a digest: {e}"),
                        "check the image exists and the registry is reachable, or set \
                         `resolve-external = false`",
                    )
                })?;
                cache.insert(key.clone(), d.clone());
                d
            }
        };
        pins.services.push((service, format!("{key}@{digest}")));
    }
    Ok(pins)
}

/// An image reference, normalised like `reference.ParseNormalizedNamed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub domain: String,
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn parse(s: &str) -> Result<ImageRef, String> {
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (r, Some(d.to_string())),
            None => (s, None),
        };
        if let Some(d) = &digest {
            if d.parse::<crate::oci::Digest>().is_err() {
                return Err(format!("bad digest {d:?}"));
            }
        }
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (
                &rest[..last_slash + i],
                Some(rest[last_slash + i + 1..].to_string()),
            ),
            None => (rest, None),
        };
        let (domain, path) = match name.split_once('/') {
            Some((d, p)) if d.contains(['.', ':']) || d == "localhost" || d != d.to_lowercase() => {
                (d.to_string(), p.to_string())
            }
            _ => ("docker.io".to_string(), name.to_string()),
        };
        let domain = if domain == "index.docker.io" {
            "docker.io".into()
        } else {
            domain
        };
        let path = if domain == "docker.io" && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        let path_ok = !path.is_empty()
            && path.split('/').all(|c| {
                !c.is_empty()
                    && c.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
            });
        if !path_ok {
            return Err(format!("bad repository name {path:?}"));
        }
        if let Some(t) = &tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !ok {
                return Err(format!("bad tag {t:?}"));
            }
        }
        Ok(ImageRef {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// Whether this names `repository` (a path without host), possibly under a registry prefix
    /// path (`registry.example.com/team/oxilith/app` names `oxilith/app`).
    pub fn is_repository(&self, repository: &str) -> bool {
        let want = repository.trim_matches('/');
        let path = self.path.as_str();
        let bare = path
            .strip_prefix("library/")
            .filter(|_| self.domain == "docker.io");
        path == want
            || bare == Some(want)
            || path.ends_with(&format!("/{want}"))
            || want.strip_prefix("library/") == Some(path)
    }

    /// The reference as compose writes it: `:latest` added when neither tag nor digest.
    pub fn docker_ref(&self) -> String {
        let name = format!("{}/{}", self.domain, self.path);
        match (&self.tag, &self.digest) {
            (Some(t), Some(d)) => format!("{name}:{t}@{d}"),
            (None, Some(d)) => format!("{name}@{d}"),
            (Some(t), None) => format!("{name}:{t}"),
            (None, None) => format!("{name}:latest"),
        }
    }
}

/// The release image a service names: the one of its repository, or, when variants share the
/// repository (`server:1.2.3` and `server:1.2.3-alpine`), the one whose tag the service writes,
/// else whose flavor suffix the written tag ends with (`latest-alpine`, `alpine`), else the
/// variant without a suffix.
fn release_image_for<'a>(
    release: &'a [ReleaseImage],
    named: &ImageRef,
    written_tag: Option<&str>,
) -> Option<&'a ReleaseImage> {
    let candidates: Vec<(&ReleaseImage, String)> = release
        .iter()
        .filter(|r| named.is_repository(&r.repository))
        .map(|r| {
            let tag = ImageRef::parse(&r.pinned)
                .ok()
                .and_then(|p| p.tag)
                .unwrap_or_default();
            (r, tag)
        })
        .collect();
    let shortest = candidates.iter().min_by_key(|(_, t)| t.len())?;
    if candidates.len() == 1 {
        return Some(shortest.0);
    }
    let Some(written) = written_tag else {
        return Some(shortest.0);
    };
    if let Some((r, _)) = candidates.iter().find(|(_, t)| t == written) {
        return Some(r);
    }
    candidates
        .iter()
        .find(|(_, t)| {
            let extra = t.strip_prefix(shortest.1.as_str()).unwrap_or("");
            !extra.is_empty()
                && (written.ends_with(extra)
                    || written == extra.trim_start_matches(['-', '.', '_']))
        })
        .map(|(r, _)| *r)
        .or(Some(shortest.0))
}

struct Parts {
    name: String,
    tag: Option<String>,
    tag_unresolved: bool,
    digest: Option<String>,
}

/// Splits a written image into name, tag and digest (`:` and `@` inside `${…}` set aside),
/// each interpolated with its defaults. `None` when the name has a variable without default.
fn split(raw: &str) -> Option<Parts> {
    let mut depth = 0;
    let (mut at, mut colon) = (None, None);
    let bytes = raw.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'{' if i > 0 && bytes[i - 1] == b'$' => depth += 1,
            b'}' if depth > 0 => depth -= 1,
            b'@' if depth == 0 && at.is_none() => at = Some(i),
            b'/' if depth == 0 && at.is_none() => colon = None,
            b':' if depth == 0 && at.is_none() => colon = Some(i),
            _ => {}
        }
    }
    let end = at.unwrap_or(raw.len());
    let (name_raw, tag_raw) = match colon {
        Some(c) => (&raw[..c], Some(&raw[c + 1..end])),
        None => (&raw[..end], None),
    };
    let name = interp::with_defaults(name_raw);
    if !name.unresolved.is_empty() {
        return None;
    }
    let tag = tag_raw.map(interp::with_defaults);
    let tag_unresolved = tag.as_ref().is_some_and(|t| !t.unresolved.is_empty());
    Some(Parts {
        name: name.text,
        tag: tag.map(|t| t.text).filter(|t| !t.is_empty()),
        tag_unresolved,
        digest: at.map(|a| interp::with_defaults(&raw[a + 1..]).text),
    })
}

/// A YAML scalar as `yaml.v3` writes it: plain unless it would read back as something else.
fn yaml_str(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let special = s.is_empty()
        || [
            "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~",
        ]
        .contains(&lower.as_str())
        || s.parse::<f64>().is_ok()
        || s.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@` ".contains(c))
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with([' ', ':']);
    if special {
        format!("{s:?}")
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests;
