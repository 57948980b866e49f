//! A stage's error when it knows what fixes it: the problem and the fix as separate fields,
//! with a kind tests match on (`err.downcast_ref::<Problem>()`). Shown as `problem: fix`.

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
}

/// A problem and its fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub kind: Kind,
    /// What is wrong.
    pub reason: String,
    /// What to do about it.
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

    /// The problem's kind, when `err` is (or wraps) a [`Problem`].
    pub fn kind_of(err: &anyhow::Error) -> Option<Kind> {
        err.chain()
            .find_map(|e| e.downcast_ref::<Problem>())
            .map(|p| p.kind)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.fix)
    }
}

impl std::error::Error for Problem {}
