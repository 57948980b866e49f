//! The images a Dockerfile names (`FROM` lines, `COPY`/`ADD --from=`), and their Docker form.
//!
//! Docker reads a short name the one way: `golang:1-alpine` is
//! `docker.io/library/golang:1-alpine`, `tonistiigi/xx` is `docker.io/tonistiigi/xx`. buildah
//! reads it through the machine's `registries.conf` (search registries, and aliases such as
//! `centos` = `quay.io/centos/centos` in `registries.conf.d`), so buildah is given the Dockerfile
//! with every name written out in full ([`qualify_dockerfile`]). Stage names, stage indexes and
//! `scratch` are not images; a name built from an `ARG` keeps its `$` parts (buildah expands them
//! and searches `docker.io`, see [`super::registry_access`]).

use std::ops::Range;

use crate::oci::reference::ImageRef;

/// An image name in a Dockerfile: where it is in the text, and as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named<'a> {
    pub range: Range<usize>,
    pub written: &'a str,
}

/// Every image name of `dockerfile`, in order (see the module documentation).
pub fn named(dockerfile: &str) -> Vec<Named<'_>> {
    let mut stages: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for (start, line) in instructions(dockerfile) {
        let words = words(line);
        let Some((_, keyword)) = words.first() else {
            continue;
        };
        let is_stage = |w: &str, stages: &[String]| {
            w.eq_ignore_ascii_case("scratch") || stages.contains(&w.to_ascii_lowercase())
        };
        let mut push = |at: usize, w: &'_ str| {
            out.push(Named {
                range: start + at..start + at + w.len(),
                written: &dockerfile[start + at..start + at + w.len()],
            })
        };
        if keyword.eq_ignore_ascii_case("from") {
            let rest: Vec<&(usize, &str)> = words[1..]
                .iter()
                .filter(|(_, w)| !w.starts_with("--"))
                .collect();
            let Some(&&(at, image)) = rest.first() else {
                continue;
            };
            if image != "\\" && image != "`" && !is_stage(image, &stages) {
                push(at, image);
            }
            if let Some(i) = rest.iter().position(|(_, w)| w.eq_ignore_ascii_case("as")) {
                if let Some((_, name)) = rest.get(i + 1) {
                    stages.push(name.to_ascii_lowercase());
                }
            }
        } else if keyword.eq_ignore_ascii_case("copy") || keyword.eq_ignore_ascii_case("add") {
            for (at, w) in &words[1..] {
                let Some(flag) = w.get(..7).filter(|f| f.eq_ignore_ascii_case("--from=")) else {
                    continue;
                };
                let image = &w[flag.len()..];
                let index = image.chars().all(|c| c.is_ascii_digit());
                if !image.is_empty() && !index && !is_stage(image, &stages) {
                    push(at + flag.len(), image);
                }
            }
        }
    }
    out
}

/// Every registry image [`named`] finds whose name is written out (no `ARG`), parsed.
pub fn from_refs(dockerfile: &str) -> Vec<(String, ImageRef)> {
    named(dockerfile)
        .into_iter()
        .filter(|n| !n.written.contains('$'))
        .filter_map(|n| Some((n.written.to_string(), ImageRef::parse(n.written).ok()?)))
        .collect()
}

/// One image per registry host of [`from_refs`] (what registry access is prepared for).
pub fn from_images(dockerfile: &str) -> Vec<ImageRef> {
    let mut out: Vec<ImageRef> = Vec::new();
    for (_, r) in from_refs(dockerfile) {
        if !out.iter().any(|o| o.host == r.host) {
            out.push(r);
        }
    }
    out
}

/// `dockerfile` with every short image name written out as Docker reads it; `None` when every
/// name already is.
pub fn qualify_dockerfile(dockerfile: &str) -> Option<String> {
    rewrite(dockerfile, qualify)
}

/// `dockerfile` with each image name [`named`] finds replaced by what `with` gives for it (as
/// written); `None` when it gives nothing for any.
pub fn rewrite(dockerfile: &str, with: impl Fn(&str) -> Option<String>) -> Option<String> {
    let mut text = dockerfile.to_string();
    let mut changed = false;
    for n in named(dockerfile).into_iter().rev() {
        if let Some(full) = with(n.written) {
            text.replace_range(n.range, &full);
            changed = true;
        }
    }
    changed.then_some(text)
}

/// The Docker form of a short image name (`golang:1-alpine` →
/// `docker.io/library/golang:1-alpine`); `None` when the name starts with a registry host, or
/// its repository part is built from an `ARG` or is not a repository name at all. A tag or
/// digest is kept as written (`golang:${GO}-alpine` → `docker.io/library/golang:${GO}-alpine`).
pub fn qualify(written: &str) -> Option<String> {
    let name_end = written.find('@').unwrap_or(written.len());
    let last_slash = written[..name_end].rfind('/').map_or(0, |i| i + 1);
    let name_end = written[last_slash..name_end]
        .find(':')
        .map_or(name_end, |i| last_slash + i);
    let (name, rest) = written.split_at(name_end);
    let first = name.split('/').next().unwrap_or_default();
    let host = first.contains(['.', ':']) || first == "localhost";
    let repository = !name.is_empty()
        && name.split('/').all(|c| {
            !c.is_empty()
                && c.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
        });
    if host || !repository {
        return None;
    }
    let library = if name.contains('/') { "" } else { "library/" };
    Some(format!("docker.io/{library}{name}{rest}"))
}

