//! Dockerfiles: `Dockerfile`, `*.Dockerfile` and `Dockerfile.*` (and their lower-case forms
//! `dockerfile`, `*.dockerfile`), one image each, built in the Dockerfile's directory.

use super::{component, dir_of, ImageDraft, Source};

/// Whether a file name is a Dockerfile's.
pub fn is_dockerfile(name: &str) -> bool {
    name == "Dockerfile"
        || name == "dockerfile"
        || stem(name).is_some_and(|s| !s.is_empty())
        || (name.len() > "Dockerfile.".len()
            && name.starts_with("Dockerfile.")
            && !name.ends_with(".dockerignore"))
        // Not a Dockerfile's own ignore file (`Dockerfile.dev.dockerignore`), nor a note or a
        // backup beside it.
        && ![".dockerignore", ".md", ".bak", ".orig", ".swp"]
            .iter()
            .any(|s| name.ends_with(s))
}

/// The stage names of a Dockerfile (`FROM image AS name`), in order; `""` for an unnamed stage.
pub fn stages(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines().take(10_000) {
        let words: Vec<&str> = line.split_whitespace().collect();
        if !words
            .first()
            .is_some_and(|w| w.eq_ignore_ascii_case("FROM"))
        {
            continue;
        }
        let name = match words.iter().position(|w| w.eq_ignore_ascii_case("AS")) {
            Some(i) => words.get(i + 1).copied().unwrap_or(""),
            None => "",
        };
        out.push(name.to_ascii_lowercase());
    }
    out
}

/// The development stage of a multi-stage Dockerfile that has another final stage after it
/// (`dev` or `development`, not the last stage): built as the image's `-dev` variant.
pub fn dev_stage(stages: &[String]) -> Option<&str> {
    let (last, before) = stages.split_last()?;
    before
        .iter()
        .find(|s| matches!(s.as_str(), "dev" | "development") && *s != last)
        .map(String::as_str)
}

/// `api` of `api.Dockerfile` or `api.dockerfile`.
fn stem(name: &str) -> Option<&str> {
    name.strip_suffix(".Dockerfile")
        .or_else(|| name.strip_suffix(".dockerfile"))
}

/// Folders that hold a project's container files rather than name an image.
const HOLDERS: &[&str] = &[
    "docker",
    "container",
    "containers",
    ".docker",
    "build",
    "deploy",
];

/// A holder folder, in any case (`Docker/` as `docker/`).
fn is_holder(dir: &str) -> bool {
    HOLDERS.contains(&dir.to_ascii_lowercase().as_str())
}

/// The image a Dockerfile found at `file` (root-relative) describes: named after its
/// directory (`backend/Dockerfile` → `backend`; the root's after `default_name`), plus the
/// variant its file name gives (`api.Dockerfile` → `api`, `web/Dockerfile.dev` → `web-dev`).
pub fn image(file: &str, default_name: &str) -> ImageDraft {
    let dir = dir_of(file);
    let file_name = file.rsplit('/').next().unwrap_or(file);
    let base = match dir.rsplit('/').next() {
        Some(d) if !d.is_empty() && !is_holder(d) => component(d),
        _ => default_name.to_string(),
    };
    let name = if let Some(stem) = stem(file_name) {
        component(stem)
    } else if let Some(variant) = file_name.strip_prefix("Dockerfile.") {
        format!("{base}-{}", component(variant))
    } else {
        base
    };
    let name = if name.is_empty() {
        default_name.to_string()
    } else {
        name
    };
    ImageDraft {
        name,
        from: Source::new(file, 0),
        dockerfile: file.to_string(),
        // A Dockerfile kept in a holder folder (`docker/`, `container/`) builds the repository:
        // `docker build -f docker/Dockerfile .`.
        context: if dir.is_empty() || is_holder(dir) {
            ".".into()
        } else {
            dir.into()
        },
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerfile_names_are_recognised() {
        let cases = [
            ("Dockerfile", true),
            ("api.Dockerfile", true),
            ("Dockerfile.dev", true),
            ("Dockerfile.dockerignore", false),
            ("Dockerfile.dev.dockerignore", false),
            ("api.Dockerfile.dockerignore", false),
            ("Dockerfile.md", false),
            ("Dockerfile.bak", false),
            (".Dockerfile", false),
            ("Dockerfile.", false),
            ("dockerfile", true),
            ("base.dockerfile", true),
            (".dockerfile", false),
            ("Dockerfile-old", false),
            ("Containerfile", false),
        ];
        for (name, want) in cases {
            assert_eq!(is_dockerfile(name), want, "{name}");
        }
    }

    #[test]
    fn a_dev_stage_before_the_final_one_is_a_variant() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                "FROM node AS base\nFROM base AS dev\nFROM base AS prod\n",
                Some("dev"),
            ),
            (
                "from node as build\nFROM build as Development\nFROM nginx\n",
                Some("development"),
            ),
            ("FROM node AS base\nFROM base AS dev\n", None),
            ("FROM node\nRUN x\n", None),
            (
                "FROM --platform=$BUILDPLATFORM golang AS dev\nFROM scratch\n",
                Some("dev"),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(dev_stage(&stages(text)), *want, "{text}");
        }
    }

    #[test]
    fn images_are_named_after_their_directory_and_variant() {
        let cases = [
            ("Dockerfile", "shop", "shop", "."),
            ("backend/Dockerfile", "shop", "backend", "backend"),
            (
                "services/Web_UI/Dockerfile",
                "shop",
                "web_ui",
                "services/Web_UI",
            ),
            ("docker/api.Dockerfile", "shop", "api", "."),
            ("web/Dockerfile.dev", "shop", "web-dev", "web"),
            ("Dockerfile.prod", "shop", "shop-prod", "."),
            ("docker/dockerfile", "kuma", "kuma", "."),
            ("docker/Dockerfile.alpine", "vw", "vw-alpine", "."),
            ("container/dist.dockerfile", "sx", "dist", "."),
            ("services/docker/Dockerfile", "sx", "sx", "services/docker"),
            ("Docker/Dockerfile", "freshrss", "freshrss", "."),
        ];
        for (file, default, name, context) in cases {
            let img = image(file, default);
            assert_eq!(
                (
                    img.name.as_str(),
                    img.context.as_str(),
                    img.dockerfile.as_str()
                ),
                (name, context, file),
                "{file}"
            );
        }
    }
}
