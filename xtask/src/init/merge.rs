//! The findings of every reader → one [`Draft`].
//!
//! - Images come from bake targets, then compose services, then Dockerfiles no image builds
//!   yet; an image described twice (same Dockerfile, context and stage) is one image, its
//!   details merged.
//! - Registries: metadata-action's `images` first, then bake tags and compose `image:` names.
//!   Every image goes to every registry prefix; an image's repository is the name it was
//!   pushed under, when that is not the image name. A job that releases through the project's
//!   own script pushes where it logs in: that host, under the namespace the others share.
//! - Tags, `latest` and `flavor`: the first metadata-action step, bounded to the events the
//!   workflows release on (`merge/tags.rs`).
//! - Platforms: build-push-action's, else the architectures a matrix hands a release script,
//!   else the list a release script spells out, else the first image's own; images that differ
//!   keep theirs.
//! - `[compose]`: every compose file compose would publish.
//! - Build args and labels whose value looks like a secret (a sensitive name such as
//!   `NPM_TOKEN`, or a token-shaped value): never copied. A build arg's name goes to
//!   `release.secret-build-args`; both are reported, without any part of the value.

use std::collections::BTreeMap;

use anyhow::Result;

use super::bake::Bake;
use super::compose::ComposeFile;
use super::workflow::{Meta, Workflow};
use super::{
    component, dir_of, dockerfiles, ComposeDraft, Draft, FinalImage, ImageDraft, Notes, Source,
};
use crate::oci::platform::Platform;

/// Everything the readers found.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// The name used when nothing else names the project (the workspace directory's).
    pub default_name: String,
    pub dockerfiles: Vec<String>,
    pub bake: Vec<Bake>,
    pub compose: Vec<ComposeFile>,
    pub workflows: Vec<Workflow>,
    /// The remote's default branch (`origin/HEAD`), when the clone recorded it.
    pub origin_head: Option<String>,
    pub goreleaser: Vec<super::goreleaser::GoReleaser>,
    /// The repository's tags (their form: `1.37.2` or `v1.37.2`).
    pub git_tags: Vec<String>,
    /// Each Dockerfile's stage names, in order.
    pub stages: BTreeMap<String, Vec<String>>,
    /// The platform lists the release scripts spell out (`scripts::platforms`).
    pub script_platforms: Vec<(Source, Vec<String>)>,
    /// The image names package scripts build (`-t NAME:TAG`): a registry for the image of the
    /// same repository.
    pub script_names: Vec<(Source, String)>,
}

