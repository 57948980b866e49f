//! Compose files: each service with `build:` → an image (context, dockerfile, target, args,
//! labels, platforms); its `image:` says where it is pushed. Whether the file can be published
//! as a compose artifact: compose refuses a `build:` without `image:` and a local `include:`.

use crate::compose::interp::with_defaults;
use crate::yaml_positions::{Kind, Node};

use super::{component, dir_of, join, line_of, ImageDraft, ImageName, Notes, Source};

/// What a compose file gives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComposeFile {
    pub file: String,
    pub images: Vec<ImageDraft>,
    /// Whether it parsed and has services.
    pub usable: bool,
    /// Why it cannot be published as a compose artifact, if it cannot.
    pub not_publishable: Vec<String>,
    /// The last path component of every service's `image:` (tag, digest and variables'
    /// defaults resolved): whether the file runs one of the release's images.
    pub runs: Vec<String>,
    /// The `image:` of every service without `build:` that names a registry and repository:
    /// where a published stack says the project's images are.
    pub image_only: Vec<(Source, ImageName)>,
    pub notes: Notes,
}

/// Reads a compose file (`file`: root-relative).
pub fn read(file: &str, text: &str) -> anyhow::Result<ComposeFile> {
    let mut out = ComposeFile {
        file: file.to_string(),
        ..Default::default()
    };
    let Some(docs) = super::yaml_documents(file, text, "the compose file", &mut out.notes)? else {
        return Ok(out);
    };
    let Some(doc) = docs.first() else {
        out.notes
            .not_mapped(Source::new(file, 0), "the compose file", "it is empty");
        return Ok(out);
    };
    let at = |n: &Node| Source::new(file, line_of(text, n.span.start));
    if let Some(inc) = doc.get("include") {
        out.not_publishable.push(format!(
            "{}: a local `include:` (merge the included file into this one)",
            at(inc)
        ));
    }
    let Some(services) = doc.get("services") else {
        out.notes.not_mapped(
            Source::new(file, 0),
            "the compose file",
            "it has no `services:`",
        );
        return Ok(out);
    };
    out.usable = true;
    let base = dir_of(file);
    for (service, node) in services.entries() {
        if let Some((image_at, image)) = node.get("image").and_then(|n| Some((at(n), n.as_str()?)))
        {
            let text = with_defaults(image).text;
            let name = text.split('@').next().unwrap_or(&text);
            let last = name.rsplit('/').next().unwrap_or(name);
            let repo = last.split(':').next().unwrap_or(last);
            out.runs.push(repo.to_string());
            if node.get("build").is_none() {
                if let Some((n, _)) = ImageName::parse(&text) {
                    out.image_only.push((image_at, n));
                }
            }
        }
        let Some(build) = node.get("build") else {
            continue;
        };
        let name = component(service);
        let what = |k: &str| format!("service {service:?} build.{k}");
        let image_node = node.get("image");
        if image_node.is_none() {
            out.not_publishable.push(format!(
                "{}: service {service:?} has `build:` and no `image:` (add `image:` naming the \
                 repository the release pushes)",
                at(build)
            ));
        }
        // `build: ./dir` is the context alone.
        let (context_raw, dockerfile_raw) = match build.as_str() {
            Some(ctx) => (ctx.to_string(), "Dockerfile".to_string()),
            None => (
                build
                    .get("context")
                    .and_then(|n| n.as_str())
                    .unwrap_or(".")
                    .to_string(),
                build
                    .get("dockerfile")
                    .and_then(|n| n.as_str())
                    .unwrap_or("Dockerfile")
                    .to_string(),
            ),
        };
        let context_raw = with_defaults(&context_raw).text;
        if context_raw.contains("://") || context_raw.starts_with("git@") {
            out.notes.not_mapped(
                at(build),
                what("context"),
                format!("{context_raw:?} is remote: stevedore builds from the workspace"),
            );
            continue;
        }
        if let Some(inline) = build.get("dockerfile_inline") {
            out.notes.not_mapped(
                at(inline),
                what("dockerfile_inline"),
                "an inline Dockerfile has no file: write it to a file and set `dockerfile`",
            );
            continue;
        }
        let paths = join(base, &context_raw).and_then(|c| {
            let d = join(&c, &with_defaults(&dockerfile_raw).text)?;
            Some((c, d))
        });
        let Some((context, dockerfile)) = paths else {
            out.notes.not_mapped(
                at(build),
                what("context"),
                format!("{context_raw:?} / {dockerfile_raw:?} is outside the workspace"),
            );
            continue;
        };
        let mut img = ImageDraft {
            name: name.clone(),
            from: at(node),
            dockerfile,
            context,
            ..Default::default()
        };
        out.notes.mapped(
            at(build),
            format!("service {service:?} build"),
            format!("images.{name} (dockerfile, context)"),
        );
        build_keys(&mut out.notes, &mut img, build, service, file, text);
        if let Some(image) = image_node {
            image_names(&mut out.notes, &mut img, image, service, at(image));
        }
        out.images.push(img);
    }
    Ok(out)
}

