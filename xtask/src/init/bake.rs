//! `docker-bake.hcl`: targets → images, with their context, Dockerfile, stage, args, labels,
//! platforms and tags (where they are pushed). Variables take their defaults; what cannot be
//! evaluated (functions, unknown variables) or has no config key is reported.
//!
//! Which targets are images: the `default` group's (recursively) when there is one, else every
//! target no other target inherits from. `docker-metadata-action` is metadata-action's
//! placeholder target: its tags come from the workflow.

use std::collections::{BTreeMap, BTreeSet};

use hcl::edit::Span as _;
use hcl::eval::{Context, Evaluate};
use hcl::Value;

use super::{component, join, line_of, ImageDraft, ImageName, Notes, Source};

/// The attribute holding a `tags` expression that calls a function (its source text).
const TAGS_CALL: &str = "tags (a function call)";

/// metadata-action's bake target.
pub const METADATA_TARGET: &str = "docker-metadata-action";

/// What a bake file gives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bake {
    pub images: Vec<ImageDraft>,
    /// Images whose target inherits `docker-metadata-action`.
    pub uses_metadata_action: Vec<String>,
    pub notes: Notes,
}

/// One target as written: its line and attributes (evaluated).
#[derive(Debug, Clone, Default)]
struct Target {
    line: usize,
    attrs: BTreeMap<String, (usize, Value)>,
    inherits: Vec<String>,
}

/// The bake file's variables first: their defaults, each able to use the ones before it.
fn variables(
    body: &hcl::edit::structure::Body,
    file: &str,
    text: &str,
    notes: &mut Notes,
) -> Context<'static> {
    let at = |line: usize| Source::new(file, line);
    let line = |span: Option<std::ops::Range<usize>>| span.map_or(0, |s| line_of(text, s.start));
    let mut ctx = Context::new();
    ctx.declare_var("BAKE_CMD_CONTEXT", ".");
    ctx.declare_var("BAKE_LOCAL_PLATFORM", "linux/amd64");
    for block in body.blocks() {
        let l = line(block.span());
        let label = block.labels.first().map(|l| l.as_str().to_string());
        match (block.ident.as_str(), label) {
            ("variable", Some(name)) => {
                let value = match block.body.get_attribute("default") {
                    Some(a) => match hcl::Expression::from(a.value.clone()).evaluate(&ctx) {
                        Ok(v) => v,
                        Err(e) => {
                            notes.not_mapped(
                                at(l),
                                format!("variable \"{name}\""),
                                format!("its default cannot be evaluated ({e}); it counts as \"\""),
                            );
                            Value::from("")
                        }
                    },
                    None => Value::from(""),
                };
                notes.not_mapped(
                    at(l),
                    format!("variable \"{name}\""),
                    format!(
                        "no variables in the config: its default {} is used where it appears \
                         (bake would read ${name} from the environment too)",
                        show(&value)
                    ),
                );
                ctx.declare_var(name, value);
            }
            ("function", name) => notes.not_mapped(
                at(l),
                format!("function \"{}\"", name.unwrap_or_default()),
                "functions are not evaluated: attributes that call one are reported",
            ),
            _ => {}
        }
    }
    ctx
}

/// Reads a bake file (`file`: root-relative), its default group's targets.
pub fn read(file: &str, text: &str) -> Bake {
    read_targets(file, text, &[])
}

