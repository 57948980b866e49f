//! buildah writes `HEALTHCHECK`, `SHELL` and `ONBUILD` only into Docker-format image configs
//! (its OCI format drops them). Dockerfile images are therefore built in Docker format and
//! converted here into OCI images that keep them, with the container-runtime fields Docker's
//! format carries (a random `Hostname`, `Attach*`, `Tty`, …) left out so builds stay
//! reproducible. A Dockerfile instruction that still did not reach the image is an error.

use std::collections::BTreeMap;

use anyhow::{bail, Result};

use crate::oci::layout::Layout;
use crate::oci::{
    Descriptor, ImageConfig, Manifest, DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_MANIFEST,
    MEDIA_CONFIG, MEDIA_LAYER_GZIP, MEDIA_LAYER_TAR, MEDIA_MANIFEST,
};

/// Docker's uncompressed layer media type.
const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";

/// Fields of a Docker container config that describe a build container, not the image.
const RUNTIME_FIELDS: [&str; 10] = [
    "Hostname",
    "Domainname",
    "AttachStdin",
    "AttachStdout",
    "AttachStderr",
    "Tty",
    "OpenStdin",
    "StdinOnce",
    "Image",
    "ArgsEscaped",
];

/// The OCI form of a Docker v2s2 platform manifest already copied into `layout` (its config
/// and layers included): the config keeps every image field, the layers their bytes. Returns
/// `None` for a manifest that is OCI already.
pub fn to_oci(layout: &Layout, manifest: &Manifest) -> Result<Option<(Manifest, ImageConfig)>> {
    let docker = manifest.media_type.as_deref() == Some(DOCKER_MANIFEST)
        || manifest.config.media_type == DOCKER_CONFIG;
    if !docker {
        return Ok(None);
    }
    let mut config: ImageConfig = layout.read_json(&manifest.config.digest)?;
    if let Some(c) = config.config.as_mut() {
        for f in RUNTIME_FIELDS {
            c.other.remove(f);
        }
        c.other.retain(|_, v| !is_empty(v));
        c.entrypoint = c.entrypoint.take().filter(|e| !e.is_empty());
        c.cmd = c.cmd.take().filter(|e| !e.is_empty());
        c.user = c.user.take().filter(|u| !u.is_empty());
        c.working_dir = c.working_dir.take().filter(|w| !w.is_empty());
        c.stop_signal = c.stop_signal.take().filter(|s| !s.is_empty());
    }
    let config_desc = layout.write_json(MEDIA_CONFIG, &config)?;
    let mut layers = Vec::new();
    for l in &manifest.layers {
        let media_type = match l.media_type.as_str() {
            DOCKER_LAYER_GZIP => MEDIA_LAYER_GZIP,
            DOCKER_LAYER_TAR => MEDIA_LAYER_TAR,
            m if m.starts_with("application/vnd.oci.") => m,
            other => bail!(
                "layer {} has media type {other}, which has no OCI form",
                l.digest
            ),
        };
        let mut d = Descriptor::new(media_type, l.digest.clone(), l.size);
        d.annotations = l.annotations.clone();
        layers.push(d);
    }
    let oci = Manifest {
        schema_version: 2,
        media_type: Some(MEDIA_MANIFEST.into()),
        artifact_type: None,
        config: config_desc,
        layers,
        subject: None,
        annotations: manifest.annotations.clone(),
    };
    Ok(Some((oci, config)))
}

