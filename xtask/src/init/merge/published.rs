//! Where the images are pushed: the names build steps, GoReleaser and image-only compose
//! services give them; the images nothing publishes; the default branch.

use super::*;

/// build-push-action steps (and look-alikes): each names where the image built from its
/// Dockerfile (and stage) is pushed, and gives its build args and cache.
pub(super) fn workflow_pushes(found: &Found, images: &mut [ImageDraft], notes: &mut Notes) {
    // The workflows that release on tag pushes first: an image two workflows build takes the
    // release's platforms, not a canary build's.
    let mut ordered: Vec<&Workflow> = found.workflows.iter().collect();
    ordered.sort_by_key(|w| w.tag_patterns.is_empty());
    for p in ordered.iter().flat_map(|w| w.pushes.iter()) {
        let Some(img) = images
            .iter_mut()
            .find(|i| i.dockerfile == p.dockerfile && (p.target.is_none() || i.target == p.target))
        else {
            notes.not_mapped(
                p.from.clone(),
                format!("build step for {}", p.dockerfile),
                "no image of the draft is built from that Dockerfile (it is missing or left out)",
            );
            continue;
        };
        notes.mapped(
            p.from.clone(),
            format!("build step ({})", p.dockerfile),
            format!("images.{}", img.name),
        );
        // A step that pushes releases the image, even where its names are only known when the
        // workflow runs.
        img.released = true;
        // The release builds what CI builds: the step's context (`.` when it names none).
        if img.context != p.context {
            notes.mapped(
                p.from.clone(),
                format!("build step context {:?} (not {:?})", p.context, img.context),
                format!("images.{}.context", img.name),
            );
            img.context = p.context.clone();
        }
        for (src, n) in &p.names {
            notes.mapped(
                src.clone(),
                format!("tags name {}/{}", n.prefix, n.repository),
                format!("release.registries and images.{}", img.name),
            );
            if !img.names.contains(n) {
                img.names.push(n.clone());
            }
        }
        for (k, v) in &p.build_args {
            if SET_BY_STEVEDORE.contains(&k.as_str()) {
                notes.mapped(
                    p.from.clone(),
                    format!("build arg {k}={v:?}"),
                    format!("stevedore's own {k} (set from git)"),
                );
                continue;
            }
            if crate::compose::secrets::looks_secret(k, v) {
                img.secret_build_args.insert(k.clone());
                notes.not_mapped(
                    p.from.clone(),
                    format!("build arg {k}"),
                    "its value looks like a secret: its name is in release.secret-build-args",
                );
                continue;
            }
            img.build_args.entry(k.clone()).or_insert_with(|| v.clone());
            notes.mapped(
                p.from.clone(),
                format!("build arg {k}"),
                format!("images.{}.build-args", img.name),
            );
        }
        if img.platforms.is_empty() {
            img.platforms = p.platforms.clone();
        }
        if let Some(c) = &p.cache {
            img.cache.get_or_insert_with(|| c.clone());
            notes.mapped(
                p.from.clone(),
                format!("cache type={c}"),
                format!("images.{}.cache", img.name),
            );
        }
    }
}

/// GoReleaser's image names go to the image built from the root Dockerfile (the same program,
/// built from the sources), else to the only image.
pub(super) fn goreleaser_names(found: &Found, images: &mut [ImageDraft], notes: &mut Notes) {
    for g in &found.goreleaser {
        notes.extend(g.notes.clone());
        if g.names.is_empty() {
            continue;
        }
        let i = images
            .iter()
            .position(|i| i.dockerfile == "Dockerfile")
            .or_else(|| (images.len() == 1).then_some(0));
        let Some(i) = i else {
            notes.not_mapped(
                g.from.clone(),
                "docker_manifests",
                "no image builds the root Dockerfile: set `repository` on the image GoReleaser \
                 publishes",
            );
            continue;
        };
        for (src, n) in &g.names {
            notes.mapped(
                src.clone(),
                format!("docker_manifests name {}/{}", n.prefix, n.repository),
                format!(
                    "release.registries and images.{} (built from its Dockerfile, not from \
                     GoReleaser's binaries)",
                    images[i].name
                ),
            );
            if !images[i].names.contains(n) {
                images[i].names.push(n.clone());
            }
        }
        if images[i].platforms.is_empty() && !g.platforms.is_empty() {
            notes.mapped(
                g.from.clone(),
                "dockers --platform flags",
                "release.platforms",
            );
            images[i].platforms = g.platforms.clone();
        }
    }
}