/// Reads a bake file: the targets (or groups) CI builds (`ci_targets`: a workflow's bake-action
/// `targets:`), else the default group's.
pub fn read_targets(file: &str, text: &str, ci_targets: &[String]) -> Bake {
    let mut out = Bake::default();
    let at = |line: usize| Source::new(file, line);
    let body = match hcl::edit::parser::parse_body(text) {
        Ok(b) => b,
        Err(e) => {
            out.notes.not_mapped(
                Source::new(file, e.location().line()),
                "the bake file",
                format!("not valid HCL: {}", e.message()),
            );
            return out;
        }
    };
    let line = |span: Option<std::ops::Range<usize>>| span.map_or(0, |s| line_of(text, s.start));

    let ctx = variables(&body, file, text, &mut out.notes);
    let registry_vars = registry_variables(&body, &ctx);

    let mut targets: BTreeMap<String, Target> = BTreeMap::new();
    let mut groups: BTreeMap<String, (usize, Vec<String>)> = BTreeMap::new();
    for block in body.blocks() {
        let l = line(block.span());
        let Some(name) = block.labels.first().map(|l| l.as_str().to_string()) else {
            continue;
        };
        match block.ident.as_str() {
            "target" => {
                let mut t = Target {
                    line: l,
                    ..Default::default()
                };
                for attr in block.body.attributes() {
                    let key = attr.key.as_str().to_string();
                    let al = line(attr.span());
                    match hcl::Expression::from(attr.value.clone()).evaluate(&ctx) {
                        Ok(Value::Null) => {}
                        Ok(v) if key == "inherits" => t.inherits = strings(&v),
                        Ok(v) => {
                            t.attrs.insert(key, (al, v));
                        }
                        Err(_) if key == "tags" => {
                            // A function builds the tags (vaultwarden's generate_tags): its
                            // call is read for where it pushes (see [`called_tags`]).
                            let raw = attr.span().and_then(|s| text.get(s)).unwrap_or("");
                            t.attrs
                                .insert(TAGS_CALL.into(), (al, Value::from(raw.to_string())));
                        }
                        Err(e) => out.notes.not_mapped(
                            at(al),
                            format!("target \"{name}\" {key}"),
                            format!("cannot be evaluated: {}", e.to_string().trim()),
                        ),
                    }
                }
                targets.insert(name, t);
            }
            "group" => {
                let list = block
                    .body
                    .get_attribute("targets")
                    .and_then(|a| hcl::Expression::from(a.value.clone()).evaluate(&ctx).ok())
                    .map(|v| strings(&v))
                    .unwrap_or_default();
                groups.insert(name, (l, list));
            }
            "variable" | "function" => {}
            other => out.notes.not_mapped(
                at(l),
                format!("{other} \"{name}\""),
                "not a bake block stevedore knows",
            ),
        }
    }

    let inherited: BTreeSet<&str> = targets
        .values()
        .flat_map(|t| t.inherits.iter().map(String::as_str))
        .collect();
    let chosen = chosen_targets(ci_targets, &groups, &targets, &inherited);
    for (name, (l, members)) in &groups {
        if ci_targets.contains(name) || (ci_targets.is_empty() && name == "default") {
            out.notes.mapped(
                at(*l),
                format!("group \"{name}\" ({})", members.join(", ")),
                "images (every image is released together)",
            );
        } else {
            out.notes.not_mapped(
                at(*l),
                format!("group \"{name}\" ({})", members.join(", ")),
                "stevedore releases every image together (build a subset with `build --image`)",
            );
        }
    }
    for (name, t) in &targets {
        if !chosen.contains(name) && name != METADATA_TARGET {
            let why = if inherited.contains(name.as_str()) {
                "inherited by other targets: its attributes are merged into theirs"
            } else if ci_targets.is_empty() {
                "not in the default group"
            } else {
                "not a target the workflows build"
            };
            out.notes
                .not_mapped(at(t.line), format!("target \"{name}\""), why);
        }
    }
    for name in &chosen {
        let Some(t) = targets.get(name) else {
            if !groups.contains_key(name) {
                out.notes.not_mapped(
                    Source::new(file, groups.get("default").map_or(0, |g| g.0)),
                    format!("target \"{name}\""),
                    if ci_targets.is_empty() {
                        "named by the default group but not defined"
                    } else {
                        "named by a workflow's bake run but not defined in this file"
                    },
                );
            }
            continue;
        };
        let mut uses_meta = false;
        let attrs = resolve(name, &targets, &mut uses_meta, 0);
        if let Some(mut img) = image(file, name, t.line, &attrs, &mut out.notes) {
            if let Some((l, Value::String(call))) = attrs.get(TAGS_CALL) {
                called_tags(&mut img, call, &registry_vars, at(*l), name, &mut out.notes);
            }
            if uses_meta {
                out.uses_metadata_action.push(img.name.clone());
                out.notes.mapped(
                    at(t.line),
                    format!("target \"{name}\" inherits \"{METADATA_TARGET}\""),
                    format!("images.{} (tags from the metadata-action step)", img.name),
                );
            }
            out.images.push(img);
        }
    }
    out
}

