//! The draft as `images/release.toml` text, each image and tag rule with the place it came
//! from as a comment.
//!
//! Everything written comes from the repository, so from whoever can push to it: every key and
//! value goes through `toml_writer` (the writer of the `toml` crate's serializer), and comments
//! through [`comment`], which escapes control characters so that no text can end a comment and
//! start a line of its own.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use toml_writer::{ToTomlKey as _, ToTomlValue as _};

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
            comment(&sources.join(", "))
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
                let _ = write!(out, "  # {}", source(&from));
            }
            out.push('\n');
        }
        out.push_str("]\n");
    }
    if let Some((from, b)) = &draft.default_branch {
        let _ = writeln!(out, "default-branch = {}  # {}", quote(b), source(from));
    }
    if let Some(latest) = &draft.latest {
        let _ = writeln!(out, "latest = {}", quote(latest));
    }
    if !draft.secret_build_args.is_empty() {
        let _ = writeln!(
            out,
            "secret-build-args = {}  # names only: init copies no secret-looking value",
            list(&draft.secret_build_args)
        );
    }
    if let Some(f) = &draft.flavor {
        let _ = writeln!(
            out,
            "flavor = {{ prefix = {}, suffix = {}, onlatest = {} }}",
            quote(&f.prefix),
            quote(&f.suffix),
            f.onlatest.to_toml_value()
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
        if b.dev_variant {
            out.push_str("flavor = { suffix = \"-dev\", onlatest = true }\n");
        } else if let Some(suffix) = &b.variant_suffix {
            let _ = writeln!(
                out,
                "flavor = {{ suffix = {}, onlatest = true }}",
                quote(suffix)
            );
        }
    }
    for (c, why) in &draft.compose_commented {
        let _ = writeln!(out, "\n# Left out, {}", comment(why));
        out.push_str("# [[compose]]\n");
        let _ = writeln!(out, "# files = {}", comment(&list(&c.files)));
        let _ = writeln!(out, "# repository = {}", comment(&quote(&c.repository)));
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
    comment(&s.to_string())
}

/// Text for a comment: control characters (a newline would end the comment) and the invisible
/// characters that reorder or hide text are written as escapes.
pub fn comment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let invisible = matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}');
        if c.is_control() || invisible {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A TOML string, as the `toml` crate's serializer writes it.
pub fn quote(s: &str) -> String {
    s.to_toml_value()
}

/// A TOML key: bare when it can be, else quoted.
pub fn key(k: &str) -> String {
    k.to_toml_key()
}

fn list(items: &[String]) -> String {
    items.to_toml_value()
}

fn table(map: &BTreeMap<String, String>) -> String {
    map.to_toml_value()
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
            default_branch: Some((Source::new(".git", 0), "main".into())),
            compose_commented: vec![],
            secret_build_args: vec!["NPM_TOKEN".into()],
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
default-branch = "main"  # .git
latest = "false"
secret-build-args = ["NPM_TOKEN"]  # names only: init copies no secret-looking value
flavor = { prefix = "v", suffix = "", onlatest = true }

[images."api.v2"]  # docker-bake.hcl:3
dockerfile = "api/Dockerfile"
context = "api"
target = "prod"
repository = "shop-api"
platforms = ["linux/amd64"]
build-args = { A = "1" }
labels = { "org.example.team" = 'core "a"' }
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

#[cfg(test)]
mod hostile {
    use super::super::{FinalImage, ImageDraft};
    use super::*;

    const HOSTILE: &str = "x'''\n[images.pwn]\nnative.command = ['id']\n#\"\"\"\u{7f}\u{1b}[2J\\";

    /// Every string the repository chooses is a value (or a key) of the config, never config
    /// text: the written file parses back to the same keys and values.
    #[test]
    fn hostile_names_and_paths_stay_values() {
        let mut notes = super::super::Notes::default();
        notes.mapped(
            Source::new(HOSTILE, 3),
            format!("tags {HOSTILE:?}"),
            "release.tags[0]",
        );
        let draft = Draft {
            name: HOSTILE.into(),
            registries: vec![HOSTILE.into()],
            platforms: vec![HOSTILE.into()],
            tags: vec![HOSTILE.into()],
            latest: Some(HOSTILE.into()),
            secret_build_args: vec![HOSTILE.into()],
            images: vec![FinalImage {
                build: ImageDraft {
                    name: HOSTILE.into(),
                    from: Source::new(HOSTILE, 1),
                    dockerfile: HOSTILE.into(),
                    context: HOSTILE.into(),
                    target: Some(HOSTILE.into()),
                    build_args: BTreeMap::from([(HOSTILE.into(), HOSTILE.into())]),
                    labels: BTreeMap::from([(HOSTILE.into(), HOSTILE.into())]),
                    cache: Some(HOSTILE.into()),
                    ..Default::default()
                },
                repository: Some(HOSTILE.into()),
                platforms: Some(vec![HOSTILE.into()]),
            }],
            notes,
            ..Default::default()
        };
        let text = render(&draft);
        let doc: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let keys: Vec<&str> = doc.keys().map(String::as_str).collect();
        assert_eq!(keys, ["images", "release"], "{text}");
        let images = doc["images"].as_table().unwrap();
        assert_eq!(images.keys().collect::<Vec<_>>(), [HOSTILE], "{text}");
        let image = images[HOSTILE].as_table().unwrap();
        for k in ["dockerfile", "context", "target", "repository", "cache"] {
            assert_eq!(image[k].as_str(), Some(HOSTILE), "{k}");
        }
        assert_eq!(image["build-args"][HOSTILE].as_str(), Some(HOSTILE));
        assert_eq!(image["labels"][HOSTILE].as_str(), Some(HOSTILE));
        let release = doc["release"].as_table().unwrap();
        assert_eq!(release["name"].as_str(), Some(HOSTILE));
        assert_eq!(release["tags"][0].as_str(), Some(HOSTILE));
        assert_eq!(release["secret-build-args"][0].as_str(), Some(HOSTILE));
        // No line of the text starts a table or a key the draft did not have.
        for line in text.lines().filter(|l| l.starts_with('[')) {
            assert!(
                line.starts_with("[release]") || line.starts_with("[images."),
                "{line}"
            );
        }
    }

    #[test]
    fn comments_cannot_hold_a_line_break() {
        let cases = [
            ("compose.yaml:3", "compose.yaml:3"),
            ("a\nb", "a\\nb"),
            ("a\r\u{7f}\u{1b}", "a\\r\\u{7f}\\u{1b}"),
            ("\u{202e}evil", "\\u{202e}evil"),
            ("é", "é"),
        ];
        for (text, want) in cases {
            assert_eq!(comment(text), want, "{text:?}");
        }
    }
}