/// The keys of a service's `build:` mapping, each mapped onto the image draft or noted as not.
fn build_keys(
    notes: &mut Notes,
    img: &mut ImageDraft,
    build: &Node,
    service: &str,
    file: &str,
    text: &str,
) {
    let at = |n: &Node| Source::new(file, line_of(text, n.span.start));
    let what = |k: &str| format!("service {service:?} build.{k}");
    let key = |k: &str| format!("images.{}.{k}", img.name);
    for (k, v) in build.entries() {
        match k {
            "context" | "dockerfile" => {}
            "target" => {
                img.target = v.as_str().map(str::to_string);
                notes.mapped(at(v), what(k), key("target"));
            }
            "args" | "labels" => {
                let map = if k == "args" {
                    &mut img.build_args
                } else {
                    &mut img.labels
                };
                for (ak, av, offset) in pairs(v) {
                    match av {
                        Some(av) => {
                            map.insert(ak, av);
                        }
                        None => notes.not_mapped(
                            Source::new(file, line_of(text, offset)),
                            format!("service {service:?} build.{k}.{ak}"),
                            "no value: compose reads it from the environment",
                        ),
                    }
                }
                let to = if k == "args" { "build-args" } else { "labels" };
                notes.mapped(at(v), what(k), key(to));
            }
            "platforms" => {
                img.platforms = v
                    .as_seq()
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|p| p.as_str().map(str::to_string))
                    .collect();
                notes.mapped(at(v), what(k), key("platforms"));
            }
            _ => notes.not_mapped(
                at(v),
                what(k),
                "no config key for it (secrets, ssh, additional contexts, network, … are \
                 not passed)",
            ),
        }
    }
}

/// A service's `image:` (at `at`): the image's name under a registry, when it names one.
fn image_names(notes: &mut Notes, img: &mut ImageDraft, image: &Node, service: &str, at: Source) {
    let Some(raw) = image.as_str() else {
        return;
    };
    let resolved = with_defaults(raw);
    match ImageName::parse(&resolved.text) {
        Some((name_of, _)) if resolved.unresolved.is_empty() => {
            notes.mapped(
                at.clone(),
                format!("service {service:?} image"),
                "release.registries and the image's repository",
            );
            img.names.push(name_of);
        }
        _ => notes.not_mapped(
            at.clone(),
            format!("service {service:?} image {raw:?}"),
            if resolved.unresolved.is_empty() {
                "names no registry namespace (e.g. ghcr.io/org/app): the repository is \
                     the image name"
                    .to_string()
            } else {
                format!(
                    "uses variables without a default ({}): name the registry in \
                         release.registries",
                    resolved.unresolved.join(", ")
                )
            },
        ),
    }
}