/// Variables whose default is a comma-separated list of registry/repository names
/// (`CONTAINER_REGISTRIES = "vaultwarden/server"`): where a tags function pushes.
fn registry_variables(
    body: &hcl::edit::structure::Body,
    ctx: &Context<'static>,
) -> Vec<(String, Vec<ImageName>)> {
    let mut out = Vec::new();
    for block in body.blocks() {
        let (Some(label), "variable") = (block.labels.first(), block.ident.as_str()) else {
            continue;
        };
        let Some(Ok(Value::String(v))) = block
            .body
            .get_attribute("default")
            .map(|a| hcl::Expression::from(a.value.clone()).evaluate(ctx))
        else {
            continue;
        };
        let names: Option<Vec<ImageName>> = v
            .split(',')
            .map(|n| ImageName::parse(n.trim()).map(|(n, _)| n))
            .collect();
        if let Some(names) = names.filter(|n| !n.is_empty()) {
            out.push((label.as_str().to_string(), names));
        }
    }
    out
}

/// A target whose `tags` call a function: the names of the registry variables it pushes to,
/// and the suffix its call gives (`generate_tags("-alpine", "")`: a variant in the same
/// repository).
fn called_tags(
    img: &mut ImageDraft,
    call: &str,
    registry_vars: &[(String, Vec<ImageName>)],
    at: Source,
    target: &str,
    notes: &mut Notes,
) {
    let Some((var, names)) = registry_vars.first() else {
        notes.not_mapped(
            at,
            format!("target \"{target}\" tags"),
            format!("{call}: functions are not evaluated, and no variable names a registry"),
        );
        return;
    };
    for n in names {
        if !img.names.contains(n) {
            img.names.push(n.clone());
        }
    }
    img.variant_suffix = call
        .split('"')
        .skip(1)
        .step_by(2)
        .find(|a| a.len() > 1 && a.starts_with('-'))
        .map(str::to_string);
    notes.mapped(
        at,
        format!("target \"{target}\" tags ({call})"),
        format!(
            "release.registries (the function is not evaluated: the names in variable {var}'s \
             default){}",
            img.variant_suffix
                .as_ref()
                .map(|s| format!(", a {s} variant"))
                .unwrap_or_default()
        ),
    );
}

/// The targets released: the ones CI builds (`ci_targets`, groups expanded), else the default
/// group's, else every target no other inherits from.
fn chosen_targets(
    ci_targets: &[String],
    groups: &BTreeMap<String, (usize, Vec<String>)>,
    targets: &BTreeMap<String, Target>,
    inherited: &BTreeSet<&str>,
) -> Vec<String> {
    match groups.get("default") {
        _ if !ci_targets.is_empty() => {
            let mut seen = Vec::new();
            for t in ci_targets {
                if groups.contains_key(t) {
                    expand(t, groups, &mut seen, 0);
                } else if !seen.contains(t) {
                    seen.push(t.clone());
                }
            }
            seen
        }
        Some(_) => {
            let mut seen = Vec::new();
            expand("default", groups, &mut seen, 0);
            seen
        }
        None => targets
            .keys()
            .filter(|n| !inherited.contains(n.as_str()) && n.as_str() != METADATA_TARGET)
            .cloned()
            .collect(),
    }
}

