//! The release steps of a workflow besides metadata-action: build-push-action and its
//! look-alikes, bake runs (bake-action, the `docker/github-builder` workflows) and `run:` steps
//! that do release work by hand.

use super::*;

/// Release work a `run:` step does by hand, named so that nothing it does goes unmentioned.
pub(super) fn run_step(at: Source, name: &str, run: &str, notes: &mut Notes) {
    const KNOWN: &[(&str, &str)] = &[
        (
            "imagetools create",
            "merges per-platform images into one index: stevedore pushes one multi-platform \
             index itself (no per-platform tags)",
        ),
        (
            "docker manifest",
            "merges per-platform images into one index: stevedore pushes one multi-platform \
             index itself (no per-platform tags)",
        ),
        (
            "skopeo copy",
            "copies the image to another registry: add that registry's prefix to \
             release.registries",
        ),
        (
            "cosign",
            "signs the image: stevedore attests with provenance (release.provenance); its \
             signing is not set up by init",
        ),
        (
            "docker push",
            "pushes by hand: stevedore pushes to every release.registries prefix itself",
        ),
        (
            "make container.push",
            "a release script: what it pushes is not read (write the registries and tags by \
             hand)",
        ),
    ];
    let mut named = false;
    for (needle, why) in KNOWN {
        if run.contains(needle) {
            named = true;
            notes.not_mapped(at.clone(), format!("step {name:?} ({needle})"), *why);
        }
    }
    const BUILDS: &[&str] = &[
        "docker build ",
        "docker buildx build",
        "build-images",
        "build-docker",
        "container.build",
        "podman build",
        "buildah bud",
    ];
    if let Some(needle) = BUILDS.iter().find(|n| run.contains(**n)).filter(|_| !named) {
        notes.not_mapped(
            at,
            format!("step {name:?} ({})", needle.trim()),
            "builds images by a script: what it builds and pushes is not read (write the \
             images, registries and tags it makes by hand)",
        );
    }
}

/// A bake-action step's `files:` (root-relative, `workdir`/`source` `.`) and `targets:`.
pub(super) fn bake_run(with: Option<&Node>, scope: &expr::Scope, at: Source) -> BakeRun {
    let list = |key: &str| -> Vec<String> {
        let Some(raw) = with.and_then(|w| w.get(key)).and_then(Node::as_str) else {
            return vec![];
        };
        raw.split(['\n', ','])
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .flat_map(|l| scope.expand(l).unwrap_or_default())
            .collect()
    };
    let input = |k: &str| {
        with.and_then(|w| w.get(k))
            .and_then(Node::as_str)
            .unwrap_or("")
    };
    let pushes = (!input("push").is_empty() && input("push").trim() != "false")
        || input("set").contains("push=true")
        || input("set").contains("type=registry");
    BakeRun {
        pushes,
        from: at,
        files: list("files")
            .into_iter()
            .filter_map(|f| crate::init::join("", &f))
            .filter(|f| f.ends_with(".hcl") || f.ends_with(".json"))
            .collect(),
        targets: list("targets"),
    }
}

