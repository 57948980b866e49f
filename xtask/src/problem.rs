//! The one error a user can act on: what is wrong and what fixes it, as separate fields, with a
//! kind tests match on (`Problem::kind_of(&err)`). Shown as the reason, then the fix on its own
//! line (`  fix: …`), as cargo-dist's miette diagnostics do; `main` prints the fix last, after the
//! chain of causes ([`render`]). Stages `bail!(Problem::config(…))`; errors that carry more
//! (a compose file, a skipped platform, every problem of a config) embed a `Problem`.

use std::fmt;

use serde::Serialize;

/// What kind of problem it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// This machine cannot build a platform (a missing tool, target or emulator).
    Unavailable,
    /// What a stage needs is not in the layout (yet, or any more): build first.
    NotBuilt,
    /// A value in the release config (or a file it names) is wrong.
    Config,
    /// A flag or argument on the command line is wrong.
    Usage,
    /// Credentials are missing, malformed or refused.
    Credentials,
    /// A registry refused or failed a request.
    Registry,
    /// A compose file, or what the compose checks found in it.
    Compose,
    /// A builder (cargo, a Dockerfile builder, a base image) failed or was misconfigured.
    Build,
    /// An image's attestations do not verify.
    Unverified,
}

/// A problem and its fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub kind: Kind,
    /// What is wrong.
    pub reason: String,
    /// What to do about it (empty when nothing but the reason can be said).
    pub fix: String,
}

impl Problem {
    pub fn new(kind: Kind, reason: impl Into<String>, fix: impl Into<String>) -> Problem {
        Problem {
            kind,
            reason: reason.into(),
            fix: fix.into(),
        }
    }

    /// This machine cannot build something: why, and what to install or change.
    pub fn unavailable(reason: impl Into<String>, fix: impl Into<String>) -> Problem {
        Problem::new(Kind::Unavailable, reason, fix)
    }

    /// A config value (or a file it names) is wrong: the reason names the file and key.
    pub fn config(reason: impl Into<String>, fix: impl Into<String>) -> Problem {
        Problem::new(Kind::Config, reason, fix)
    }

    /// A flag or argument is wrong: the reason names it.
    pub fn usage(reason: impl Into<String>, fix: impl Into<String>) -> Problem {
        Problem::new(Kind::Usage, reason, fix)
    }

    /// Credentials are missing, malformed or refused.
    pub fn credentials(reason: impl Into<String>, fix: impl Into<String>) -> Problem {
        Problem::new(Kind::Credentials, reason, fix)
    }

    /// A registry refused a request.
    pub fn registry(reason: impl Into<String>, fix: impl Into<String>) -> Problem {
        Problem::new(Kind::Registry, reason, fix)
    }

    /// A compose file problem or finding.
    pub fn compose(reason: impl Into<String>, fix: impl Into<String>) -> Problem {
        Problem::new(Kind::Compose, reason, fix)
    }

    /// A build failed or cannot start.
    pub fn build(reason: impl Into<String>, fix: impl Into<String>) -> Problem {
        Problem::new(Kind::Build, reason, fix)
    }

    /// An attestation does not verify.
    pub fn unverified(reason: impl Into<String>, fix: impl Into<String>) -> Problem {
        Problem::new(Kind::Unverified, reason, fix)
    }

    /// The same problem, its reason prefixed with where it happened (`what: reason`).
    pub fn within(mut self, what: impl fmt::Display) -> Problem {
        self.reason = format!("{what}: {}", self.reason);
        self
    }

    /// The first [`Problem`] in `err`'s chain (also as the context of another error:
    /// `.with_context(|| Problem::…)`).
    pub fn find(err: &anyhow::Error) -> Option<&Problem> {
        err.chain()
            .enumerate()
            .find_map(|(i, cause)| problem_at(err, i, cause))
    }

    /// The problem's kind, when `err` is (or wraps) a [`Problem`].
    pub fn kind_of(err: &anyhow::Error) -> Option<Kind> {
        Problem::find(err).map(|p| p.kind)
    }

    /// The fix, when `err` is (or wraps) a [`Problem`] that has one.
    pub fn fix_of(err: &anyhow::Error) -> Option<&str> {
        Problem::find(err)
            .map(|p| p.fix.as_str())
            .filter(|f| !f.is_empty())
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.reason)?;
        if !self.fix.is_empty() {
            write!(f, "\n  fix: {}", self.fix)?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

/// The problem `cause` is: itself, or (the top of the chain, `i == 0`) the context `err` adds.
fn problem_at<'a>(
    err: &'a anyhow::Error,
    i: usize,
    cause: &'a (dyn std::error::Error + 'static),
) -> Option<&'a Problem> {
    // anyhow finds a problem in the context it adds as well as in the error it wraps: the top
    // of the chain is the context one only when it shows as that problem.
    cause.downcast_ref::<Problem>().or_else(|| {
        err.downcast_ref::<Problem>()
            .filter(|p| i == 0 && p.to_string() == cause.to_string())
    })
}

