//! What people read about the compose artifacts: findings published anyway, services left
//! unpinned, and each artifact's manifest.

use std::fmt::Write as _;

use crate::compose::stage::ComposeReport;

/// Notes for stderr: allowed findings, unpinned services, dry-run warnings.
pub fn notes(report: &ComposeReport) -> String {
    let mut s = String::new();
    for f in &report.allowed {
        let _ = writeln!(s, "note: published anyway: {f}");
    }
    for w in &report.warnings {
        let _ = writeln!(s, "note: {w}");
    }
    let mut seen = std::collections::BTreeSet::new();
    for a in &report.artifacts {
        for u in &a.unpinned {
            if seen.insert((a.repository.clone(), u.service.clone())) {
                let _ = writeln!(
                    s,
                    "note: compose artifact {}: service {} keeps image {} unpinned: {}",
                    a.repository, u.service, u.image, u.reason
                );
            }
        }
    }
    s
}

/// One line per artifact (`compose <repo> <registry>/<repo> manifest <digest>`), followed by
/// its manifest when `manifests` is set.
pub fn summary(report: &ComposeReport, manifests: bool) -> String {
    let mut s = String::new();
    for a in &report.artifacts {
        let _ = writeln!(
            s,
            "compose {} {} manifest {}{}",
            a.repository,
            a.target.name(),
            a.manifest.digest,
            match &a.fallback {
                Some((d, _)) => format!(" (OCI 1.0 fallback {})", d.digest),
                None => String::new(),
            }
        );
        if manifests {
            let _ = writeln!(s, "{}", String::from_utf8_lossy(&a.manifest_bytes));
        }
    }
    s
}