/// The instructions of `dockerfile`: the byte offset and text of each line an instruction
/// starts on (continuation lines, comments and blank lines left out).
pub(super) fn instructions(dockerfile: &str) -> Vec<(usize, &str)> {
    let escape = escape_char(dockerfile);
    let mut out = Vec::new();
    let mut continued = false;
    let mut offset = 0;
    for line in dockerfile.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let text = line.trim_end_matches(['\n', '\r']);
        let trimmed = text.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue; // comments and blank lines never end a continuation
        }
        if !continued {
            out.push((start, text));
        }
        continued = trimmed.ends_with(escape);
    }
    out
}

/// The escape character (`# escape=` parser directive, `\` by default).
fn escape_char(dockerfile: &str) -> char {
    for line in dockerfile.lines() {
        let Some(directive) = line.trim().strip_prefix('#') else {
            break;
        };
        if let Some((key, value)) = directive.split_once('=') {
            if key.trim().eq_ignore_ascii_case("escape") && value.trim() == "`" {
                return '`';
            }
        }
    }
    '\\'
}

/// The whitespace-separated words of `line` with their byte offsets.
pub(super) fn words(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, &line[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &line[s..]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_qualified_as_docker_reads_them() {
        for (written, want) in [
            ("golang:1-alpine", Some("docker.io/library/golang:1-alpine")),
            ("tonistiigi/xx", Some("docker.io/tonistiigi/xx")),
            ("tonistiigi/xx:1.4", Some("docker.io/tonistiigi/xx:1.4")),
            (
                "alpine@sha256:abc",
                Some("docker.io/library/alpine@sha256:abc"),
            ),
            (
                "golang:${GO}-alpine",
                Some("docker.io/library/golang:${GO}-alpine"),
            ),
            ("docker.io/library/golang:1", None),
            ("ghcr.io/o/r:1", None),
            ("127.0.0.1:5000/base:1", None),
            ("localhost/base", None),
            ("${BASE}", None),
            ("$REGISTRY/base:1", None),
            ("Alpine:3", None),
        ] {
            assert_eq!(qualify(written).as_deref(), want, "{written}");
        }
    }

    #[test]
    fn from_lines_name_registry_images_only() {
        let df = "ARG BASE=x\nFROM --platform=$BUILDPLATFORM 127.0.0.1:5000/tools/go:1 AS build\n\
                  FROM $BASE\nFROM scratch AS empty\nFROM build AS again\n\
                  FROM ghcr.io/o/runtime:2\nFROM debian:12\n";
        let hosts: Vec<String> = from_images(df).into_iter().map(|r| r.host).collect();
        assert_eq!(hosts, ["127.0.0.1:5000", "ghcr.io", "docker.io"]);
    }

    #[test]
    fn stages_indexes_and_continuations_are_not_images() {
        let df = "# escape=\\\n\
                  FROM --platform=$BUILDPLATFORM tonistiigi/xx AS xx\n\
                  from golang:1-alpine as Build\n\
                  RUN echo \\\n  # a comment inside\n  from nothing:1\n\
                  COPY --from=xx / /\n\
                  COPY --from=build /a /a\n\
                  COPY --from=0 /b /b\n\
                  COPY --link --from=alpine:3 /c /c\n\
                  ADD --from=$IMG /d /d\n\
                  FROM BUILD\n";
        let names: Vec<&str> = named(df).iter().map(|n| n.written).collect();
        assert_eq!(
            names,
            ["tonistiigi/xx", "golang:1-alpine", "alpine:3", "$IMG"]
        );
        let out = qualify_dockerfile(df).unwrap();
        assert!(out.contains("FROM --platform=$BUILDPLATFORM docker.io/tonistiigi/xx AS xx\n"));
        assert!(out.contains("from docker.io/library/golang:1-alpine as Build\n"));
        assert!(out.contains("  from nothing:1\n"), "{out}");
        assert!(out.contains("COPY --link --from=docker.io/library/alpine:3 /c /c\n"));
        assert!(out.contains("COPY --from=xx / /\nCOPY --from=build /a /a\nCOPY --from=0 /b"));
        assert!(out.contains("ADD --from=$IMG /d /d\nFROM BUILD\n"));
        assert_eq!(out.lines().count(), df.lines().count());
    }

    #[test]
    fn a_qualified_dockerfile_is_left_alone() {
        assert_eq!(
            qualify_dockerfile("FROM ghcr.io/o/r:1 AS a\r\nFROM a\r\nFROM scratch\r\n"),
            None
        );
        assert_eq!(qualify_dockerfile("FROM\n"), None);
        assert_eq!(
            qualify_dockerfile("FROM debian:12\r\nRUN true\r\n").as_deref(),
            Some("FROM docker.io/library/debian:12\r\nRUN true\r\n")
        );
    }
}