pub fn merge(found: Found) -> Result<Draft> {
    let mut notes = Notes::default();
    let (mut images, metadata_images) = collect_images(&found, &mut notes)?;
    workflow_pushes(&found, &mut images, &mut notes);
    goreleaser_names(&found, &mut images, &mut notes);
    compose_image_names(&found, &mut images, &mut notes);

    // metadata-action steps that name only registries on the CI machine itself (a job's own
    // registry for base stages) come after the ones that name release destinations.
    let mut metas: Vec<&Meta> = found
        .workflows
        .iter()
        .flat_map(|w| w.metas.iter())
        .collect();
    metas
        .sort_by_key(|m| !m.images.is_empty() && m.images.iter().all(|(_, n)| is_local(&n.prefix)));
    for w in &found.workflows {
        notes.extend(w.notes.clone());
    }
    let mut draft = Draft {
        notes: Notes::default(),
        ..Default::default()
    };
    // The build whose `tags:` are metadata-action's output builds metadata-action's images.
    let meta_build = found
        .workflows
        .iter()
        .flat_map(|w| w.pushes.iter())
        .find(|p| p.meta_tags)
        .map(|p| p.dockerfile.clone());
    if let Some(meta) = metas.first() {
        let by_build = meta_build.and_then(|d| images.iter().position(|i| i.dockerfile == d));
        name_metadata_images(
            meta,
            &mut images,
            &metadata_images,
            by_build,
            &mut draft,
            &mut notes,
        );
    }
    drop_unpublished(&mut images, &mut notes);
    dev_variants(&found, &mut images, &mut notes);
    let mut finals = repositories(images, &mut draft, &mut notes);
    script_names(&found, &finals, &mut draft, &mut notes);
    draft.default_branch = default_branch(&found, &mut notes);
    for w in &found.workflows {
        for (src, host) in &w.logins {
            let pushed = draft
                .registries
                .iter()
                .any(|r| r.split('/').next() == Some(host.as_str()));
            if !pushed && w.script_logins.contains(&(src.clone(), host.clone())) {
                if let Some(prefix) = script_registry(host, &draft.registries) {
                    notes.mapped(
                        src.clone(),
                        format!(
                            "docker/login-action {host} in a job that releases by a script \
                             (its pushes are not read: check the prefix)"
                        ),
                        format!("release.registries ({prefix:?})"),
                    );
                    draft.registries.push(prefix);
                    continue;
                }
            }
            if !pushed {
                notes.not_mapped(
                    src.clone(),
                    format!("docker/login-action {host}"),
                    "the workflow logs in there, but nothing init read names an image pushed \
                     there: add that registry's prefix to release.registries if the release \
                     pushes there",
                );
            }
        }
    }
    platforms(&found, &mut finals, &mut draft, &mut notes);
    if let Some(meta) = metas.first() {
        tags(meta, &metas, &mut draft, &mut notes);
        event_bounds(&found, meta, &mut draft, &mut notes);
    } else if let Some(g) = found.goreleaser.iter().find(|g| !g.tags.is_empty()) {
        for (i, (src, rule)) in g.tags.iter().enumerate() {
            notes.mapped(
                src.clone(),
                format!("tags {rule:?}"),
                format!("release.tags[{i}]"),
            );
        }
        draft.tags = g.tags.iter().map(|(_, r)| r.clone()).collect();
    } else {
        default_rules_note(&found, &mut notes);
    }

    // The name: metadata-action's first image, else the workspace directory.
    draft.name = metas
        .first()
        .and_then(|m| m.images.first())
        .map(|(_, n)| n.repository.clone())
        .unwrap_or_else(|| found.default_name.clone());

    composes(&found, &finals, &mut draft, &mut notes);

    for f in finals.iter_mut() {
        foreign_templates_out(&mut f.build, &mut notes);
    }
    local_registries_out(&mut draft, &mut notes);
    let secret: std::collections::BTreeSet<&String> = finals
        .iter()
        .flat_map(|f| f.build.secret_build_args.iter())
        .collect();
    draft.secret_build_args = secret.into_iter().cloned().collect();
    draft.images = finals;
    // By file and line (a stable sort: one line's notes keep their order).
    notes.mapped.sort_by(|a, b| a.from.cmp(&b.from));
    notes.not_mapped.sort_by(|a, b| a.from.cmp(&b.from));
    draft.notes = notes;
    Ok(draft)
}