/// A compose `args`/`labels` mapping or `KEY=VALUE` list, each entry with the byte offset of
/// its key; `None` for a key without a value.
fn pairs(node: &Node) -> Vec<(String, Option<String>, usize)> {
    match &node.kind {
        Kind::Seq(items) => items
            .iter()
            .filter_map(|i| Some((i.as_str()?, i.span.start)))
            .map(|(s, at)| match s.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string()), at),
                None => (s.to_string(), None, at),
            })
            .collect(),
        Kind::Map(entries) => entries
            .iter()
            .filter_map(|(k, v)| {
                let value = match v.to_json() {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(s) => Some(s),
                    other => Some(other.to_string()),
                };
                Some((k.as_str()?.to_string(), value, k.span.start))
            })
            .collect(),
        Kind::Scalar { .. } => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_with_build_become_images() {
        let text = "services:
  api:
    build:
      context: ./api
      dockerfile: docker/Dockerfile
      target: prod
      args:
        NODE_ENV: production
        PORT: 8080
        TOKEN:
    image: ghcr.io/acme/shop-api:${TAG:-latest}
  web:
    build: web
    image: acme/web
  db:
    image: postgres:16
";
        let c = read("deploy/compose.yaml", text).unwrap();
        assert!(c.usable);
        assert!(c.not_publishable.is_empty(), "{:?}", c.not_publishable);
        let names: Vec<&str> = c.images.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["api", "web"]);
        assert_eq!(c.runs, ["shop-api", "web", "postgres"]);
        let api = &c.images[0];
        assert_eq!(api.context, "deploy/api");
        assert_eq!(api.dockerfile, "deploy/api/docker/Dockerfile");
        assert_eq!(api.target.as_deref(), Some("prod"));
        assert_eq!(api.build_args.len(), 2);
        assert_eq!(api.build_args["PORT"], "8080");
        assert_eq!(
            api.names,
            [ImageName {
                prefix: "ghcr.io/acme".into(),
                repository: "shop-api".into()
            }]
        );
        assert_eq!(api.from, Source::new("deploy/compose.yaml", 3));
        let web = &c.images[1];
        assert_eq!(
            (web.context.as_str(), web.dockerfile.as_str()),
            ("deploy/web", "deploy/web/Dockerfile")
        );
        assert_eq!(web.names[0].prefix, "docker.io/acme");
        assert!(c
            .notes
            .not_mapped
            .iter()
            .any(|n| n.what == "service \"api\" build.args.TOKEN" && n.from.line == 10));
    }

    #[test]
    fn what_compose_refuses_to_publish_is_said() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "build without image",
                "services:\n  api:\n    build: .\n",
                "compose.yaml:3: service \"api\" has `build:` and no `image:`",
            ),
            (
                "a local include",
                "include:\n  - other.yaml\nservices:\n  api:\n    image: a/b\n",
                "compose.yaml:2: a local `include:`",
            ),
        ];
        for (why, text, want) in cases {
            let c = read("compose.yaml", text).unwrap();
            assert!(
                c.not_publishable.iter().any(|r| r.starts_with(want)),
                "{why}: {:?}",
                c.not_publishable
            );
        }
    }

    #[test]
    fn unmappable_compose_inputs_are_reported() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "services:\n  api:\n    build:\n      context: .\n      secrets: [npm]\n    image: a/b\n",
                "service \"api\" build.secrets",
                "no config key",
            ),
            (
                "services:\n  api:\n    build: .\n    image: ${REGISTRY}/api\n",
                "service \"api\" image \"${REGISTRY}/api\"",
                "REGISTRY",
            ),
            (
                "services:\n  api:\n    build: https://github.com/o/r.git\n    image: a/b\n",
                "service \"api\" build.context",
                "remote",
            ),
            ("services: [\n", "the compose file", "not valid YAML"),
        ];
        for (text, what, why) in cases {
            let c = read("compose.yaml", text).unwrap();
            assert!(
                c.notes
                    .not_mapped
                    .iter()
                    .any(|n| n.what == *what && n.why.contains(why)),
                "{what}: {:#?}",
                c.notes.not_mapped
            );
        }
    }
}
