//! GoReleaser's `.goreleaser.yml`: `dockers:` (where each per-platform image is pushed, its
//! platform) and `docker_manifests:` (the multi-platform names and their tags). GoReleaser
//! builds its images from binaries it compiled first (its own Dockerfile, left out by
//! [`super::skip`]); the config builds the project's Dockerfile from the sources instead, and
//! pushes it where GoReleaser does.

use crate::yaml_positions::Node;

use super::{line_of, ImageName, Notes, Source};

/// What a GoReleaser config gives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoReleaser {
    pub from: Source,
    pub names: Vec<(Source, ImageName)>,
    pub platforms: Vec<String>,
    /// Tag rules (metadata-action grammar) for the manifests' tags.
    pub tags: Vec<(Source, String)>,
    pub notes: Notes,
}

/// `{{ .Tag }}`-style templates → a tag rule; `None` when it has no rule.
pub fn tag_rule(template: &str) -> Option<String> {
    let t: String = template.chars().filter(|c| !c.is_whitespace()).collect();
    let rule = match t.as_str() {
        "{{.Tag}}" => "type=ref,event=tag".to_string(),
        "latest" => return None,
        _ => {
            let pattern = t
                .replace("{{.Version}}", "{{version}}")
                .replace("{{.Major}}", "{{major}}")
                .replace("{{.Minor}}", "{{minor}}")
                .replace("{{.Patch}}", "{{patch}}");
            if pattern.contains("{{.") || !pattern.contains("{{") {
                return None;
            }
            format!("type=semver,pattern={pattern}")
        }
    };
    Some(rule)
}

/// A name template's registry/repository (its tag part dropped).
fn name_of(template: &str) -> Option<ImageName> {
    let slash = template.rfind('/').unwrap_or(0);
    let name = match template[slash..].find(':') {
        Some(i) => &template[..slash + i],
        None => template,
    };
    if name.contains("{{") {
        return None;
    }
    ImageName::parse(&name.to_ascii_lowercase()).map(|(n, _)| n)
}

/// Reads a GoReleaser config (`file`: root-relative).
pub fn read(file: &str, text: &str) -> anyhow::Result<GoReleaser> {
    let mut out = GoReleaser {
        from: Source::new(file, 0),
        ..Default::default()
    };
    let Some(docs) = super::yaml_documents(file, text, "the GoReleaser config", &mut out.notes)?
    else {
        return Ok(out);
    };
    let Some(doc) = docs.first() else {
        return Ok(out);
    };
    let at = |n: &Node| Source::new(file, line_of(text, n.span.start));
    let manifests = doc
        .get("docker_manifests")
        .and_then(Node::as_seq)
        .is_some_and(|m| !m.is_empty());
    for d in doc
        .get("dockers")
        .and_then(Node::as_seq)
        .unwrap_or_default()
    {
        // Without docker_manifests, each platform's image is pushed under its own names.
        for t in d
            .get("image_templates")
            .and_then(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .filter(|_| !manifests)
        {
            if let Some(n) = t.as_str().and_then(name_of) {
                if !out.names.iter().any(|(_, x)| *x == n) {
                    out.names.push((at(t), n));
                }
            }
        }
        for flag in d
            .get("build_flag_templates")
            .and_then(Node::as_seq)
            .unwrap_or_default()
        {
            let f = flag.as_str().unwrap_or("");
            if let Some(p) = f.strip_prefix("--platform=") {
                if !out.platforms.iter().any(|x| x == p) {
                    out.platforms.push(p.to_string());
                }
            } else if f.starts_with("--label=") {
                out.notes.not_mapped(
                    at(flag),
                    format!("dockers build flag {f:?}"),
                    "stevedore sets the org.opencontainers.image.* labels itself",
                );
            }
        }
    }
    for m in doc
        .get("docker_manifests")
        .and_then(Node::as_seq)
        .unwrap_or_default()
    {
        let Some(t) = m.get("name_template") else {
            continue;
        };
        let template = t.as_str().unwrap_or("");
        match name_of(template) {
            Some(n) if !out.names.iter().any(|(_, x)| *x == n) => out.names.push((at(t), n)),
            Some(_) => {}
            None => out.notes.not_mapped(
                at(t),
                format!("docker_manifests name {template:?}"),
                "not a registry/repository name",
            ),
        }
        let slash = template.rfind('/').unwrap_or(0);
        let tag = template[slash..].split_once(':').map_or("", |(_, t)| t);
        if let Some(rule) = tag_rule(tag) {
            if !out.tags.iter().any(|(_, r)| *r == rule) {
                out.tags.push((at(t), rule));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goreleaser_tag_templates_become_tag_rules() {
        let cases = [
            ("{{ .Tag }}", Some("type=ref,event=tag")),
            (
                "v{{ .Major }}.{{ .Minor }}",
                Some("type=semver,pattern=v{{major}}.{{minor}}"),
            ),
            ("{{ .Version }}", Some("type=semver,pattern={{version}}")),
            ("latest", None),
            ("{{ .ShortCommit }}", None),
        ];
        for (template, want) in cases {
            assert_eq!(tag_rule(template).as_deref(), want, "{template}");
        }
    }

    #[test]
    fn without_manifests_the_dockers_image_templates_name_the_image() {
        let text = "dockers:\n  - image_templates:\n      - 'acme/app:{{ .Tag }}'\n      - 'ghcr.io/acme/app:latest'\n";
        let g = read(".goreleaser.yaml", text).unwrap();
        let names: Vec<String> = g
            .names
            .iter()
            .map(|(_, n)| format!("{}/{}", n.prefix, n.repository))
            .collect();
        assert_eq!(names, ["docker.io/acme/app", "ghcr.io/acme/app"]);
    }

    #[test]
    fn manifests_give_names_tags_and_dockers_platforms() {
        let text = "dockers:\n  - build_flag_templates:\n      - '--pull'\n      - '--platform=linux/arm64'\n  - build_flag_templates: ['--platform=linux/arm/v7']\ndocker_manifests:\n  - name_template: 'traefik/whoami:{{ .Tag }}'\n  - name_template: 'ghcr.io/traefik/whoami:latest'\n  - name_template: 'ghcr.io/traefik/whoami:v{{ .Major }}.{{ .Minor }}'\n";
        let g = read(".goreleaser.yml", text).unwrap();
        let names: Vec<String> = g
            .names
            .iter()
            .map(|(_, n)| format!("{}/{}", n.prefix, n.repository))
            .collect();
        assert_eq!(
            names,
            ["docker.io/traefik/whoami", "ghcr.io/traefik/whoami"]
        );
        assert_eq!(g.platforms, ["linux/arm64", "linux/arm/v7"]);
        let tags: Vec<&str> = g.tags.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(
            tags,
            [
                "type=ref,event=tag",
                "type=semver,pattern=v{{major}}.{{minor}}"
            ]
        );
    }
}
