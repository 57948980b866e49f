//! The release steps of a workflow besides metadata-action: build-push-action and its
//! look-alikes, bake runs (bake-action, the `docker/github-builder` workflows) and `run:` steps
//! that do release work by hand.

use super::*;

/// Release work a `run:` step does by hand or through the project's own script, named so that
/// nothing it does goes unmentioned. The script lines it runs are returned: their job's logins
/// and matrix, and the platforms the scripts spell out, say what they release.
pub(super) fn run_step(at: Source, name: &str, run: &str, notes: &mut Notes) -> Vec<String> {
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
    ];
    let mut named = false;
    for (needle, why) in KNOWN {
        if run.contains(needle) {
            named = true;
            notes.not_mapped(at.clone(), format!("step {name:?} ({needle})"), *why);
        }
    }
    let scripts: Vec<String> = run.lines().filter_map(release_script).collect();
    for line in &scripts {
        notes.not_mapped(
            at.clone(),
            format!("step {name:?} ({line})"),
            "a release script: init does not run it, so its tags are not read (write \
             release.tags by hand); where its job logs in, and the platforms its matrix hands \
             it or its text spells out, are read where init can tell (on their own lines)",
        );
    }
    const BUILDS: &[&str] = &[
        "docker build ",
        "docker buildx build",
        "podman build",
        "buildah bud",
    ];
    if scripts.is_empty() && !named {
        if let Some(needle) = BUILDS.iter().find(|n| run.contains(**n)) {
            notes.not_mapped(
                at,
                format!("step {name:?} ({})", needle.trim()),
                "builds images by hand: what it builds and pushes is not read (write the \
                 images, registries and tags it makes by hand)",
            );
        }
    }
    scripts
}

/// A command line that runs the project's own release script for images: a `make` target, a
/// package script or a script file whose words speak of images (docker, container, image) and
/// of making or shipping them (build, push, release, publish): `make container.push`,
/// `node extra/release/build-images.mjs`, `npm run build-docker`. The line, trimmed.
pub(super) fn release_script(line: &str) -> Option<String> {
    const RUNNERS: &[&str] = &[
        "make", "just", "task", "npm", "pnpm", "yarn", "bun", "node", "deno", "npx", "bash", "sh",
        "python", "python3", "go",
    ];
    let words: Vec<&str> = line.split_whitespace().collect();
    let first = *words.first()?;
    if !(RUNNERS.contains(&first) || first.starts_with("./") || first.ends_with(".sh")) {
        return None;
    }
    let text = words.join(" ").to_ascii_lowercase();
    let images = ["docker", "container", "image"]
        .iter()
        .any(|w| text.contains(w));
    let work = ["build", "push", "release", "publish"]
        .iter()
        .any(|w| text.contains(w));
    (images && work).then(|| words.join(" "))
}

/// The script file a release-script line runs (`node extra/release/build-images.mjs`,
/// `bash scripts/release.sh`, `./hack/push-images`), root-relative; `None` for `make` targets
/// and package scripts.
pub(super) fn script_file(line: &str) -> Option<String> {
    let mut words = line.split_whitespace();
    let first = words.next()?;
    let path = match first {
        "node" | "bun" | "bash" | "sh" | "python" | "python3" => {
            words.find(|w| !w.starts_with('-'))?
        }
        "deno" => words.find(|w| !w.starts_with('-') && *w != "run")?,
        f if f.starts_with("./") => f,
        _ => return None,
    };
    crate::init::join("", path)
}

/// The platforms a list of matrix values names, when every value is an architecture or a
/// platform (`amd64`, `aarch64`, `armv7`, `linux/arm/v7`): a native-runner matrix handing its
/// architecture to a script.
pub(super) fn arch_platforms(values: &[String]) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for v in values {
        let p = match v.trim().to_ascii_lowercase().as_str() {
            "amd64" | "x86_64" | "x64" => "linux/amd64".to_string(),
            "arm64" | "aarch64" | "arm64v8" => "linux/arm64".to_string(),
            "armv7" | "arm/v7" | "armhf" | "arm32v7" => "linux/arm/v7".to_string(),
            "armv6" | "arm/v6" | "arm32v6" => "linux/arm/v6".to_string(),
            "386" | "i386" | "x86" => "linux/386".to_string(),
            a @ ("ppc64le" | "s390x" | "riscv64") => format!("linux/{a}"),
            p if p.starts_with("linux/") && p.parse::<crate::oci::platform::Platform>().is_ok() => {
                p.to_string()
            }
            _ => return None,
        };
        if !out.contains(&p) {
            out.push(p);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The image names (`ghcr.io/acme/app`, `acme/app`) a `run:` script spells out before a tag
/// (`NAME:$VERSION`, `NAME:${MAJOR}`, `NAME:latest`), with its known `${{ … }}` expressions
/// already expanded. Words holding a run-time expression in the name, URLs and paths are not
/// names; at most 16 are kept.
pub(super) fn image_names_in(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let words = text.split(|c: char| {
        c.is_whitespace() || matches!(c, '"' | '\'' | ',' | '=' | '(' | ')' | ';' | '`')
    });
    for w in words {
        if out.len() >= 16 {
            break;
        }
        if w.contains("://") || w.starts_with('/') || w.starts_with('.') {
            continue;
        }
        let name = crate::init::name_part(w);
        let Some(tag) = w[name.len()..].strip_prefix(':') else {
            continue;
        };
        if !name.contains('/') {
            continue;
        }
        let tag_like = tag
            .chars()
            .next()
            .is_some_and(|c| c == '$' || c == '{' || c.is_ascii_alphanumeric());
        let plain = name.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_' | '/' | ':')
        });
        if tag_like && plain && push_name(name).is_some() && !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    }
    out
}