/// The images of the bake files, compose files and Dockerfiles, merged (and the images a bake
/// file tags with metadata-action).
fn collect_images(found: &Found, notes: &mut Notes) -> Result<(Vec<ImageDraft>, Vec<String>)> {
    let mut images: Vec<ImageDraft> = Vec::new();
    let mut metadata_images: Vec<String> = Vec::new();
    for b in &found.bake {
        notes.extend(b.notes.clone());
        metadata_images.extend(b.uses_metadata_action.iter().cloned());
        for img in &b.images {
            add(&mut images, img.clone(), notes);
        }
    }
    for c in &found.compose {
        notes.extend(c.notes.clone());
        for img in &c.images {
            add(&mut images, img.clone(), notes);
        }
    }
    for file in &found.dockerfiles {
        let at = Source::new(file, 0);
        if let Some(user) = images.iter().find(|i| i.dockerfile == *file) {
            notes.mapped(at, "Dockerfile", format!("images.{} (already)", user.name));
            continue;
        }
        let img = dockerfiles::image(file, &found.default_name);
        notes.mapped(
            at,
            "Dockerfile",
            format!("images.{}", unique(&images, &img.name)),
        );
        add(&mut images, img, notes);
    }
    if images.is_empty() && !found.goreleaser.is_empty() {
        anyhow::bail!(crate::problem::Problem::config(
            "no image stevedore can build: the only Dockerfiles here are GoReleaser's (`dockers:` \
             in .goreleaser.yml), which copy the binaries GoReleaser built; stevedore builds \
             images from the sources",
            "add a Dockerfile that builds the program itself (a multi-stage build), or a \
             `native` image in images/release.toml (see README, \"The release config\"), then \
             run init again",
        ));
    }
    if images.is_empty() {
        anyhow::bail!(
            "no image found: no Dockerfile, docker-bake.hcl target or compose service with \
             `build:` under the workspace root; write images/release.toml by hand (see README, \
             \"The release config\")"
        );
    }

    Ok((images, metadata_images))
}

/// metadata-action's images: which image each names.
fn name_metadata_images(
    meta: &Meta,
    images: &mut [ImageDraft],
    metadata_images: &[String],
    by_build: Option<usize>,
    draft: &mut Draft,
    notes: &mut Notes,
) {
    for (src, name) in &meta.images {
        let target = images
            .iter()
            .position(|i| i.names.iter().any(|n| n.repository == name.repository))
            .or_else(|| images.iter().position(|i| i.name == name.repository))
            .or(by_build)
            .or_else(|| (images.len() == 1).then_some(0))
            .or_else(|| match metadata_images {
                [one] => images.iter().position(|i| i.name == *one),
                _ => None,
            });
        match target {
            Some(i) => {
                notes.mapped(
                    src.clone(),
                    format!("metadata-action image {}/{}", name.prefix, name.repository),
                    format!("release.registries and images.{}", images[i].name),
                );
                // metadata-action's names come first: they name the repository (another
                // step's or the compose file's may have been met before).
                images[i].names.retain(|n| n != name);
                images[i].names.insert(0, name.clone());
                push_unique(&mut draft.registries, &name.prefix);
            }
            None => {
                notes.mapped(
                    src.clone(),
                    format!("metadata-action image {}/{}", name.prefix, name.repository),
                    "release.registries",
                );
                notes.not_mapped(
                    src.clone(),
                    format!("repository {:?}", name.repository),
                    "none of the images is named so: set `repository` on the image it tags",
                );
                push_unique(&mut draft.registries, &name.prefix);
            }
        }
    }
}

/// An image built to its final stage whose Dockerfile has a `dev`/`development` stage before it
/// gets a `-dev` variant: that stage, tags with the `-dev` suffix (dtx-style).
fn dev_variants(found: &Found, images: &mut Vec<ImageDraft>, notes: &mut Notes) {
    let mut variants = Vec::new();
    for img in images
        .iter()
        .filter(|i| i.target.is_none() && !i.dev_variant)
    {
        let Some(stage) = found
            .stages
            .get(&img.dockerfile)
            .and_then(|s| super::dockerfiles::dev_stage(s))
        else {
            continue;
        };
        let mut dev = img.clone();
        dev.name = format!("{}-dev", img.name);
        dev.target = Some(stage.to_string());
        dev.dev_variant = true;
        dev.names = img
            .names
            .iter()
            .map(|n| super::ImageName {
                prefix: n.prefix.clone(),
                repository: format!("{}-dev", n.repository),
            })
            .collect();
        if images.iter().any(|i| i.name == dev.name) {
            continue;
        }
        notes.mapped(
            Source::new(&img.dockerfile, 0),
            format!("stage {stage:?} before the final stage"),
            format!(
                "images.{} (target {stage:?}, flavor suffix -dev: a development variant)",
                dev.name
            ),
        );
        variants.push(dev);
    }
    images.extend(variants);
}

