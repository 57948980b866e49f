//! The last guard before anything leaves the machine: no blob to be published may hold a
//! secret value. The secrets: every `release.secret-build-args` value, and the registry
//! credentials of the environment (`STEVEDORE_AUTH_*` secrets and their docker-config base64
//! form, `GITHUB_TOKEN`), which native commands see in their environment. A hit refuses the
//! whole publish before any registry is contacted, naming the image, the blob and the
//! secret's name (never its value).

use anyhow::{bail, Result};
use base64::Engine as _;

use crate::oci::layout::Layout;
use crate::oci::scan::{Needle, Scanner, MIN_SECRET_LEN};
use crate::plan::{ImagePlan, Plan};
use crate::progress::Shared;

use super::Artifact;

/// The secret build args (`name → value`, of every image) and the secrets of the environment
/// `vars`; and the names of values too short to check.
pub(super) fn needles<'a>(
    secret_args: impl Iterator<Item = (&'a String, &'a String)>,
    vars: impl Iterator<Item = (String, String)>,
) -> (Vec<Needle>, Vec<String>) {
    let mut needles: Vec<Needle> = Vec::new();
    let mut short = Vec::new();
    let mut add = |label: String, value: &str, extra: &[String]| {
        if value.is_empty() {
            return;
        }
        match Needle::of_secret(&label, value, extra) {
            Some(n) if !needles.iter().any(|o| o.forms[0] == n.forms[0]) => needles.push(n),
            Some(_) => {}
            None => short.push(label),
        }
    };
    for (name, value) in secret_args {
        add(format!("secret-build-arg {name}"), value, &[]);
    }
    for (key, value) in vars {
        if key.starts_with("STEVEDORE_AUTH_") {
            let secret = value.split_once(':').map_or(value.as_str(), |(_, s)| s);
            let docker_auth = base64::engine::general_purpose::STANDARD.encode(&value);
            add(key.clone(), secret, &[docker_auth]);
        } else if key == "GITHUB_TOKEN" {
            add(key.clone(), &value, &[]);
        }
    }
    short.sort();
    short.dedup();
    (needles, short)
}

/// Refuses when a blob of `images` or `artifacts` holds a secret of [`needles`].
pub(super) fn check(
    plan: &Plan,
    images: &[&ImagePlan],
    artifacts: &[Artifact],
    layout: &Layout,
    progress: &Shared,
) -> Result<()> {
    let secret_args = plan.images.iter().flat_map(|i| &i.secret_build_args);
    let (needles, short) = needles(secret_args, std::env::vars());
    for label in short {
        progress.line(&format!(
            "warning: {label} is shorter than {MIN_SECRET_LEN} characters: the published \
             images are not checked for it"
        ));
    }
    let Some(mut scanner) = Scanner::new(&needles)? else {
        return Ok(());
    };
    let started = std::time::Instant::now();
    let mut tops: Vec<(String, String)> = images
        .iter()
        .map(|i| (format!("image {}", i.name), i.layout_name.clone()))
        .collect();
    for a in artifacts {
        for name in std::iter::once(&a.layout_name).chain(&a.fallback_layout_name) {
            tops.push((format!("artifact {name}"), name.clone()));
        }
    }
    for (what, layout_name) in tops {
        let top = layout.resolve(&layout_name)?;
        if let Some(hit) = scanner.scan(layout, &top)? {
            bail!(
                "{what}: {} ({}) holds the value of {}; nothing was published: keep the secret \
                 out of the image (read it in a `RUN --mount=type=secret` step, never write it \
                 into a file, ENV, label or the build output), then build again",
                hit.place,
                hit.blob,
                hit.label
            );
        }
    }
    progress.line(&format!(
        "no secret in the {} blobs to publish ({} MB read in {:.1} s)",
        scanner.blobs,
        scanner.bytes >> 20,
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_come_from_the_plan_and_the_credential_variables() {
        let args = std::collections::BTreeMap::from([
            ("NPM_TOKEN".to_string(), "npm_0123456789".to_string()),
            ("PIN".to_string(), "1234".to_string()),
        ]);
        let vars = [
            ("STEVEDORE_AUTH_GHCR_IO", "bot:ghp_registrySecret"),
            ("GITHUB_TOKEN", "ghs_actionsToken"),
            ("HOME", "/home/someone-long"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let (needles, short) = needles(args.iter(), vars.into_iter());
        let labels: Vec<&str> = needles.iter().map(|n| n.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "secret-build-arg NPM_TOKEN",
                "STEVEDORE_AUTH_GHCR_IO",
                "GITHUB_TOKEN"
            ]
        );
        assert_eq!(short, ["secret-build-arg PIN"]);
        let auth = &needles[1].forms;
        assert_eq!(auth[0], b"ghp_registrySecret");
        let b64 = base64::engine::general_purpose::STANDARD.encode("bot:ghp_registrySecret");
        assert!(auth.contains(&b64.into_bytes()));
    }
}