/// The `docker/github-builder` reusable workflows: `meta-images`/`meta-tags`/`meta-flavor` are
/// metadata-action's inputs; the bake workflow's `target` is the bake target CI builds.
pub(super) fn github_builder(
    file: &str,
    text: &str,
    at: Source,
    uses: &str,
    with: Option<&Node>,
    scope: &expr::Scope,
    out: &mut Workflow,
) {
    let Some(with) = with else { return };
    let mut meta_with = resolved(with, scope);
    if let Kind::Map(pairs) = &mut meta_with.kind {
        pairs.retain(|(k, _)| k.as_str().is_some_and(|k| k.starts_with("meta-")));
        for (k, _) in pairs.iter_mut() {
            if let Kind::Scalar { text, .. } = &mut k.kind {
                *text = text.trim_start_matches("meta-").to_string();
            }
        }
    }
    let meta_with = Node {
        kind: match meta_with.kind {
            Kind::Map(pairs) => Kind::Map(
                pairs
                    .into_iter()
                    .filter(|(k, _)| k.as_str() != Some("bake-target"))
                    .collect(),
            ),
            other => other,
        },
        ..meta_with
    };
    if !meta_with.entries().is_empty() {
        out.metas.push(meta(
            file,
            text,
            at.clone(),
            Some(&meta_with),
            None,
            &mut out.notes,
        ));
    }
    for (key, node) in with.entries() {
        let why = match key {
            k if k.starts_with("meta-") || k == "target" || k == "platforms" => continue,
            "context" | "file" | "build-args" if uses.contains("/build.yml") => continue,
            "sign" => {
                "signing: stevedore attests with provenance (release.provenance); keyless \
                       signing of the image is not set up by init"
            }
            "sbom" => "stevedore writes its own SBOM (release.sbom)",
            "cache" | "cache-scope" => "the builder's cache: set images.<name>.cache by hand",
            "push" | "output" | "runner" => "how the reusable workflow runs: not a config key",
            _ => "no config key for it",
        };
        out.notes.not_mapped(
            Source::new(file, line_of(text, node.span.start)),
            format!("docker/github-builder {key}"),
            why,
        );
    }
    if let Some(target) = with
        .get("target")
        .and_then(Node::as_str)
        .filter(|_| !uses.contains("/build.yml"))
    {
        let output = with.get("output").and_then(Node::as_str).unwrap_or("");
        out.bake_runs.push(BakeRun {
            pushes: output == "image" || with.get("push").is_some(),
            from: at.clone(),
            files: vec![],
            targets: scope.expand(target).unwrap_or_default(),
        });
    }
    if let Some(p) = with.get("platforms") {
        platforms(file, text, "docker/github-builder", p, scope, out);
    }
    // The build workflow: build-push-action's inputs (its Dockerfile, context, build args).
    if uses.contains("/build.yml") {
        let mut inputs = with.clone();
        if let Kind::Map(pairs) = &mut inputs.kind {
            pairs.retain(|(k, _)| {
                matches!(
                    k.as_str(),
                    Some("context" | "file" | "target" | "build-args")
                )
            });
        }
        let mut p = push(
            file,
            text,
            at,
            "docker/github-builder",
            Some(&inputs),
            scope,
            &mut out.notes,
        );
        p.platforms = match with.get("platforms") {
            Some(_) => out
                .platforms
                .last()
                .map(|p| p.1.clone())
                .unwrap_or_default(),
            None => vec!["linux/amd64".to_string()],
        };
        out.pushes.push(p);
    }
}