/// Registries and repositories: each image's repository name, checked against the others'.
fn repositories(images: Vec<ImageDraft>, draft: &mut Draft, notes: &mut Notes) -> Vec<FinalImage> {
    let mut repositories: BTreeMap<String, String> = BTreeMap::new();
    let mut finals: Vec<FinalImage> = Vec::new();
    for img in &images {
        for n in &img.names {
            push_unique(&mut draft.registries, &n.prefix);
        }
    }
    let taken_names: Vec<String> = images.iter().map(|i| i.name.clone()).collect();
    for img in images {
        let mut repository = None;
        if let Some(first) = img.names.first() {
            for other in img.names.iter().skip(1) {
                if other.repository != first.repository {
                    notes.not_mapped(
                        img.from.clone(),
                        format!("{}/{}", other.prefix, other.repository),
                        format!(
                            "an image has one repository name in every registry: images.{} is \
                             pushed as {:?}",
                            img.name, first.repository
                        ),
                    );
                }
            }
            if first.repository != img.name {
                repository = Some(first.repository.clone());
            }
        }
        // Image names are unique; a repository may be neither another image's name nor a
        // repository already given.
        if let Some(repo) = repository.clone() {
            let other = repositories
                .get(&repo)
                .cloned()
                .or_else(|| taken_names.iter().find(|n| **n == repo).cloned());
            if let (Some(other), Some(suffix)) = (&other, &img.variant_suffix) {
                // A variant of the same repository: its flavor sets its tags apart.
                notes.mapped(
                    img.from.clone(),
                    format!("images.{} ({suffix} variant of {repo:?})", img.name),
                    format!(
                        "repository = {repo:?} beside images.{other}, flavor = {{ suffix = \
                         {suffix:?}, onlatest = true }}"
                    ),
                );
            } else if let Some(other) = other {
                notes.not_mapped(
                    img.from.clone(),
                    format!("repository {repo:?}"),
                    format!(
                        "images.{other} is pushed there already: images.{} keeps its own name",
                        img.name
                    ),
                );
                repository = None;
            } else {
                repositories.insert(repo, img.name.clone());
            }
        }
        let names: Vec<String> = img.names.iter().map(|n| n.prefix.clone()).collect();
        if !names.is_empty() && draft.registries.iter().any(|r| !names.contains(r)) {
            notes.not_mapped(
                img.from.clone(),
                format!("images.{} registries", img.name),
                format!(
                    "every image goes to every prefix of release.registries: it named only {}",
                    names.join(", ")
                ),
            );
        }
        finals.push(FinalImage {
            build: img,
            repository,
            platforms: None,
        });
    }

    finals
}

/// Image names a package script builds whose repository is a drafted image's: their registry
/// prefixes join release.registries.
fn script_names(found: &Found, finals: &[FinalImage], draft: &mut Draft, notes: &mut Notes) {
    for (src, raw) in &found.script_names {
        let Some((name, _)) = super::ImageName::parse(&raw.to_ascii_lowercase()) else {
            continue;
        };
        let ours = finals
            .iter()
            .any(|f| f.repository.as_deref().unwrap_or(&f.build.name) == name.repository);
        if ours && !draft.registries.contains(&name.prefix) {
            notes.mapped(
                src.clone(),
                format!("image name {raw} of a release script"),
                format!("release.registries ({:?})", name.prefix),
            );
            draft.registries.push(name.prefix.clone());
        }
    }
}

/// Whether a registry prefix is on the machine itself (`localhost:5000/acme`, any loopback
/// address, `0.0.0.0`, a `*.localhost` name).
fn is_local(prefix: &str) -> bool {
    let host = prefix.split('/').next().unwrap_or("");
    let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
    crate::oci::reference::is_loopback_host(host)
        || name == "0.0.0.0"
        || name.ends_with(".localhost")
}

