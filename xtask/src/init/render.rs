//! The draft as `images/release.toml` text, each image and tag rule with the place it came
//! from as a comment.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Draft, Source};

/// The config text of `draft`.
pub fn render(draft: &Draft) -> String {
    let mut out = String::new();
    let mut sources: Vec<&str> = draft
        .notes
        .mapped
        .iter()
        .map(|m| m.from.file.as_str())
        .collect();
    sources.sort();
    sources.dedup();
    let _ = writeln!(
        out,
        "# Drafted by `stevedore init` from {}.\n# Every key is described in README.md, \"The release config\".\n",
        if sources.is_empty() {
            "the repository".to_string()
        } else {
            sources.join(", ")
        }
    );
    out.push_str("[release]\n");
    let _ = writeln!(out, "name = {}", quote(&draft.name));
    if draft.registries.is_empty() {
        out.push_str("registries = []  # none found: add prefixes such as \"ghcr.io/<owner>\"\n");
    } else {
        let _ = writeln!(out, "registries = {}", list(&draft.registries));
    }
    let _ = writeln!(out, "platforms = {}", list(&draft.platforms));
    if !draft.tags.is_empty() {
        out.push_str("tags = [\n");
        for rule in &draft.tags {
            let from = draft
                .notes
                .mapped
                .iter()
                .find(|m| m.key.starts_with("release.tags[") && m.what == format!("tags {rule:?}"))
                .map(|m| m.from.clone());
            let _ = write!(out, "  {},", quote(rule));
            if let Some(from) = from {
                let _ = write!(out, "  # {from}");
            }
            out.push('\n');
        }
        out.push_str("]\n");
    }
    if let Some(latest) = &draft.latest {
        let _ = writeln!(out, "latest = {}", quote(latest));
    }
    if let Some(f) = &draft.flavor {
        let _ = writeln!(
            out,
            "flavor = {{ prefix = {}, suffix = {}, onlatest = {} }}",
            quote(&f.prefix),
            quote(&f.suffix),
            f.onlatest
        );
    }
    for img in &draft.images {
        let b = &img.build;
        out.push('\n');
        let _ = writeln!(out, "[images.{}]  # {}", key(&b.name), source(&b.from));
        let _ = writeln!(out, "dockerfile = {}", quote(&b.dockerfile));
        let _ = writeln!(out, "context = {}", quote(&b.context));
        if let Some(t) = &b.target {
            let _ = writeln!(out, "target = {}", quote(t));
        }
        if let Some(r) = &img.repository {
            let _ = writeln!(out, "repository = {}", quote(r));
        }
        if let Some(p) = &img.platforms {
            let _ = writeln!(out, "platforms = {}", list(p));
        }
        if !b.build_args.is_empty() {
            let _ = writeln!(out, "build-args = {}", table(&b.build_args));
        }
        if !b.labels.is_empty() {
            let _ = writeln!(out, "labels = {}", table(&b.labels));
        }
        if let Some(c) = &b.cache {
            let _ = writeln!(out, "cache = {}", quote(c));
        }
    }
    let many = draft.compose.len() > 1;
    for c in &draft.compose {
        out.push_str(if many {
            "\n[[compose]]\n"
        } else {
            "\n[compose]\n"
        });
        let _ = writeln!(out, "files = {}", list(&c.files));
        let _ = writeln!(out, "repository = {}", quote(&c.repository));
    }
    out
}

fn source(s: &Source) -> String {
    s.to_string()
}

/// A TOML basic string (JSON's escapes are TOML's).
pub fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// A bare key when it can be one, else a quoted one.
pub fn key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        k.to_string()
    } else {
        quote(k)
    }
}

fn list(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|i| quote(i)).collect();
    format!("[{}]", inner.join(", "))
}

fn table(map: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{} = {}", key(k), quote(v)))
        .collect();
    format!("{{ {} }}", inner.join(", "))
}