/// A build-push-action step: where it pushes (`tags:` names), what it builds, its build args and
/// cache; the inputs with no config key are reported by name.
pub(super) fn push(
    file: &str,
    text: &str,
    at: Source,
    step_name: &str,
    with: Option<&Node>,
    scope: &expr::Scope,
    notes: &mut Notes,
) -> Push {
    let get = |k: &str| -> Option<String> {
        let raw = with?.get(k)?.as_str()?;
        scope.expand(raw).ok()?.into_iter().next()
    };
    let context = get("context")
        .and_then(|c| crate::init::join("", &c))
        .unwrap_or_else(|| ".".into());
    let dockerfile = get("file")
        .and_then(|f| crate::init::join("", &f))
        .or_else(|| crate::init::join(&context, "Dockerfile"))
        .unwrap_or_else(|| "Dockerfile".into());
    let mut p = Push {
        from: at.clone(),
        dockerfile,
        context,
        target: get("target"),
        ..Default::default()
    };
    let Some(with) = with else { return p };
    for (key, node) in with.entries() {
        let key_at = Source::new(file, line_of(text, node.span.start));
        match key {
            "tags" => {
                for (l, line) in entries(text, node) {
                    let src = Source::new(file, l);
                    if is_meta_output(&line) {
                        p.meta_tags = true;
                        continue;
                    }
                    let expanded = scope.expand_lenient(&line);
                    if expanded.iter().any(|v| v.contains(expr::UNKNOWN)) {
                        notes.not_mapped(
                            src.clone(),
                            format!("step {step_name:?} tags {line:?}"),
                            "its tag is computed when the workflow runs: the tags come from \
                             release.tags (metadata-action rules) instead",
                        );
                    }
                    for v in expanded {
                        match push_name(&v) {
                            Some(n) if !p.names.contains(&(src.clone(), n.clone())) => {
                                p.names.push((src.clone(), n))
                            }
                            Some(_) => {}
                            None if v.contains(expr::UNKNOWN) => notes.not_mapped(
                                src.clone(),
                                format!("step {step_name:?} tags {line:?}"),
                                "its image name is only known when the workflow runs: write the \
                                 registry prefix in release.registries",
                            ),
                            None => notes.not_mapped(
                                src.clone(),
                                format!("step {step_name:?} tags {line:?}"),
                                "names no registry and namespace (e.g. ghcr.io/org/app)",
                            ),
                        }
                    }
                }
            }
            "build-args" => {
                for (l, line) in entries(text, node) {
                    let Some((k, v)) = line.split_once('=') else {
                        continue;
                    };
                    let v = expr::build_arg_templates(v.trim());
                    match scope.expand(&v) {
                        Ok(values) => {
                            p.build_args.insert(k.trim().to_string(), values.join(","));
                        }
                        Err(e) => notes.not_mapped(
                            Source::new(file, l),
                            format!("step {step_name:?} build arg {}", k.trim()),
                            format!("{e} is only known when the workflow runs"),
                        ),
                    }
                }
            }
            "cache-from" | "cache-to" => {
                let kind = ["gha", "registry", "local"]
                    .into_iter()
                    .find(|k| node.as_str().unwrap_or("").contains(&format!("type={k}")));
                match kind {
                    Some(k) => p.cache = Some(k.to_string()),
                    None => notes.not_mapped(
                        key_at,
                        format!("step {step_name:?} {key}"),
                        "only type=gha, type=registry and type=local caches have a `cache` value",
                    ),
                }
            }
            "context" | "file" | "target" | "platforms" | "push" | "load" => {}
            "labels" => notes.not_mapped(
                key_at,
                format!("step {step_name:?} labels"),
                "stevedore sets the org.opencontainers.image.* labels itself; other labels go in \
                 images.<name>.labels",
            ),
            "provenance" | "sbom" | "attests" => notes.not_mapped(
                key_at,
                format!("step {step_name:?} {key}"),
                "stevedore attests every image itself (release.provenance, release.sbom)",
            ),
            other => notes.not_mapped(
                key_at,
                format!("step {step_name:?} {other}"),
                "no config key for it",
            ),
        }
    }
    p
}

/// `${{ steps.ID.outputs.tags }}`: a metadata-action step's tags.
fn is_meta_output(line: &str) -> bool {
    let inner = line
        .trim()
        .strip_prefix("${{")
        .and_then(|l| l.strip_suffix("}}"))
        .map(str::trim)
        .unwrap_or("");
    inner.starts_with("steps.") && inner.ends_with(".outputs.tags")
}

/// The registry/repository name of a `tags:` entry (`ghcr.io/o/app:TAG`), when the name part is
/// known (the tag part may hold run-time expressions).
pub(super) fn push_name(entry: &str) -> Option<ImageName> {
    let entry = entry.trim();
    let last_slash = entry.rfind('/')?;
    let name = match entry[last_slash..].find(':') {
        Some(i) => &entry[..last_slash + i],
        None => entry,
    };
    if name.contains(expr::UNKNOWN) {
        return None;
    }
    ImageName::parse(&name.to_ascii_lowercase()).map(|(n, _)| n)
}