/// Registries on the machine CI runs on (`localhost:5000/acme`, a job's own registry for
/// build stages): not where a release goes; left out and reported.
fn local_registries_out(draft: &mut Draft, notes: &mut Notes) {
    draft.registries.retain(|r| {
        let local = is_local(r);
        if local {
            notes.not_mapped(
                Source::new("images/release.toml", 0),
                format!("registry {r}"),
                "a registry on the machine the workflow runs on (a job's own, for build \
                 stages), not a release destination: left out of release.registries",
            );
        }
        !local
    });
}

/// Build args whose value holds a `{{…}}` that is not one of stevedore's templates
/// (`{{meta.version}}`, a Go or Helm template the workflow passes on): left out and reported,
/// so that the draft passes its own validation.
fn foreign_templates_out(img: &mut ImageDraft, notes: &mut Notes) {
    img.build_args.retain(|k, v| {
        let unknown = crate::config::build_arg_templates::unknown_arg_templates(v);
        if unknown.is_empty() {
            return true;
        }
        notes.not_mapped(
            img.from.clone(),
            format!("build arg {k}"),
            format!(
                "its value holds {}, which is not a template stevedore knows ({{{{version}}}}, \
                 {{{{sha}}}}, {{{{branch}}}}): left out; write it in images.{}.build-args by hand",
                unknown.join(", "),
                img.name
            ),
        );
        false
    });
}

/// The prefix a release script pushes to on `host`, where its job logs in: the namespace the
/// other registries share (`docker.io/searxng` → `ghcr.io/searxng`); `None` when there is none
/// or they differ.
fn script_registry(host: &str, registries: &[String]) -> Option<String> {
    let mut namespaces = registries
        .iter()
        .map(|r| r.split_once('/').map(|(_, ns)| ns));
    let first = namespaces.next()??;
    if first.is_empty() || !namespaces.all(|ns| ns == Some(first)) {
        return None;
    }
    Some(format!("{host}/{first}"))
}

/// Platforms: the workflow's, else the first image's, else linux/amd64; an image keeps its own
/// when they differ.
fn platforms(found: &Found, finals: &mut [FinalImage], draft: &mut Draft, notes: &mut Notes) {
    let good = |list: &[String], from: &Source, notes: &mut Notes| -> Vec<String> {
        let mut out = Vec::new();
        for p in list {
            match p.parse::<Platform>() {
                Ok(_) => push_unique(&mut out, p),
                Err(e) => notes.not_mapped(from.clone(), format!("platform {p:?}"), e.to_string()),
            }
        }
        out
    };
    // Build steps' own platforms, else the architectures a matrix hands a release script, else
    // the platform list a release script spells out.
    // The workflows that release on tag pushes first: theirs are the release's platforms (a
    // canary build on every push may build fewer).
    let mut ordered: Vec<&Workflow> = found.workflows.iter().collect();
    ordered.sort_by_key(|w| w.tag_patterns.is_empty());
    let workflows = ordered.iter().copied();
    let candidates = workflows
        .clone()
        .flat_map(|w| w.platforms.iter())
        .map(|(src, list)| (src, "build-push-action platforms".to_string(), list))
        .chain(
            workflows
                .flat_map(|w| w.script_platforms.iter())
                .map(|(src, key, list)| {
                    let what = format!("{key} handed to a release script ({})", list.join(", "));
                    (src, what, list)
                }),
        )
        .chain(found.script_platforms.iter().map(|(src, list)| {
            let what = format!(
                "platforms a release script spells out ({})",
                list.join(", ")
            );
            (src, what, list)
        }));
    for (src, what, list) in candidates {
        let list = good(list, src, notes);
        if !list.is_empty() {
            notes.mapped(src.clone(), what, "release.platforms");
            draft.platforms = list;
            break;
        }
    }
    if draft.platforms.is_empty() {
        if let Some(f) = finals.iter().find(|f| !f.build.platforms.is_empty()) {
            draft.platforms = good(&f.build.platforms, &f.build.from, notes);
        }
    }
    if draft.platforms.is_empty() {
        draft.platforms = vec!["linux/amd64".into()];
        notes.not_mapped(
            Source::new("images/release.toml", 0),
            "platforms",
            "none found: linux/amd64 written (add linux/arm64 and others to release.platforms)",
        );
    }
    for f in finals.iter_mut() {
        if f.build.platforms.is_empty() {
            continue;
        }
        let own = good(&f.build.platforms, &f.build.from, notes);
        if !own.is_empty() && own != draft.platforms {
            f.platforms = Some(own);
        }
    }
}