/// The targets of group `name`, recursively, in order, each once.
fn expand(
    name: &str,
    groups: &BTreeMap<String, (usize, Vec<String>)>,
    seen: &mut Vec<String>,
    depth: usize,
) {
    let Some((_, members)) = groups.get(name) else {
        return;
    };
    for m in members {
        if groups.contains_key(m) && depth < 16 && m != name {
            expand(m, groups, seen, depth + 1);
        } else if !seen.contains(m) {
            seen.push(m.clone());
        }
    }
}

/// A target's attributes with its parents' merged under them (maps merged key by key).
fn resolve(
    name: &str,
    targets: &BTreeMap<String, Target>,
    uses_meta: &mut bool,
    depth: usize,
) -> BTreeMap<String, (usize, Value)> {
    let mut out = BTreeMap::new();
    let Some(t) = targets.get(name) else {
        return out;
    };
    for parent in &t.inherits {
        if parent == METADATA_TARGET {
            *uses_meta = true;
        }
        if depth < 16 && parent != name {
            for (k, v) in resolve(parent, targets, uses_meta, depth + 1) {
                merge_attr(&mut out, k, v);
            }
        }
    }
    for (k, v) in &t.attrs {
        merge_attr(&mut out, k.clone(), v.clone());
    }
    out
}

fn merge_attr(into: &mut BTreeMap<String, (usize, Value)>, key: String, value: (usize, Value)) {
    if let (Some((_, Value::Object(old))), Value::Object(new)) = (into.get(&key), &value.1) {
        let mut merged = old.clone();
        for (k, v) in new {
            merged.insert(k.clone(), v.clone());
        }
        into.insert(key, (value.0, Value::Object(merged)));
    } else {
        into.insert(key, value);
    }
}

