//! GitHub Actions workflows: `docker/metadata-action` steps (`images`, `tags`, `flavor`) and
//! `docker/build-push-action` `platforms`. The tag rules are metadata-action's own grammar, so
//! they are kept as written (metadata-action's shorthands spelled out: `foo` and
//! `type=raw,foo` are `type=raw,value=foo`); a `${{ … }}` expression is only known when the
//! workflow runs and is reported.

use crate::tag_rules::Rule;
use crate::yaml_positions::{Kind, Node};

use super::{line_of, ImageName, Notes, Source};

pub mod expr;
mod steps;

use steps::{
    arch_platforms, bake_run, github_builder, image_names_in, matrix_refs, push, run_step,
    script_file,
};

/// metadata-action's `flavor` (less `latest`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flavor {
    pub prefix: String,
    pub suffix: String,
    pub onlatest: bool,
}

/// One metadata-action step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    pub from: Source,
    /// `images` entries that name a registry and repository.
    pub images: Vec<(Source, ImageName)>,
    /// Tag rules in stevedore's (= metadata-action's) grammar, each checked.
    pub tags: Vec<(Source, String)>,
    /// `flavor` `latest=`.
    pub latest: Option<(Source, String)>,
    /// `flavor` `prefix=`/`suffix=`/`onlatest=`, when any is set.
    pub flavor: Option<(Source, Flavor)>,
}

/// The GitHub repository the checkout's `origin` names (`github.com/OWNER/REPO`): what
/// `${{ github.repository }}` and its kin evaluate to when the workflow runs there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHub {
    pub owner: String,
    pub repo: String,
}

impl GitHub {
    /// From a remote's browsable URL (`https://github.com/OWNER/REPO`); `None` elsewhere.
    pub fn from_source_url(url: &str) -> Option<GitHub> {
        let path = url.strip_prefix("https://github.com/")?;
        let (owner, repo) = path.split_once('/')?;
        (!owner.is_empty() && !repo.is_empty() && !repo.contains('/')).then(|| GitHub {
            owner: owner.to_string(),
            repo: repo.to_string(),
        })
    }

    /// `text` with the repository expressions replaced (`github.repository`,
    /// `github.repository_owner`, `github.event.repository.name`); `None` when none occurs.
    fn expand(&self, text: &str) -> Option<String> {
        let re = regex_lite::Regex::new(
            r"\$\{\{\s*github\.(repository_owner|repository|event\.repository\.name)\s*\}\}",
        )
        .ok()?;
        if !re.is_match(text) {
            return None;
        }
        Some(
            re.replace_all(text, |c: &regex_lite::Captures| match &c[1] {
                "repository_owner" => self.owner.clone(),
                "repository" => format!("{}/{}", self.owner, self.repo),
                _ => self.repo.clone(),
            })
            .into_owned(),
        )
    }
}

/// A build-push-action step (or a look-alike with the same inputs: `depot/build-push-action`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Push {
    pub from: Source,
    /// The Dockerfile (root-relative: build-push-action's `file`, default `CONTEXT/Dockerfile`).
    pub dockerfile: String,
    pub context: String,
    pub target: Option<String>,
    /// Where `tags:` pushes it (the names; the tags themselves come from release.tags).
    pub names: Vec<(Source, ImageName)>,
    pub build_args: std::collections::BTreeMap<String, String>,
    pub cache: Option<String>,
    /// What it builds for: its `platforms`, a native-runner matrix's `platform` values, else
    /// the runner's own (linux/amd64 on GitHub's hosted runners).
    pub platforms: Vec<String>,
    /// Its `tags:` are a metadata-action step's output (`${{ steps.meta.outputs.tags }}`): that
    /// step's images are this build's.
    pub meta_tags: bool,
}

