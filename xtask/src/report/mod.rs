//! Everything people read: tables and texts, JSON documents, GitHub Actions outputs and step
//! summary, progress bars and lines. The only place, with `commands/`, that prints.

pub mod compose;
pub mod github;
pub mod json;
pub mod publish;
pub mod tables;
pub mod terminal_progress;

/// Prints each tag the engine had to rewrite, as a note on stderr, and each rule it skipped or
/// read leniently, as a warning.
pub fn rewrites(plan: &crate::plan::Plan) {
    for w in &plan.tag_warnings {
        eprintln!("warning: {w}");
    }
    for r in &plan.rewritten_tags {
        eprintln!(
            "note: tag {:?} rewritten to {:?}: {}",
            r.from, r.to, r.reason
        );
    }
}