/// The image of one target.
fn image(
    file: &str,
    target: &str,
    line: usize,
    attrs: &BTreeMap<String, (usize, Value)>,
    notes: &mut Notes,
) -> Option<ImageDraft> {
    let at = |l: usize| Source::new(file, l);
    let name = component(target);
    let what = |key: &str| format!("target \"{target}\" {key}");
    let key = |k: &str| format!("images.{name}.{k}");
    if let Some((l, _)) = attrs.get("matrix") {
        notes.not_mapped(
            at(*l),
            what("matrix"),
            "matrix targets are not expanded: write one image per combination",
        );
        return None;
    }
    if let Some((l, _)) = attrs.get("dockerfile-inline") {
        notes.not_mapped(
            at(*l),
            what("dockerfile-inline"),
            "an inline Dockerfile has no file: write it to a file and set `dockerfile`",
        );
        return None;
    }
    let context_raw = attrs
        .get("context")
        .map(|(_, v)| scalar(v))
        .unwrap_or_else(|| ".".into());
    if context_raw.contains("://") || context_raw.starts_with("git@") {
        notes.not_mapped(
            at(attrs.get("context").map_or(line, |c| c.0)),
            what("context"),
            format!("{context_raw:?} is remote: stevedore builds from the workspace"),
        );
        return None;
    }
    // Bake resolves `context` from where it runs (the repository root: `docker buildx bake -f
    // FILE` from the root, as bake-action does), not from the bake file's folder.
    let Some(context) = join("", &context_raw) else {
        notes.not_mapped(
            at(line),
            what("context"),
            format!("{context_raw:?} is outside the workspace"),
        );
        return None;
    };
    let dockerfile_raw = attrs
        .get("dockerfile")
        .map(|(_, v)| scalar(v))
        .unwrap_or_else(|| "Dockerfile".into());
    let Some(dockerfile) = join(&context, &dockerfile_raw) else {
        notes.not_mapped(
            at(line),
            what("dockerfile"),
            format!("{dockerfile_raw:?} is outside the workspace"),
        );
        return None;
    };
    let mut img = ImageDraft {
        name: name.clone(),
        from: at(line),
        dockerfile,
        context,
        released: true,
        ..Default::default()
    };
    notes.mapped(
        at(line),
        format!("target \"{target}\""),
        format!("images.{name}"),
    );
    for (k, (l, v)) in attrs {
        let l = *l;
        match k.as_str() {
            "context" => notes.mapped(at(l), what(k), key("context")),
            "dockerfile" => notes.mapped(at(l), what(k), key("dockerfile")),
            "target" => {
                img.target = Some(scalar(v));
                notes.mapped(at(l), what(k), key("target"));
            }
            "args" | "labels" => {
                let map = if k == "args" {
                    &mut img.build_args
                } else {
                    &mut img.labels
                };
                if let Value::Object(o) = v {
                    for (ak, av) in o {
                        if !matches!(av, Value::Null) {
                            map.insert(ak.clone(), scalar(av));
                        }
                    }
                }
                let to = if k == "args" { "build-args" } else { "labels" };
                notes.mapped(at(l), what(k), key(to));
            }
            "platforms" => {
                img.platforms = strings(v);
                notes.mapped(
                    at(l),
                    what(k),
                    "release.platforms (or the image's platforms)",
                );
            }
            "tags" => tag_names(&mut img, v, at(l), target, notes),
            "cache-to" | "cache-from" => match cache_kind(v) {
                Some(c) => {
                    img.cache = Some(c.into());
                    notes.mapped(at(l), what(k), key("cache"));
                }
                None => notes.not_mapped(
                    at(l),
                    what(k),
                    "only type=gha, type=registry and type=local caches have a `cache` value",
                ),
            },
            "output" | "outputs" => notes.not_mapped(
                at(l),
                what(k),
                "stevedore builds into its OCI layout and pushes to every registry itself",
            ),
            "attest" => notes.not_mapped(
                at(l),
                what(k),
                "stevedore attests every image itself (release.provenance)",
            ),
            "description" => notes.not_mapped(at(l), what(k), "a bake description only"),
            "pull" | "no-cache" => notes.not_mapped(at(l), what(k), "no such build option"),
            "matrix" | "dockerfile-inline" | TAGS_CALL => {}
            _ => notes.not_mapped(
                at(l),
                what(k),
                "no config key for it (secrets, ssh, contexts, network, … are not passed)",
            ),
        }
    }
    Some(img)
}

/// A target's `tags`: the registry/repository names the image is pushed as (its fixed tags are
/// reported: tags come from the release's rules).
fn tag_names(img: &mut ImageDraft, v: &Value, at: Source, target: &str, notes: &mut Notes) {
    for t in strings(v) {
        match ImageName::parse(&t) {
            Some((n, tag)) => {
                if let Some(tag) = tag {
                    notes.not_mapped(
                            at.clone(),
                            format!("target \"{target}\" tag {tag:?}"),
                            "tags come from the release's tag rules (release.tags), not from fixed names",
                        );
                }
                if !img.names.contains(&n) {
                    img.names.push(n);
                }
            }
            None => notes.not_mapped(
                at.clone(),
                format!("target \"{target}\" tag {t:?}"),
                "not a registry/repository name stevedore can push to",
            ),
        }
    }
    if !img.names.is_empty() {
        notes.mapped(
            at.clone(),
            format!("target \"{target}\" tags"),
            "release.registries and the image's repository",
        );
    }
}

/// `type=gha,mode=max` → `gha`.
fn cache_kind(v: &Value) -> Option<&'static str> {
    for entry in strings(v) {
        let ty = entry
            .split(',')
            .find_map(|f| f.trim().strip_prefix("type="))
            .unwrap_or("");
        match ty {
            "gha" => return Some("gha"),
            "registry" => return Some("registry"),
            "local" => return Some("local"),
            _ => {}
        }
    }
    None
}

/// A value as a string (numbers and booleans as written).
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A list of strings (a lone string as one).
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items.iter().map(scalar).collect(),
        Value::Null => vec![],
        other => vec![scalar(other)],
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