/// A bake run CI makes: `docker/bake-action` `files:`/`targets:` or the `docker/github-builder`
/// bake workflow's `target:`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BakeRun {
    pub from: Source,
    /// Root-relative bake files (empty: the default `docker-bake.hcl`).
    pub files: Vec<String>,
    pub targets: Vec<String>,
    /// Whether the run pushes (`push:` not false, an `output`/`set` with `push=true`, the
    /// github-builder's `output: image`): a run that only tests or validates does not release.
    pub pushes: bool,
}

/// What a workflow file gives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Workflow {
    pub metas: Vec<Meta>,
    /// build-push-action `platforms`.
    pub platforms: Vec<(Source, Vec<String>)>,
    pub pushes: Vec<Push>,
    pub bake_runs: Vec<BakeRun>,
    /// `on.push.branches` literals (no glob): the branches it releases from.
    pub branches: Vec<String>,
    /// `on.push.tags` patterns.
    pub tag_patterns: Vec<String>,
    /// Registries a `docker/login-action` step logs in to (`docker.io` when it names none).
    pub logins: Vec<(Source, String)>,
    /// The logins of jobs that release through the project's own script: where it pushes.
    pub script_logins: Vec<(Source, String)>,
    /// Script files (root-relative) the release steps run: `node extra/release/build-images.mjs`.
    pub scripts: Vec<(Source, String)>,
    /// Platforms a release step hands its script through the matrix (`OVERRIDE_ARCH:
    /// ${{ matrix.arch }}` over `amd64`, `arm64`, `armv7`): the step, the matrix key, the list.
    pub script_platforms: Vec<(Source, String, Vec<String>)>,
    /// Package scripts the steps run (`npm run release-nightly`): read in `package.json` by
    /// `scripts::package_script`, which tells whether they build images.
    pub package_scripts: Vec<PackageRun>,
    pub notes: Notes,
}

/// A `run:` line that runs a package script: where, the folder of its `package.json`
/// (root-relative, the step's `working-directory`), the script's name, and the logins of its
/// job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageRun {
    pub from: Source,
    pub dir: String,
    pub name: String,
    /// A `make` target (`make DOCKER_BUILD_PUSH=true build-docker`), not a package script.
    pub make: bool,
    pub logins: Vec<(Source, String)>,
}

/// Actions that take build-push-action's inputs.
const PUSH_ACTIONS: &[&str] = &["docker/build-push-action", "depot/build-push-action"];
/// The `docker/github-builder` reusable workflows.
const GITHUB_BUILDER: &str = "docker/github-builder/.github/workflows/";