/// The image names of an `outputs:` entry that pushes (`type=image,name=a/b,push=true`;
/// `name="a/b,c/d"` lists several).
pub(super) fn output_names(entry: &str) -> Vec<String> {
    let keys = csv_fields(entry);
    let pushes = keys
        .iter()
        .any(|k| k == "push=true" || k == "type=registry");
    if !pushes {
        return vec![];
    }
    keys.iter()
        .filter_map(|k| k.strip_prefix("name="))
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

/// `a=b,c="d,e"` → `["a=b", "c=d,e"]`: buildx's CSV fields, double quotes kept together.
fn csv_fields(entry: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for c in entry.trim().chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(String::new()),
            c => out.last_mut().expect("one field").push(c),
        }
    }
    out.into_iter()
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect()
}

/// An action init does not read whose name says it builds or pushes images
/// (`mr-smithers-excellent/docker-build-push`, `redhat-actions/push-to-registry`): named in the
/// report, since what it releases is not in the draft.
pub(super) fn unknown_image_action(action: &str) -> Option<&'static str> {
    let a = action.to_ascii_lowercase();
    let images = [
        "docker",
        "container",
        "image",
        "oci",
        "registry",
        "buildah",
        "podman",
        "kaniko",
        "ko-build",
    ]
    .iter()
    .any(|w| a.contains(w));
    let work = ["build", "push", "publish", "release"]
        .iter()
        .any(|w| a.contains(w));
    let known_setup = a.contains("setup") || a.contains("login") || a.contains("cache");
    // `makeplane/actions/build-push`: named for building and pushing, and not for another
    // kind of artifact.
    let build_push = ["build-push", "build-and-push", "build_push"]
        .iter()
        .any(|w| a.contains(w))
        && ![
            "docs", "site", "pages", "npm", "pypi", "gem", "helm", "chart", "wheel", "book",
        ]
        .iter()
        .any(|w| a.contains(w));
    ((images && work || build_push) && !known_setup).then_some(
        "an image build or push action init does not read: write the images, registries, \
         platforms and tags it releases by hand",
    )
}