/// Compose artifacts: each compose file compose would publish and that runs an image of the
/// release.
fn composes(found: &Found, finals: &[FinalImage], draft: &mut Draft, notes: &mut Notes) {
    let publishable: Vec<&ComposeFile> = found.compose.iter().filter(|c| c.usable).collect();
    for c in publishable {
        let at = Source::new(&c.file, 0);
        let runs_ours = finals.iter().any(|f| {
            let repo = f.repository.as_deref().unwrap_or(&f.build.name);
            c.runs.iter().any(|r| r == repo || *r == f.build.name)
        });
        if !runs_ours {
            let why = if c.not_publishable.is_empty() {
                "none of its services runs an image this release builds (name one in `image:` to \
                 publish it with the release)"
                    .to_string()
            } else {
                format!(
                    "compose would refuse to publish it: {}",
                    c.not_publishable.join("; ")
                )
            };
            notes.not_mapped(at, "the compose file as a compose artifact", why);
            continue;
        }
        let repository = if draft.compose.is_empty() {
            format!("{}-oci", draft.name)
        } else {
            let dir = component(dir_of(&c.file));
            let stem = if dir.is_empty() {
                component(&c.file)
            } else {
                dir
            };
            format!("{}-{stem}-oci", draft.name)
        };
        let compose = ComposeDraft {
            files: vec![c.file.clone()],
            repository,
        };
        if !c.not_publishable.is_empty() {
            let why = format!(
                "compose would refuse to publish it: {}",
                c.not_publishable.join("; ")
            );
            notes.not_mapped(
                at,
                "the compose file as a compose artifact",
                format!("written commented out: {why}"),
            );
            draft.compose_commented.push((compose, why));
            continue;
        }
        notes.mapped(
            at,
            "the compose file",
            format!(
                "compose (published as {}, images pinned to the release's)",
                compose.repository
            ),
        );
        draft.compose.push(compose);
    }
}

/// Build args stevedore sets itself (from git), which a fixed value would override.
const SET_BY_STEVEDORE: &[&str] = &["VERSION", "GIT_COMMIT", "BUILD_DATE"];