/// Reads a workflow file (`file`: root-relative); `github`: the repository the workflow runs
/// for, when the checkout's `origin` names one.
pub fn read(file: &str, text: &str, github: Option<&GitHub>) -> anyhow::Result<Workflow> {
    let mut out = Workflow::default();
    let Some(docs) = super::yaml_documents(file, text, "the workflow", &mut out.notes)? else {
        return Ok(out);
    };
    let Some(doc) = docs.first() else {
        return Ok(out);
    };
    triggers(doc, &mut out);
    let Some(jobs) = doc.get("jobs") else {
        return Ok(out);
    };
    let base = workflow_scope(doc, jobs, github);
    for (_, job) in jobs.entries() {
        let mut scope = base.clone();
        scope.add_env(job.get("env"));
        scope.add_matrix(job);
        if let Some(uses) = job.get("uses").and_then(Node::as_str) {
            let at = Source::new(file, line_of(text, job.span.start));
            reusable_job(file, text, at, uses, job, &scope, &mut out);
            continue;
        }
        let Some(steps) = job.get("steps").and_then(Node::as_seq) else {
            continue;
        };
        let job_logins = out.logins.len();
        let job_packages = out.package_scripts.len();
        let mut releases_by_script = false;
        step_names(steps, &mut scope);
        add_run_outputs(job, &mut scope);
        for step in steps {
            let Some(uses) = step.get("uses").and_then(Node::as_str) else {
                if let Some(run) = step.get("run").and_then(Node::as_str) {
                    let at = Source::new(file, line_of(text, step.span.start));
                    releases_by_script |= run_in_job(at, step, run, &scope, &mut out);
                }
                continue;
            };
            let mut scope = scope.clone();
            scope.add_env(step.get("env"));
            let action = uses.split('@').next().unwrap_or(uses);
            let with = step.get("with");
            let at = Source::new(file, line_of(text, step.span.start));
            match action {
                "docker/login-action" => {
                    let registry = with
                        .and_then(|w| w.get("registry"))
                        .and_then(Node::as_str)
                        .map_or(Ok(vec!["docker.io".to_string()]), |r| scope.expand(r));
                    if let Ok(list) = registry {
                        for r in list {
                            out.logins.push((at.clone(), r));
                        }
                    }
                }
                "actions/attest"
                | "actions/attest-build-provenance"
                | "sigstore/cosign-installer" => {
                    out.notes.not_mapped(
                        at,
                        format!("step {action}"),
                        "attestation or signing: stevedore attests every image itself \
                         (release.provenance); signing is not set up by init",
                    );
                }
                "docker/metadata-action" => {
                    let with = with.map(|w| resolved(w, &scope.without_github()));
                    out.metas
                        .push(meta(file, text, at, with.as_ref(), github, &mut out.notes));
                }
                a if PUSH_ACTIONS.contains(&a) || a == "docker/bake-action" => {
                    match with.and_then(|w| w.get("platforms")) {
                        Some(p) => platforms(file, text, action, p, &scope, &mut out),
                        // A native-runner matrix: one platform per job.
                        None => {
                            if let Ok(list) = scope.expand("${{ matrix.platform }}") {
                                out.platforms.push((at.clone(), list));
                            }
                        }
                    }
                    if a == "docker/bake-action" {
                        let set = with.and_then(|w| w.get("set")).and_then(Node::as_str);
                        for line in set.unwrap_or("").lines().map(str::trim) {
                            if line.contains("cache-") || line.contains(".tags=") {
                                out.notes.not_mapped(
                                    at.clone(),
                                    format!("bake-action set {line:?}"),
                                    "an override computed when the workflow runs: set the \
                                     image's cache and release.registries by hand",
                                );
                            }
                        }
                        out.bake_runs.push(bake_run(with, &scope, at));
                    } else {
                        let step_name = step.get("name").and_then(Node::as_str).unwrap_or(a);
                        if !steps::build_pushes(with) {
                            out.notes.not_mapped(
                                at,
                                format!("step {step_name:?}"),
                                "it does not push (no `push: true`, no `outputs` with \
                                 `push=true` or `type=registry`): a test build, not a release",
                            );
                            continue;
                        }
                        let mut push =
                            push(file, text, at, step_name, with, &scope, &mut out.notes);
                        push.platforms = match with.and_then(|w| w.get("platforms")) {
                            Some(_) => out
                                .platforms
                                .last()
                                .map(|p| p.1.clone())
                                .unwrap_or_default(),
                            None => scope
                                .expand("${{ matrix.platform }}")
                                .unwrap_or_else(|_| vec!["linux/amd64".to_string()]),
                        };
                        out.pushes.push(push);
                    }
                }
                other => {
                    let step_name = step.get("name").and_then(Node::as_str).unwrap_or(other);
                    if let Some(p) =
                        steps::look_alike(at.clone(), other, with, &scope, &mut out.notes)
                    {
                        out.platforms.extend(
                            (!p.platforms.is_empty()).then(|| (at.clone(), p.platforms.clone())),
                        );
                        out.pushes.push(p);
                    } else if let Some(why) = steps::unknown_image_action(other) {
                        out.notes
                            .not_mapped(at, format!("step {step_name:?} ({other})"), why);
                    }
                }
            }
        }
        let logins = out.logins[job_logins..].to_vec();
        for run in &mut out.package_scripts[job_packages..] {
            run.logins = logins.clone();
        }
        if releases_by_script {
            out.script_logins.extend(logins);
        }
    }
    Ok(out)
}