/// A build-push-action look-alike with its own input names (`makeplane/actions/build-push`:
/// `dockerfile-path`, `build-context`, `buildx-platforms`): an action named for building and
/// pushing images with an input naming a Dockerfile. Its Dockerfile, context, target and
/// platforms are read (the mapping is reported); its image names and tags are not.
pub(super) fn look_alike(
    at: Source,
    action: &str,
    with: Option<&Node>,
    scope: &expr::Scope,
    notes: &mut Notes,
) -> Option<Push> {
    unknown_image_action(action)?;
    let inputs = with?.entries();
    let find = |want: &dyn Fn(&str) -> bool| -> Option<(String, String)> {
        inputs
            .iter()
            .find(|(k, _)| want(&k.to_ascii_lowercase()))
            .and_then(|(k, v)| {
                let raw = v.as_str()?;
                let value = scope.expand(raw).ok()?.into_iter().next()?;
                Some((k.to_string(), value.trim().to_string()))
            })
    };
    let (file_key, file) = find(&|k| k.contains("dockerfile"))?;
    if inputs
        .iter()
        .any(|(k, v)| *k == "push" && v.as_str().is_some_and(|v| v.trim() == "false"))
    {
        return None;
    }
    let (context_key, context) = find(&|k| k.contains("context"))
        .and_then(|(k, c)| Some((k, crate::init::join("", &c)?)))
        .unwrap_or_else(|| (String::new(), ".".into()));
    let dockerfile = crate::init::join("", &file)?;
    let target = find(&|k| k == "target" || k.ends_with("-target")).map(|(_, t)| t);
    let platforms = find(&|k| k.contains("platforms"))
        .map(|(_, p)| {
            p.split([',', '\n'])
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    // Its image: a full name (`image: ghcr.io/acme/app`), or an owner and a name
    // (`docker-image-owner: makeplane`, `docker-image-name: plane-frontend`: Docker Hub's).
    let owner = find(&|k| k.contains("owner") || k.contains("namespace") || k.ends_with("-org"));
    let image = find(&|k| {
        (k.contains("image") || k.contains("repository"))
            && !k.contains("platform")
            && !k.contains("owner")
            && !k.contains("tag")
    });
    let name = match (owner, image) {
        (_, Some((k, v))) if v.contains('/') => Some((k, v)),
        (Some((ko, o)), Some((ki, i))) => Some((format!("{ko}, {ki}"), format!("{o}/{i}"))),
        _ => None,
    };
    let names: Vec<(Source, ImageName)> = name
        .as_ref()
        .and_then(|(_, n)| push_name(n))
        .map(|n| vec![(at.clone(), n)])
        .unwrap_or_default();
    let mut read: Vec<&str> = [file_key.as_str(), context_key.as_str()]
        .into_iter()
        .filter(|k| !k.is_empty())
        .collect();
    if !names.is_empty() {
        read.extend(name.as_ref().map(|(k, _)| k.as_str()));
    }
    notes.mapped(
        at.clone(),
        format!("{action} (a build-push look-alike: {})", read.join(", ")),
        "the image built from that Dockerfile",
    );
    notes.not_mapped(
        at.clone(),
        format!("step {action}"),
        if names.is_empty() {
            "its image names and tags are its own inputs, not read: check release.registries \
             and the images' repositories"
        } else {
            "its tags are its own inputs, not read: the tags come from release.tags"
        },
    );
    Some(Push {
        from: at,
        dockerfile,
        context,
        target,
        platforms,
        names,
        ..Default::default()
    })
}

/// Whether a build-push-action step pushes: `push:` other than `false`, or an `outputs:` entry
/// that does (`type=image,push-by-digest=true,push=true`, Docker's multi-platform matrix
/// recipe, or `type=registry`).
pub(super) fn build_pushes(with: Option<&Node>) -> bool {
    let input = |k: &str| with.and_then(|w| w.get(k)).and_then(Node::as_str);
    if input("push").is_some_and(|v| v.trim() != "false") {
        return true;
    }
    input("outputs").is_some_and(|o| {
        o.split(['\n', ';']).any(|entry| {
            let keys = csv_fields(entry);
            keys.iter()
                .any(|k| k == "type=registry" || k == "push=true")
        })
    })
}

/// The `matrix.X` names a text's `${{ … }}` expressions read.
pub(super) fn matrix_refs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("${{") {
        rest = &rest[i + 3..];
        let Some(j) = rest.find("}}") else { break };
        let inner = rest[..j].trim();
        if let Some(name) = inner.strip_prefix("matrix.") {
            if !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                && !out.iter().any(|n| n == name)
            {
                out.push(name.to_string());
            }
        }
        rest = &rest[j + 2..];
    }
    out
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
            "tags" => push_tags(file, text, node, step_name, scope, &mut p, notes),
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
            // Docker's multi-platform recipe names the image in `outputs`, not `tags`.
            "outputs" => {
                for (l, line) in entries(text, node) {
                    let src = Source::new(file, l);
                    for name in output_names(&line) {
                        let expanded = scope.expand_lenient(&name);
                        for n in expanded.iter().filter_map(|v| push_name(v)) {
                            if !p.names.contains(&(src.clone(), n.clone())) {
                                p.names.push((src.clone(), n));
                            }
                        }
                    }
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

/// A build step's `tags:` entries: the names they push to (the tags themselves come from
/// release.tags), metadata-action's output, or the names a `run:` step computes.
fn push_tags(
    file: &str,
    text: &str,
    node: &Node,
    step_name: &str,
    scope: &expr::Scope,
    p: &mut Push,
    notes: &mut Notes,
) {
    for (l, line) in entries(text, node) {
        let src = Source::new(file, l);
        if let Some((id, names)) = scope.step_names(&line) {
            for n in names.iter().filter_map(|n| push_name(n)) {
                if !p.names.contains(&(src.clone(), n.clone())) {
                    p.names.push((src.clone(), n));
                }
            }
            notes.mapped(
                src.clone(),
                format!(
                    "step {step_name:?} tags {line:?}: the image names step {id:?} \
                         spells out ({})",
                    names.join(", ")
                ),
                "release.registries and the images' repositories",
            );
            notes.not_mapped(
                src.clone(),
                format!("step {step_name:?} tags {line:?}"),
                format!(
                    "step {id:?} computes the tags when the workflow runs: the tags \
                         come from release.tags (metadata-action rules) instead"
                ),
            );
            continue;
        }
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
    entry.rfind('/')?;
    let name = crate::init::name_part(entry);
    if name.contains(expr::UNKNOWN) {
        return None;
    }
    ImageName::parse(&name.to_ascii_lowercase()).map(|(n, _)| n)
}