/// Adds `img`, or merges it into an image with the same build.
fn add(images: &mut Vec<ImageDraft>, mut img: ImageDraft, notes: &mut Notes) {
    if img.name.is_empty() {
        notes.not_mapped(
            img.from.clone(),
            "an image without a usable name",
            "its name has no letter or digit: add it by hand as [images.<name>]",
        );
        return;
    }
    secrets_out(&mut img, notes);
    img.build_args.retain(|k, v| {
        let why = if SET_BY_STEVEDORE.contains(&k.as_str()) {
            "stevedore sets VERSION, GIT_COMMIT and BUILD_DATE from git itself (a value in \
             build-args would replace it on every release)"
                .to_string()
        } else {
            match crate::config::build_arg_templates::unknown_arg_templates(v).first() {
                Some(t) => format!(
                    "{t} would be read as a stevedore template (only {{{{version}}}}, {{{{sha}}}} \
                     and {{{{branch}}}} are)"
                ),
                None => return true,
            }
        };
        notes.not_mapped(img.from.clone(), format!("build arg {k}={v:?}"), why);
        false
    });
    if let Some(same) = images.iter_mut().find(|i| {
        i.dockerfile == img.dockerfile && i.context == img.context && i.target == img.target
    }) {
        notes.mapped(
            img.from.clone(),
            format!("the same build as images.{}", same.name),
            format!("images.{}", same.name),
        );
        for n in img.names {
            if !same.names.contains(&n) {
                same.names.push(n);
            }
        }
        same.secret_build_args.extend(img.secret_build_args);
        for k in &same.secret_build_args {
            same.build_args.remove(k);
        }
        for (k, v) in img.build_args {
            if same.secret_build_args.contains(&k) {
                continue;
            }
            match same.build_args.get(&k) {
                Some(old) if *old != v => notes.not_mapped(
                    img.from.clone(),
                    format!("build arg {k}={v:?}"),
                    format!("images.{} already has {k}={old:?}", same.name),
                ),
                _ => {
                    same.build_args.insert(k, v);
                }
            }
        }
        for (k, v) in img.labels {
            same.labels.entry(k).or_insert(v);
        }
        if same.platforms.is_empty() {
            same.platforms = img.platforms;
        }
        if same.cache.is_none() {
            same.cache = img.cache;
        }
        same.released |= img.released;
        return;
    }
    let name = unique(images, &img.name);
    if name != img.name {
        notes.not_mapped(
            img.from.clone(),
            format!("image name {:?}", img.name),
            format!("another image has it: this one is images.{name}"),
        );
        img.name = name;
    }
    images.push(img);
}

/// Takes the secret-looking build args and labels out of `img` (values dropped, build arg names
/// kept in `secret_build_args`), each reported without its value.
fn secrets_out(img: &mut ImageDraft, notes: &mut Notes) {
    use crate::compose::secrets::looks_secret;
    let args: Vec<String> = img
        .build_args
        .iter()
        .filter(|(k, v)| looks_secret(k, v))
        .map(|(k, _)| k.clone())
        .collect();
    for k in args {
        img.build_args.remove(&k);
        notes.not_mapped(
            img.from.clone(),
            format!("build arg {k}"),
            "its value looks like a secret: not copied into build-args; its name is in \
             release.secret-build-args (see README, \"secret-build-args\", for where the value \
             comes from)",
        );
        img.secret_build_args.insert(k);
    }
    let labels: Vec<String> = img
        .labels
        .iter()
        .filter(|(k, v)| looks_secret(k, v))
        .map(|(k, _)| k.clone())
        .collect();
    for k in labels {
        img.labels.remove(&k);
        notes.not_mapped(
            img.from.clone(),
            format!("label {k}"),
            "its value looks like a secret: not copied (labels are published in the image)",
        );
    }
    // Labels stevedore sets itself from git and the plan (revision, version, source…), or keys
    // a config may not hold: reported with the reason, not written.
    let refused: Vec<(String, String)> = img
        .labels
        .keys()
        .filter_map(|k| Some((k.clone(), crate::config::checks::label_key(k).err()?)))
        .collect();
    for (k, why) in refused {
        img.labels.remove(&k);
        notes.not_mapped(img.from.clone(), format!("label {k}"), why);
    }
}

/// `name`, or `name-2`, `name-3`… when taken.
fn unique(images: &[ImageDraft], name: &str) -> String {
    let taken = |n: &str| images.iter().any(|i| i.name == n);
    if !taken(name) {
        return name.to_string();
    }
    (2..)
        .map(|i| format!("{name}-{i}"))
        .find(|n| !taken(n))
        .unwrap_or_else(|| name.to_string())
}

fn push_unique(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|x| x == item) {
        list.push(item.to_string());
    }
}

mod published;
mod tags;

use published::{
    compose_image_names, default_branch, drop_unpublished, goreleaser_names, workflow_pushes,
};
use tags::{default_rules_note, event_bounds, tags};

#[cfg(test)]
mod tests;
