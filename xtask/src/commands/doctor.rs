//! `doctor`: what a release would meet on this machine, each problem with its fix.

use anyhow::{bail, Result};

use crate::workspace::Workspace;

pub(super) fn doctor(ws: &Workspace, verbose: bool) -> Result<()> {
    let mut problems = 0;
    let mut problem = |what: String, fix: String| {
        problems += 1;
        println!("PROBLEM {what}\n  fix: {fix}");
    };
    let plan = &ws.plan;

    // Git: a release publishes a commit, never a modified tree.
    if plan.git.dirty {
        problem(
            format!(
                "git: uncommitted changes ({})",
                plan.git.changed_files.join(", ")
            ),
            "commit or stash them (or release with --allow-dirty for a -dirty version)".into(),
        );
    } else {
        println!(
            "ok      git: commit {} is clean, version {}",
            plan.git.short_sha, plan.version
        );
    }
    if plan.tags.is_empty() && plan.images.iter().all(|i| i.tags.is_none()) {
        problem(
            "tags: the rules give no tag for this ref".into(),
            "add a rule that applies (e.g. \"type=sha\"), or publish with push --by-digest".into(),
        );
    }
    for w in &ws.warnings {
        println!("note    {w}");
    }

    // Builders and toolchains for every image × platform.
    for (image, platform, how) in crate::builder::availability(plan, &ws.root)? {
        match how {
            Ok(how) => println!("ok      build {image} {platform}: {how}"),
            Err(p) => problem(format!("build {image} {platform}: {}", p.reason), p.fix),
        }
    }

    // SBOMs of non-cargo images: syft, when it would be used.
    let r = &ws.config.release;
    match crate::attest::stage::syft_availability(plan, r.provenance, r.sbom) {
        None => {}
        Some((images, Some(version))) => {
            println!("ok      sbom {}: syft {version}", images.join(", "))
        }
        Some((images, None)) if r.sbom == crate::plan::SbomMode::Syft => problem(
            format!(
                "sbom {}: release.sbom = \"syft\" and syft is not on PATH",
                images.join(", ")
            ),
            format!(
                "{} (or set sbom = \"auto\" or \"off\")",
                crate::attest::syft::INSTALL
            ),
        ),
        Some((images, None)) => println!(
            "note    sbom {}: syft is not on PATH, so these get no SBOM ({}, or sbom = \"off\")",
            images.join(", "),
            crate::attest::syft::INSTALL
        ),
    }

    // One registry session for what follows: external compose images and the registries.
    let clients = super::registry_session(
        super::registry_settings(ws),
        &super::progress(verbose),
        super::Retries::Verbose,
    )?;

    compose(ws, &clients, &mut problem);

    // Registries: credentials and push permission for every image and compose artifact
    // repository (no secret printed).
    if plan.registries.is_empty() {
        problem(
            "registries: none configured".into(),
            "list where to publish in release.registries".into(),
        );
    } else {
        let opts = super::publish_options(ws, None, &clients)?;
        let (lines, ok) = crate::publish::login_check(plan, &opts, true)?;
        for l in &lines {
            println!("{}      {l}", if ok { "ok" } else { "--" });
        }
        let unresolved: Vec<&str> = lines
            .iter()
            .filter_map(|l| l.split("cannot resolve host ").nth(1))
            .filter_map(|rest| rest.split_whitespace().next())
            .collect();
        if let Some(host) = unresolved.first() {
            problem(
                format!("registries: cannot resolve host {host}"),
                "check the host name in release.registries (a typo?) and this machine's DNS".into(),
            );
        } else if !ok {
            problem(
                "registries: some would refuse the push (see above)".into(),
                "set STEVEDORE_AUTH_<HOST>=user:token (or docker login) with push access, and check the registry is reachable".into(),
            );
        }
    }

    if problems > 0 {
        bail!("{problems} problem(s): a release would not pass its preflight");
    }
    println!("a release would pass its preflight");
    Ok(())
}

/// Compose artifacts: their files, env files and compose's checks, which a release runs before
/// it builds, and the external images it pins.
fn compose(
    ws: &Workspace,
    clients: &std::sync::Arc<crate::registry::Clients>,
    problem: &mut impl FnMut(String, String),
) {
    let plan = &ws.plan;
    if !plan.composes.is_empty() {
        match crate::compose::stage::preflight(plan, &ws.root, false) {
            Ok(checked) => {
                for c in &plan.composes {
                    println!("ok      compose {}: files and checks pass", c.repository);
                }
                let externals =
                    crate::compose::stage::external_images(plan, &checked, clients.clone());
                for e in externals {
                    match e.resolved {
                        Ok(digest) => println!(
                            "ok      compose {}: {} resolves to {digest}",
                            e.artifact, e.reference
                        ),
                        Err(why) => {
                            let (why, fix) = why.split_once("\n  fix: ").unwrap_or((
                                &why,
                                "check the image name, tag and registry in the compose file and this machine's access to that registry (or set resolve-external = false for this artifact)",
                            ));
                            problem(
                                format!(
                                    "compose {}: the release pins {} to its digest and cannot resolve it: {why}",
                                    e.artifact, e.reference
                                ),
                                fix.to_string(),
                            )
                        }
                    }
                }
            }
            Err(e) => {
                let text = format!("{e:#}");
                let (what, fix) = text
                    .split_once("\n  fix: ")
                    .unwrap_or((&text, "see the problem above"));
                problem(what.to_string(), fix.to_string());
            }
        }
    }
}