/// Compose services with only `image:`: a name that is an image's (`khoj`), or the project's
/// name and an image's (`khoj-computer` for `computer`), says where that image is pushed.
pub(super) fn compose_image_names(found: &Found, images: &mut [ImageDraft], notes: &mut Notes) {
    for (src, n) in found.compose.iter().flat_map(|c| c.image_only.iter()) {
        let project = &found.default_name;
        let mut hit = images.iter().position(|i| {
            n.repository == i.name || n.repository == format!("{project}-{}", i.name)
        });
        // The project's own name: its one image that is not a builder or base stage.
        if hit.is_none() && n.repository == *project {
            let finals: Vec<usize> = (0..images.len())
                .filter(|i| !is_intermediate(&images[*i].name))
                .collect();
            if let [one] = finals[..] {
                hit = Some(one);
            }
        }
        let hit = hit.map(|i| &mut images[i]);
        match hit {
            Some(img) => {
                notes.mapped(
                    src.clone(),
                    format!("image {}/{}", n.prefix, n.repository),
                    format!("release.registries and images.{}", img.name),
                );
                if !img.names.contains(n) {
                    img.names.push(n.clone());
                }
            }
            None => notes.not_mapped(
                src.clone(),
                format!("image {}/{}", n.prefix, n.repository),
                "not an image this release builds (a service it runs from elsewhere)",
            ),
        }
    }
}

/// An image named as a builder or base stage of another (`builder`, `debian-base`,
/// `builder-go`): not a release image by itself.
pub(super) fn is_intermediate(name: &str) -> bool {
    name.split(['-', '_', '.'])
        .any(|w| matches!(w, "builder" | "base" | "build"))
}

/// When some images are published somewhere (named by a workflow, a bake tag or a compose
/// file), the images nothing publishes are helpers (lint, docs, builders, demos): left out.
pub(super) fn drop_unpublished(images: &mut Vec<ImageDraft>, notes: &mut Notes) {
    let published = |i: &ImageDraft| !i.names.is_empty() || i.released;
    if !images.iter().any(published) {
        return;
    }
    images.retain(|i| {
        if !published(i) {
            notes.not_mapped(
                i.from.clone(),
                format!("image {:?}", i.name),
                "left out: no workflow, bake tag or compose file publishes it (add it as \
                 [images.NAME] to release it)",
            );
        }
        published(i)
    });
}

/// `release.default-branch`: `origin/HEAD`, else the branch the workflows push from.
pub(super) fn default_branch(found: &Found, notes: &mut Notes) -> Option<(Source, String)> {
    if let Some(b) = &found.origin_head {
        let at = Source::new(".git/refs/remotes/origin/HEAD", 0);
        notes.mapped(
            at.clone(),
            format!("origin/HEAD ({b})"),
            "release.default-branch",
        );
        return Some((at, b.clone()));
    }
    let publishing =
        |w: &&Workflow| !w.pushes.is_empty() || !w.metas.is_empty() || !w.bake_runs.is_empty();
    let w = found
        .workflows
        .iter()
        .filter(publishing)
        .chain(found.workflows.iter())
        .find(|w| !w.branches.is_empty())?;
    let b = w.branches.first()?.clone();
    let at = w
        .metas
        .first()
        .map(|m| Source::new(&m.from.file, 0))
        .or_else(|| w.pushes.first().map(|p| Source::new(&p.from.file, 0)))
        .unwrap_or_else(|| Source::new(".github/workflows", 0));
    notes.mapped(
        at.clone(),
        format!("on.push.branches ({b})"),
        "release.default-branch",
    );
    Some((at, b))
}