/// A job that calls a reusable workflow: the `docker/github-builder` ones are read; one from
/// another repository named for building or pushing images is reported.
fn reusable_job(
    file: &str,
    text: &str,
    at: Source,
    uses: &str,
    job: &Node,
    scope: &expr::Scope,
    out: &mut Workflow,
) {
    // A local reusable workflow (`./…`) is read as a workflow file of its own.
    let remote = !uses.starts_with("./");
    if uses.starts_with(GITHUB_BUILDER) {
        github_builder(file, text, at, uses, job.get("with"), scope, out);
    } else if let Some(why) = remote
        .then(|| steps::unknown_image_action(uses.split('@').next().unwrap_or(uses)))
        .flatten()
    {
        out.notes.not_mapped(
            at,
            format!("reusable workflow {uses}"),
            why.replace(
                "an image build or push action",
                "an image build or push workflow",
            ),
        );
    }
}

/// A semver or pep440 rule's `value=` that is only the release's own tag
/// (`${{ github.event.release.tag_name }}`, `${{ github.ref_name }}`) says what the rule reads
/// anyway: dropped, so that the rule maps.
fn release_tag_value_out(line: &str) -> String {
    if !(line.starts_with("type=semver") || line.starts_with("type=pep440")) {
        return line.to_string();
    }
    line.split(',')
        .filter(|part| {
            let Some(v) = part.trim().strip_prefix("value=") else {
                return true;
            };
            let inner = v
                .trim()
                .strip_prefix("${{")
                .and_then(|v| v.strip_suffix("}}"))
                .map(str::trim);
            !matches!(
                inner,
                Some("github.event.release.tag_name" | "github.ref_name")
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The literal outputs of a job's `run:` steps (`echo "DH_IMG_WEB=plane-frontend" >>
/// $GITHUB_OUTPUT`): `steps.ID.outputs.KEY`.
fn add_run_outputs(job: &Node, scope: &mut expr::Scope) {
    for step in job.get("steps").and_then(Node::as_seq).unwrap_or_default() {
        let id = step.get("id").and_then(Node::as_str);
        if let (Some(id), Some(run)) = (id, step.get("run").and_then(Node::as_str)) {
            let run = scope.expand_lenient(run).join("\n");
            scope.add_step_outputs(id, &run);
        }
    }
}

/// The image names each `run:` step of a job (by `id`) spells out, for the build steps whose
/// `tags:` are that step's outputs.
fn step_names(steps: &[Node], scope: &mut expr::Scope) {
    for step in steps {
        let id = step.get("id").and_then(Node::as_str);
        if let (Some(id), Some(run)) = (id, step.get("run").and_then(Node::as_str)) {
            let text = scope.expand_lenient(run).join("\n");
            scope.set_step_names(id, image_names_in(&text));
        }
    }
}

/// What every job of the workflow can read: the repository `origin` names, the workflow's
/// `env:`, and the job outputs another job reads through `needs.JOB.outputs.X`.
fn workflow_scope(doc: &Node, jobs: &Node, github: Option<&GitHub>) -> expr::Scope {
    let mut base = expr::Scope::default();
    if let Some(g) = github {
        base.set("github.repository", vec![format!("{}/{}", g.owner, g.repo)]);
        base.set("github.repository_owner", vec![g.owner.clone()]);
        base.set("github.event.repository.name", vec![g.repo.clone()]);
    }
    base.add_env(doc.get("env"));
    for (name, job) in jobs.entries() {
        let mut scope = base.clone();
        scope.add_env(job.get("env"));
        add_run_outputs(job, &mut scope);
        for (k, v) in job.get("outputs").map(|o| o.entries()).unwrap_or_default() {
            if let Some(Ok(values)) = v.as_str().map(|raw| scope.expand(raw)) {
                base.set(&format!("needs.{name}.outputs.{k}"), values);
            }
        }
    }
    base
}

/// A `run:` step: the package scripts it runs, the release work it does by hand or through a
/// script (reported); whether it releases through a script.
fn run_in_job(at: Source, step: &Node, run: &str, scope: &expr::Scope, out: &mut Workflow) -> bool {
    let name = step.get("name").and_then(Node::as_str).unwrap_or("run");
    let dir = step
        .get("working-directory")
        .and_then(Node::as_str)
        .and_then(|d| crate::init::join("", d))
        .unwrap_or_else(|| ".".into());
    for line in run.lines().map(str::trim) {
        let package = crate::init::scripts::package_script_name(line).map(|n| (n, false));
        let targets = crate::init::scripts::make_targets(line)
            .into_iter()
            .map(|t| (t, true));
        for (name, make) in package.into_iter().chain(targets) {
            out.package_scripts.push(PackageRun {
                from: at.clone(),
                dir: dir.clone(),
                name,
                make,
                logins: vec![],
            });
        }
    }
    let scripts = run_step(at.clone(), name, run, &mut out.notes);
    if scripts.is_empty() {
        return false;
    }
    script_step(&at, step, run, &scripts, scope, out);
    true
}

/// A step that releases through a script: the script files it runs, and the platforms its
/// matrix hands the script (a `matrix.X` its `run:` or `env:` reads, whose every value is an
/// architecture).
fn script_step(
    at: &Source,
    step: &Node,
    run: &str,
    scripts: &[String],
    scope: &expr::Scope,
    out: &mut Workflow,
) {
    for line in scripts {
        if let Some(f) = script_file(line) {
            out.scripts.push((at.clone(), f));
        }
    }
    let mut texts = vec![run];
    for (_, v) in step.get("env").map(|e| e.entries()).unwrap_or_default() {
        texts.extend(v.as_str());
    }
    for key in texts.iter().flat_map(|t| matrix_refs(t)) {
        let Ok(values) = scope.expand(&format!("${{{{ matrix.{key} }}}}")) else {
            continue;
        };
        if let Some(list) = arch_platforms(&values) {
            out.script_platforms
                .push((at.clone(), format!("matrix.{key}"), list));
        }
    }
}

/// `with:` with the scalars' known expressions expanded (the first value of each).
fn resolved(with: &Node, scope: &expr::Scope) -> Node {
    let mut node = with.clone();
    if let Kind::Map(pairs) = &mut node.kind {
        for (_, v) in pairs.iter_mut() {
            if let Kind::Scalar { text, .. } = &mut v.kind {
                let lines: Vec<String> = text
                    .lines()
                    .map(|l| match scope.expand(l) {
                        Ok(v) => v.join("\n"),
                        Err(_) => l.to_string(),
                    })
                    .collect();
                *text = lines.join("\n");
            }
        }
    }
    node
}

/// `on.push` branches (literal ones) and tag patterns.
fn triggers(doc: &Node, out: &mut Workflow) {
    let Some(push) = doc.get("on").and_then(|o| o.get("push")) else {
        return;
    };
    let list = |key: &str| -> Vec<String> {
        match push.get(key) {
            Some(n) => match n.as_seq() {
                Some(items) => items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_string))
                    .collect(),
                None => n.as_str().map(|s| vec![s.to_string()]).unwrap_or_default(),
            },
            None => vec![],
        }
    };
    out.branches = list("branches")
        .into_iter()
        .filter(|b| !b.contains(['*', '?', '[', '!']))
        .collect();
    out.tag_patterns = list("tags");
}

/// `platforms` of a build step, with the workflow's own expressions (`env`, `matrix`) resolved.
fn platforms(
    file: &str,
    text: &str,
    action: &str,
    p: &Node,
    scope: &expr::Scope,
    out: &mut Workflow,
) {
    let at = Source::new(file, line_of(text, p.span.start));
    let mut list: Vec<String> = Vec::new();
    for (_, line) in entries(text, p) {
        match scope.expand(&line) {
            Ok(values) => {
                for v in values {
                    for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        if !list.iter().any(|x| x == item) {
                            list.push(item.to_string());
                        }
                    }
                }
            }
            Err(e) => {
                out.notes.not_mapped(
                    at.clone(),
                    format!("{action} platforms"),
                    format!(
                        "{e} is only known when the workflow runs: list the platforms in \
                         release.platforms"
                    ),
                );
                return;
            }
        }
    }
    out.platforms.push((at, list));
}

/// What a `${{ … }}` expression in a metadata-action input is.
const EXPR: &str = "a `${{ … }}` expression is only known when the workflow runs";

/// metadata-action's `images`: each line's names (with `${{ github.repository }}` and the like
/// expanded where the repository's origin tells).
fn meta_images(
    m: &mut Meta,
    file: &str,
    text: &str,
    node: &Node,
    github: Option<&GitHub>,
    notes: &mut Notes,
) {
    let expr = EXPR;
    for (src, line) in entries(text, node) {
        let src = Source::new(file, src);
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let names: Vec<String> = if fields.iter().any(|f| f.starts_with("name=")) {
            if fields.contains(&"enable=false") {
                notes.not_mapped(src, format!("images {line:?}"), "enable=false");
                continue;
            }
            fields
                .iter()
                .filter_map(|f| f.strip_prefix("name="))
                .map(str::to_string)
                .collect()
        } else {
            fields.iter().map(|s| s.to_string()).collect()
        };
        for name in names.into_iter().filter(|n| !n.is_empty()) {
            let name = match github.and_then(|g| g.expand(&name)) {
                Some(expanded) => {
                    notes.mapped(
                        src.clone(),
                        format!("images {name:?}"),
                        format!(
                            "{} (the repository of remote.origin.url)",
                            expanded.to_ascii_lowercase()
                        ),
                    );
                    expanded
                }
                None => name,
            };
            if name.contains("${{") {
                notes.not_mapped(
                    src.clone(),
                    format!("images {name:?}"),
                    format!("{expr}: write the registry prefix in release.registries"),
                );
                continue;
            }
            match ImageName::parse(&name.to_ascii_lowercase()) {
                Some((n, _)) => m.images.push((src.clone(), n)),
                None => notes.not_mapped(
                    src.clone(),
                    format!("images {name:?}"),
                    "not a registry/repository name (e.g. ghcr.io/org/app)",
                ),
            }
        }
    }
}

/// metadata-action's `flavor`: `latest`, and the prefix/suffix (with `onlatest`).
fn meta_flavor(
    m: &mut Meta,
    file: &str,
    text: &str,
    node: &Node,
    key_line: Source,
    notes: &mut Notes,
) {
    let expr = EXPR;
    let mut flavor = Flavor::default();
    let mut set = false;
    let mut onlatest: Vec<bool> = Vec::new();
    for (src, line) in entries(text, node) {
        let src = Source::new(file, src);
        if line.contains("${{") {
            notes.not_mapped(src, format!("flavor {line:?}"), expr);
            continue;
        }
        let mut fields = line.split(',').map(str::trim);
        let first = fields.next().unwrap_or("");
        let on = fields.any(|f| f == "onlatest=true");
        match first.split_once('=') {
            Some(("latest", v @ ("auto" | "true" | "false"))) => {
                m.latest = Some((src, v.to_string()))
            }
            Some(("prefix", v)) => {
                flavor.prefix = v.to_string();
                onlatest.push(on);
                set = true;
            }
            Some(("suffix", v)) => {
                flavor.suffix = v.to_string();
                onlatest.push(on);
                set = true;
            }
            _ => notes.not_mapped(
                src,
                format!("flavor {line:?}"),
                "not latest=auto|true|false, prefix= or suffix=",
            ),
        }
    }
    if onlatest.iter().any(|o| *o) && !onlatest.iter().all(|o| *o) {
        notes.not_mapped(
            key_line.clone(),
            "flavor onlatest",
            "set for one of prefix/suffix only: stevedore's onlatest applies to both \
             (kept on)",
        );
    }
    flavor.onlatest = onlatest.iter().any(|o| *o);
    if set && (flavor != Flavor::default()) {
        m.flavor = Some((key_line, flavor));
    }
}

/// A step's inputs → a [`Meta`].
fn meta(
    file: &str,
    text: &str,
    from: Source,
    with: Option<&Node>,
    github: Option<&GitHub>,
    notes: &mut Notes,
) -> Meta {
    let mut m = Meta {
        from: from.clone(),
        ..Default::default()
    };
    let Some(with) = with else {
        return m;
    };
    let expr = EXPR;
    for (key, node) in with.entries() {
        let key_line = Source::new(file, line_of(text, node.span.start));
        match key {
            "images" => meta_images(&mut m, file, text, node, github, notes),
            "tags" => {
                for (src, line) in entries(text, node) {
                    let src = Source::new(file, src);
                    let line = release_tag_value_out(&line);
                    if line.contains("${{") {
                        notes.not_mapped(
                            src,
                            format!("tags {line:?}"),
                            format!(
                                "{expr}: use a template ({{{{branch}}}}, {{{{sha}}}}, \
                                 {{{{is_default_branch}}}}, …) instead"
                            ),
                        );
                        continue;
                    }
                    let rule = spell_out(&line);
                    match rule.parse::<Rule>() {
                        // The same rule twice (a matrix expands `tags:` once per value) is one.
                        Ok(_) if m.tags.iter().any(|(_, r)| *r == rule) => {}
                        Ok(_) => m.tags.push((src, rule)),
                        Err(e) => notes.not_mapped(src, format!("tags {line:?}"), e),
                    }
                }
            }
            "flavor" => meta_flavor(&mut m, file, text, node, key_line, notes),
            "labels" | "annotations" => notes.not_mapped(
                key_line,
                format!("metadata-action {key}"),
                "stevedore sets the org.opencontainers.image.* labels itself; other labels go in \
                 images.<name>.labels",
            ),
            "context" | "sep-tags" | "sep-labels" | "sep-annotations" | "bake-target"
            | "github-token" => notes.not_mapped(
                key_line,
                format!("metadata-action {key}"),
                "not needed: stevedore reads git and the GitHub event itself",
            ),
            other => notes.not_mapped(
                key_line,
                format!("metadata-action {other}"),
                "no config key for it",
            ),
        }
    }
    m
}

/// metadata-action's shorthands spelled out: a bare `foo` and `type=raw,foo` are
/// `type=raw,value=foo`.
pub fn spell_out(line: &str) -> String {
    if !line.contains('=') {
        return format!("type=raw,value={line}");
    }
    let fields: Vec<&str> = line.split(',').collect();
    if fields.first().map(|f| f.trim()) == Some("type=raw") {
        if let Some(i) = fields.iter().position(|f| !f.contains('=')) {
            let mut fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
            fields[i] = format!("value={}", fields[i].trim());
            return fields.join(",");
        }
    }
    line.to_string()
}

/// The entries of a list input (a newline-separated scalar, or a YAML sequence): each
/// non-empty line that is not a `#` comment, with its 1-based line number.
fn entries(text: &str, node: &Node) -> Vec<(usize, String)> {
    let start = line_of(text, node.span.start);
    match &node.kind {
        Kind::Seq(items) => items
            .iter()
            .filter_map(|i| Some((line_of(text, i.span.start), i.as_str()?.trim().to_string())))
            .filter(|(_, s)| !s.is_empty())
            .collect(),
        Kind::Scalar { text: value, .. } => {
            // Each entry's line: where its text is, searching on from the scalar's start (the
            // scalar's own line when it is not found as written, e.g. with escapes).
            let mut pos = node.span.start.min(text.len());
            value
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| match text.get(pos..).and_then(|rest| rest.find(l)) {
                    Some(i) => {
                        pos += i + l.len();
                        (line_of(text, pos - l.len()), l.to_string())
                    }
                    None => (start, l.to_string()),
                })
                .collect()
        }
        Kind::Map(_) => vec![],
    }
}

#[cfg(test)]
mod tests;
