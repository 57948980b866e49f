//! The stages of a Dockerfile a build reaches, and the platform each runs its `RUN` steps on:
//! what decides whether building for a foreign platform needs emulation.
//!
//! A build reaches its target stage (the last one when none is named) and every stage that one
//! uses: its `FROM` when that names a stage, `COPY`/`ADD --from=`, `RUN --mount=…,from=`. A stage
//! runs on the build platform when its `FROM` says `--platform=$BUILDPLATFORM` (the usual way to
//! cross-compile), on a platform written out (`--platform=linux/amd64`), and otherwise on the
//! target platform, or on the platform of the stage it starts from. A `FROM scratch` stage that
//! only copies what build-platform stages made runs nothing at all.

use std::collections::BTreeSet;

use super::image_names::{instructions, words};
use crate::oci::platform::Platform;

/// Where a stage's `RUN` steps run.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RunsOn {
    Build,
    Target,
    Fixed(Platform),
}

#[derive(Debug, Default)]
struct Stage {
    name: Option<String>,
    /// The `FROM` image or stage, lower-cased.
    from: String,
    /// The `--platform=` value of the `FROM`.
    platform: Option<String>,
    /// Stages named by `--from=` / `from=` (names lower-cased, or indexes).
    uses: Vec<String>,
    runs: bool,
}

fn parse(dockerfile: &str) -> Vec<Stage> {
    let mut stages: Vec<Stage> = Vec::new();
    for (_, line) in instructions(dockerfile) {
        let words = words(line);
        let Some((_, keyword)) = words.first() else {
            continue;
        };
        let keyword = keyword.to_ascii_lowercase();
        if keyword == "from" {
            let mut stage = Stage::default();
            let mut rest = Vec::new();
            for (_, w) in &words[1..] {
                match w.split_once('=') {
                    Some((flag, value)) if flag.eq_ignore_ascii_case("--platform") => {
                        stage.platform = Some(value.to_string())
                    }
                    _ if w.starts_with("--") => {}
                    _ => rest.push(*w),
                }
            }
            stage.from = rest.first().unwrap_or(&"").to_ascii_lowercase();
            if let (Some(a), Some(name)) = (rest.get(1), rest.get(2)) {
                if a.eq_ignore_ascii_case("as") {
                    stage.name = Some(name.to_ascii_lowercase());
                }
            }
            stages.push(stage);
            continue;
        }
        let Some(stage) = stages.last_mut() else {
            continue;
        };
        if keyword == "run" {
            stage.runs = true;
        }
        if matches!(keyword.as_str(), "copy" | "add" | "run") {
            for (_, w) in &words[1..] {
                let w = w.to_ascii_lowercase();
                if let Some(from) = w.strip_prefix("--from=") {
                    stage.uses.push(from.to_string());
                }
                if let Some(mount) = w.strip_prefix("--mount=") {
                    let from = mount.split(',').find_map(|kv| kv.strip_prefix("from="));
                    stage.uses.extend(from.map(str::to_string));
                }
            }
        }
    }
    stages
}

/// The index of the stage `name` (a stage name or index) among the stages before `before`.
fn stage_index(stages: &[Stage], name: &str, before: usize) -> Option<usize> {
    if let Ok(i) = name.parse::<usize>() {
        return (i < before).then_some(i);
    }
    stages[..before]
        .iter()
        .rposition(|s| s.name.as_deref() == Some(name))
}

/// Where stage `i` runs (see the module documentation).
fn runs_on(stages: &[Stage], i: usize) -> RunsOn {
    match &stages[i].platform {
        Some(p) if p.contains("BUILDPLATFORM") => RunsOn::Build,
        Some(p) => match p.parse::<Platform>() {
            Ok(fixed) if !p.contains('$') => RunsOn::Fixed(fixed),
            _ => RunsOn::Target,
        },
        None => match stage_index(stages, &stages[i].from, i) {
            Some(base) => runs_on(stages, base),
            None => RunsOn::Target,
        },
    }
}