/// How `main` shows an error: `error: …`, each cause on a `  caused by: …` line, then the fix
/// of the problem in the chain on its own `  fix: …` line, last.
pub fn render(err: &anyhow::Error) -> String {
    let mut fix = None;
    let mut lines = Vec::new();
    for (i, cause) in err.chain().enumerate() {
        let text = match problem_at(err, i, cause) {
            Some(p) => {
                if !p.fix.is_empty() {
                    fix.get_or_insert(p.fix.as_str());
                }
                p.reason.clone()
            }
            None => cause.to_string(),
        };
        lines.push(if i == 0 {
            format!("error: {text}")
        } else {
            format!("  caused by: {text}")
        });
    }
    if let Some(fix) = fix {
        lines.push(format!("  fix: {fix}"));
    }
    lines.join("\n")
}

/// `err` on one line as `{:#}` shows it (causes joined by `: `), with each problem's reason
/// only, and the fix apart: for reports where the fix is a field of its own (`verify --json`).
pub fn split(err: &anyhow::Error) -> (String, Option<String>) {
    let text: Vec<String> = err
        .chain()
        .enumerate()
        .map(|(i, e)| match problem_at(err, i, e) {
            Some(p) => p.reason.clone(),
            None => e.to_string(),
        })
        .collect();
    (text.join(": "), Problem::fix_of(err).map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn the_fix_is_printed_on_its_own_line_after_the_error() {
        let err = anyhow::Error::from(Problem::config(
            "images/release.toml: release.platforms: must not be empty",
            "list the platforms to build",
        ));
        assert_eq!(
            render(&err),
            "error: images/release.toml: release.platforms: must not be empty\n  fix: list the platforms to build"
        );
    }

    #[test]
    fn the_fix_comes_after_the_causes_when_the_problem_is_wrapped() {
        let err = Err::<(), _>(Problem::credentials("no password", "set STEVEDORE_AUTH_X"))
            .context("logging in to x")
            .unwrap_err();
        assert_eq!(
            render(&err),
            "error: logging in to x\n  caused by: no password\n  fix: set STEVEDORE_AUTH_X"
        );
        assert_eq!(Problem::fix_of(&err), Some("set STEVEDORE_AUTH_X"));
        assert_eq!(Problem::kind_of(&err), Some(Kind::Credentials));
    }

    #[test]
    fn a_problem_given_as_context_keeps_the_cause_and_prints_the_fix_last() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let err = Err::<(), _>(io)
            .with_context(|| Problem::usage("x is not a layout", "pass the right --layout"))
            .unwrap_err();
        assert_eq!(
            render(&err),
            "error: x is not a layout\n  caused by: No such file\n  fix: pass the right --layout"
        );
        assert_eq!(Problem::kind_of(&err), Some(Kind::Usage));
    }

    #[test]
    fn an_error_without_a_problem_has_no_fix_line() {
        let err = anyhow::anyhow!("plain").context("outer");
        assert_eq!(render(&err), "error: outer\n  caused by: plain");
        assert_eq!(Problem::fix_of(&err), None);
    }

    #[test]
    fn split_keeps_the_fix_apart_from_the_one_line_error() {
        let err = Err::<(), _>(Problem::registry("another writer changed it", "re-run"))
            .context("tag x")
            .unwrap_err();
        assert_eq!(
            split(&err),
            (
                "tag x: another writer changed it".to_string(),
                Some("re-run".to_string())
            )
        );
        assert_eq!(
            split(&anyhow::anyhow!("plain")),
            ("plain".to_string(), None)
        );
    }

    #[test]
    fn bail_with_a_problem_keeps_it_for_downcasting() {
        fn f() -> anyhow::Result<()> {
            anyhow::bail!(Problem::usage("--key x: cannot read it", "give a PEM file"));
        }
        let err = f().unwrap_err();
        assert_eq!(Problem::kind_of(&err), Some(Kind::Usage));
        assert_eq!(
            err.to_string(),
            "--key x: cannot read it\n  fix: give a PEM file"
        );
    }
}