#[cfg(test)]
mod tests {
    use super::super::workflow::Flavor;
    use super::super::{ComposeDraft, FinalImage, ImageDraft, Notes};
    use super::*;

    fn draft() -> Draft {
        let mut notes = Notes::default();
        notes.mapped(
            Source::new(".github/workflows/r.yml", 7),
            "tags \"type=ref,event=branch\"",
            "release.tags[0]",
        );
        Draft {
            name: "shop".into(),
            registries: vec!["ghcr.io/acme".into()],
            platforms: vec!["linux/amd64".into(), "linux/arm64".into()],
            tags: vec![
                "type=ref,event=branch".into(),
                "type=raw,value={{branch}}".into(),
            ],
            latest: Some("false".into()),
            flavor: Some(Flavor {
                prefix: "v".into(),
                suffix: String::new(),
                onlatest: true,
            }),
            images: vec![FinalImage {
                build: ImageDraft {
                    name: "api.v2".into(),
                    from: Source::new("docker-bake.hcl", 3),
                    dockerfile: "api/Dockerfile".into(),
                    context: "api".into(),
                    target: Some("prod".into()),
                    build_args: BTreeMap::from([("A".into(), "1".into())]),
                    labels: BTreeMap::from([("org.example.team".into(), "core \"a\"".into())]),
                    cache: Some("gha".into()),
                    ..Default::default()
                },
                repository: Some("shop-api".into()),
                platforms: Some(vec!["linux/amd64".into()]),
            }],
            compose: vec![ComposeDraft {
                files: vec!["compose.yaml".into()],
                repository: "shop-oci".into(),
            }],
            notes,
        }
    }

    #[test]
    fn a_draft_renders_to_the_config_grammar() {
        let text = render(&draft());
        let want = r#"[release]
name = "shop"
registries = ["ghcr.io/acme"]
platforms = ["linux/amd64", "linux/arm64"]
tags = [
  "type=ref,event=branch",  # .github/workflows/r.yml:7
  "type=raw,value={{branch}}",
]
latest = "false"
flavor = { prefix = "v", suffix = "", onlatest = true }

[images."api.v2"]  # docker-bake.hcl:3
dockerfile = "api/Dockerfile"
context = "api"
target = "prod"
repository = "shop-api"
platforms = ["linux/amd64"]
build-args = { A = "1" }
labels = { "org.example.team" = "core \"a\"" }
cache = "gha"

[compose]
files = ["compose.yaml"]
repository = "shop-oci"
"#;
        let body = text.split_once("\n\n").map(|(_, b)| b).unwrap_or("");
        assert_eq!(body, want);
        assert!(text.starts_with("# Drafted by `stevedore init` from .github/workflows/r.yml."));
    }

    #[test]
    fn the_rendered_text_is_a_valid_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("api")).unwrap();
        std::fs::write(dir.path().join("api/Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::write(dir.path().join("compose.yaml"), "services: {}\n").unwrap();
        let mut d = draft();
        d.images[0].build.name = "api".into();
        let text = render(&d);
        let parsed = crate::config::Config::parse(
            dir.path(),
            std::path::Path::new("images/release.toml"),
            &text,
        );
        let cfg = parsed.unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(cfg.repository_of("api"), "shop-api");
        assert_eq!(cfg.release.tags.len(), 2);
        assert!(cfg.release.flavor.onlatest);
        assert_eq!(cfg.compose.len(), 1);
        assert_eq!(cfg.images["api"].build_args["A"], "1");
    }

    #[test]
    fn keys_are_quoted_only_when_needed() {
        let cases = [
            ("api", "api"),
            ("web-ui", "web-ui"),
            ("NODE_ENV", "NODE_ENV"),
            ("api.v2", "\"api.v2\""),
            ("", "\"\""),
        ];
        for (k, want) in cases {
            assert_eq!(key(k), want, "{k}");
        }
    }
}