fn is_empty(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(o) => o.is_empty(),
        serde_json::Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// What the final stage of a Dockerfile (or the `target` stage) declares that must reach the
/// image config: `HEALTHCHECK` (unless `NONE`), `STOPSIGNAL`, `SHELL`.
pub fn declared(dockerfile: &str, target: Option<&str>) -> BTreeMap<&'static str, String> {
    let mut stages: Vec<(Option<String>, BTreeMap<&'static str, String>)> = Vec::new();
    for line in logical_lines(dockerfile) {
        let mut words = line.split_whitespace();
        let Some(op) = words.next() else { continue };
        match op.to_ascii_uppercase().as_str() {
            "FROM" => {
                let rest: Vec<&str> = words.collect();
                let name = rest
                    .iter()
                    .position(|w| w.eq_ignore_ascii_case("as"))
                    .and_then(|i| rest.get(i + 1))
                    .map(|n| n.to_ascii_lowercase());
                stages.push((name, BTreeMap::new()));
            }
            op @ ("HEALTHCHECK" | "STOPSIGNAL" | "SHELL") => {
                if let Some((_, found)) = stages.last_mut() {
                    let key = match op {
                        "HEALTHCHECK" => "Healthcheck",
                        "STOPSIGNAL" => "StopSignal",
                        _ => "Shell",
                    };
                    let value = line[op.len()..]
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ");
                    if key == "Healthcheck" && value.eq_ignore_ascii_case("none") {
                        found.remove(key);
                    } else {
                        found.insert(key, value);
                    }
                }
            }
            _ => {}
        }
    }
    let stage = match target {
        Some(t) => stages
            .into_iter()
            .find(|(name, _)| name.as_deref() == Some(&t.to_ascii_lowercase())),
        None => stages.pop(),
    };
    stage.map(|(_, found)| found).unwrap_or_default()
}

/// The label keys the final stage (or the `target` stage) of a Dockerfile sets with `LABEL`,
/// its parent stages included (`FROM <earlier stage>`).
pub fn declared_labels(
    dockerfile: &str,
    target: Option<&str>,
) -> std::collections::BTreeSet<String> {
    // Per stage: its name, its parent stage (when `FROM` names one), its label keys.
    let mut stages: Vec<(Option<String>, Option<String>, Vec<String>)> = Vec::new();
    for line in logical_lines(dockerfile) {
        let mut words = line.split_whitespace();
        let Some(op) = words.next() else { continue };
        if op.eq_ignore_ascii_case("FROM") {
            let rest: Vec<&str> = words.filter(|w| !w.starts_with("--")).collect();
            let parent = rest.first().map(|p| p.to_ascii_lowercase());
            let name = rest
                .iter()
                .position(|w| w.eq_ignore_ascii_case("as"))
                .and_then(|i| rest.get(i + 1))
                .map(|n| n.to_ascii_lowercase());
            stages.push((name, parent, Vec::new()));
        } else if op.eq_ignore_ascii_case("LABEL") {
            if let Some((_, _, keys)) = stages.last_mut() {
                keys.extend(label_keys(line[op.len()..].trim()));
            }
        }
    }
    let mut i = match target {
        Some(t) => stages
            .iter()
            .position(|(n, _, _)| n.as_deref() == Some(&t.to_ascii_lowercase())),
        None => stages.len().checked_sub(1),
    };
    let mut out = std::collections::BTreeSet::new();
    while let Some(at) = i {
        let (_, parent, keys) = &stages[at];
        out.extend(keys.iter().cloned());
        i = parent.as_ref().and_then(|p| {
            stages[..at]
                .iter()
                .position(|(n, _, _)| n.as_ref() == Some(p))
        });
    }
    out
}

/// The keys of a `LABEL` instruction's arguments (`k=v "k 2"="v"`, or the legacy `k v`).
fn label_keys(args: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut rest = args.trim();
    if !rest.contains('=') {
        return rest
            .split_whitespace()
            .next()
            .map(|k| vec![k.to_string()])
            .unwrap_or_default();
    }
    while !rest.is_empty() {
        let (key, after) = match rest.strip_prefix('"') {
            Some(q) => match q.find('"') {
                Some(end) => (&q[..end], &q[end + 1..]),
                None => break,
            },
            None => match rest.find('=') {
                Some(eq) => (&rest[..eq], &rest[eq..]),
                None => break,
            },
        };
        keys.push(key.trim().to_string());
        let Some(value) = after.strip_prefix('=') else {
            break;
        };
        // Skip the value: quoted, or up to the next whitespace.
        rest = match value.strip_prefix('"') {
            Some(q) => {
                let mut escaped = false;
                let end = q
                    .char_indices()
                    .find(|&(_, c)| {
                        let stop = c == '"' && !escaped;
                        escaped = c == '\\' && !escaped;
                        stop
                    })
                    .map_or(q.len(), |(i, _)| i + 1);
                q[end..].trim_start()
            }
            None => value
                .find(char::is_whitespace)
                .map_or("", |i| value[i..].trim_start()),
        };
    }
    keys
}

/// Lines with `\` continuations joined and comments dropped.
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        let t = line.trim();
        if cur.is_empty() && t.starts_with('#') {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(head) => {
                cur.push_str(head);
                cur.push(' ');
            }
            None => {
                cur.push_str(t);
                out.push(std::mem::take(&mut cur));
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Fails when an instruction the Dockerfile declares is missing from the built config.
pub fn check_kept(declared: &BTreeMap<&'static str, String>, config: &ImageConfig) -> Result<()> {
    let c = config.config.clone().unwrap_or_default();
    for (key, value) in declared {
        let kept = match *key {
            "Healthcheck" => c.healthcheck.is_some(),
            "StopSignal" => c.stop_signal.is_some(),
            _ => c.other.contains_key(*key),
        };
        if !kept {
            bail!(crate::problem::Problem::build(
                format!(
                    "the Dockerfile declares {} {value}, but the built image config has no {key}: \
                     the builder lost it",
                    key.to_ascii_uppercase()
                ),
                "use builder = \"buildah\" (Docker format, converted) or a buildx that keeps it"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_or_target_stage_declarations_are_found() {
        let df = "FROM golang AS build\nHEALTHCHECK CMD [\"/x\"]\n\
                  FROM scratch AS runtime\n# HEALTHCHECK in a comment\nSTOPSIGNAL SIGQUIT\n\
                  HEALTHCHECK --interval=5s \\\n  CMD [\"/app\", \"health\"]\n\
                  FROM runtime AS debug\nHEALTHCHECK NONE\n";
        let last = declared(df, None);
        assert!(last.is_empty(), "{last:?}");
        let runtime = declared(df, Some("runtime"));
        assert_eq!(runtime["StopSignal"], "SIGQUIT");
        assert_eq!(
            runtime["Healthcheck"],
            "--interval=5s CMD [\"/app\", \"health\"]"
        );
        let build = declared(df, Some("BUILD"));
        assert!(build.contains_key("Healthcheck"));
    }

    #[test]
    fn label_keys_of_the_stage_and_its_parents_are_found() {
        let df = "FROM scratch AS base\nLABEL org.opencontainers.image.title=\"Base app\" a=1\n\
                  FROM base AS runtime\nLABEL \"quoted key\"=\"x y\" b=\"2\"\n\
                  FROM scratch AS other\nLABEL legacy value here\n";
        let runtime = declared_labels(df, Some("runtime"));
        let want = ["a", "b", "org.opencontainers.image.title", "quoted key"];
        assert_eq!(runtime.into_iter().collect::<Vec<_>>(), want);
        let last = declared_labels(df, None);
        assert_eq!(last.into_iter().collect::<Vec<_>>(), ["legacy"]);
    }

    #[test]
    fn a_lost_healthcheck_is_an_error() {
        let declared = declared("FROM scratch\nHEALTHCHECK CMD [\"/app\"]\n", None);
        let mut config = ImageConfig::default();
        assert!(check_kept(&declared, &config).is_err());
        config.config = Some(crate::oci::ContainerConfig {
            healthcheck: Some(crate::oci::Healthcheck {
                test: vec!["CMD".into(), "/app".into()],
                ..Default::default()
            }),
            ..Default::default()
        });
        check_kept(&declared, &config).unwrap();
    }
}