/// The stages building `target` (the last stage when `None`) reaches that hold a `RUN`, each
/// with the platform it runs on for `platform`, leaving out those on `build` (the machine's
/// own): the ones that need emulation. Stages are named as written (`build`), or `stage N`.
pub fn emulated(
    dockerfile: &str,
    target: Option<&str>,
    platform: &Platform,
    build: &Platform,
) -> Vec<(String, Platform)> {
    let stages = parse(dockerfile);
    let start = match target {
        Some(t) => stage_index(&stages, &t.to_ascii_lowercase(), stages.len()),
        None => stages.len().checked_sub(1),
    };
    let mut reached = BTreeSet::new();
    let mut todo: Vec<usize> = start.into_iter().collect();
    while let Some(i) = todo.pop() {
        if !reached.insert(i) {
            continue;
        }
        let stage = &stages[i];
        for name in std::iter::once(&stage.from).chain(&stage.uses) {
            todo.extend(stage_index(&stages, name, i));
        }
    }
    let mut out = Vec::new();
    for i in reached {
        if !stages[i].runs {
            continue;
        }
        let on = match runs_on(&stages, i) {
            RunsOn::Build => continue,
            RunsOn::Target => platform.clone(),
            RunsOn::Fixed(p) => p,
        };
        if on.normalized() != build.normalized() {
            let name = stages[i]
                .name
                .clone()
                .unwrap_or_else(|| format!("stage {i}"));
            out.push((name, on));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        s.parse().unwrap()
    }

    fn emulated_names(df: &str, target: Option<&str>) -> Vec<String> {
        emulated(df, target, &p("linux/arm64"), &p("linux/amd64"))
            .into_iter()
            .map(|(name, on)| format!("{name} {on}"))
            .collect()
    }

    #[test]
    fn a_scratch_stage_copying_cross_compiled_binaries_needs_no_emulation() {
        let df = "FROM --platform=$BUILDPLATFORM tonistiigi/xx AS xx\n\
                  FROM --platform=${BUILDPLATFORM} golang:1 AS build\nCOPY --from=xx / /\n\
                  RUN go build -o /out/app .\n\
                  FROM build AS more\nRUN strip /out/app\n\
                  FROM alpine AS test\nRUN /out/app --selftest\n\
                  FROM scratch\nCOPY --from=more /out/app /app\n";
        assert!(emulated_names(df, None).is_empty());
        // The test stage runs on the target platform, but only when it is the target.
        assert_eq!(emulated_names(df, Some("test")), ["test linux/arm64"]);
        assert_eq!(emulated_names(df, Some("TEST")), ["test linux/arm64"]);
    }

    #[test]
    fn stages_the_target_reaches_by_from_copy_and_mount() {
        let df = "FROM debian AS deps\nRUN apt-get update\n\
                  FROM debian AS tools\nRUN make tools\n\
                  FROM debian AS unused\nRUN make unused\n\
                  FROM scratch AS final\nCOPY --from=deps /x /x\n\
                  RUN --mount=type=bind,from=tools,target=/t true\n\
                  FROM final\n";
        assert_eq!(
            emulated_names(df, None),
            ["deps linux/arm64", "tools linux/arm64", "final linux/arm64"]
        );
        // By index, and a stage pinned to the machine's own platform.
        let df = "FROM --platform=linux/amd64 debian\nRUN make\n\
                  FROM --platform=linux/riscv64 debian\nRUN make\n\
                  FROM scratch\nCOPY --from=0 /a /a\nCOPY --from=1 /b /b\n";
        assert_eq!(emulated_names(df, None), ["stage 1 linux/riscv64"]);
        // No RUN anywhere, and the machine's own platform: nothing to emulate.
        assert!(emulated_names("FROM alpine\nCOPY a /a\n", None).is_empty());
        let none = emulated(
            "FROM alpine\nRUN true\n",
            None,
            &p("linux/amd64"),
            &p("linux/amd64"),
        );
        assert!(none.is_empty());
    }
}
