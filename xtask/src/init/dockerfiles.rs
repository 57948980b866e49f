//! Dockerfiles: `Dockerfile`, `*.Dockerfile` and `Dockerfile.*`, one image each, built in the
//! Dockerfile's directory.

use super::{component, dir_of, ImageDraft, Source};

/// Whether a file name is a Dockerfile's.
pub fn is_dockerfile(name: &str) -> bool {
    name == "Dockerfile"
        || (name.len() > ".Dockerfile".len() && name.ends_with(".Dockerfile"))
        || (name.len() > "Dockerfile.".len()
            && name.starts_with("Dockerfile.")
            // Not the Dockerfile's own ignore file.
            && name != "Dockerfile.dockerignore")
}

/// The image a Dockerfile found at `file` (root-relative) describes: named after its
/// directory (`backend/Dockerfile` → `backend`; the root's after `default_name`), plus the
/// variant its file name gives (`api.Dockerfile` → `api`, `web/Dockerfile.dev` → `web-dev`).
pub fn image(file: &str, default_name: &str) -> ImageDraft {
    let dir = dir_of(file);
    let file_name = file.rsplit('/').next().unwrap_or(file);
    let base = match dir.rsplit('/').next() {
        Some(d) if !d.is_empty() => component(d),
        _ => default_name.to_string(),
    };
    let name = if let Some(stem) = file_name.strip_suffix(".Dockerfile") {
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
        context: if dir.is_empty() {
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
            (".Dockerfile", false),
            ("Dockerfile.", false),
            ("dockerfile", false),
            ("Dockerfile-old", false),
            ("Containerfile", false),
        ];
        for (name, want) in cases {
            assert_eq!(is_dockerfile(name), want, "{name}");
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
            ("docker/api.Dockerfile", "shop", "api", "docker"),
            ("web/Dockerfile.dev", "shop", "web-dev", "web"),
            ("Dockerfile.prod", "shop", "shop-prod", "."),
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
