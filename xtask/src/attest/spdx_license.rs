//! A Cargo `license` field as an SPDX license expression that SPDX validators accept.
//!
//! Cargo accepts the legacy `MIT/Apache-2.0` form and deprecated ids; SPDX documents need
//! `MIT OR Apache-2.0` and ids from the SPDX license list. The `spdx` crate (cargo-deny's)
//! canonicalises and checks the expression; anything it refuses, and `LicenseRef-…` (which
//! would need the license text in the document), becomes `NOASSERTION`.

use spdx::{Expression, ParseMode};

pub const NOASSERTION: &str = "NOASSERTION";

/// The SPDX expression of a Cargo `license` field, or `NOASSERTION`.
pub fn expression(cargo_license: Option<&str>) -> String {
    let Some(text) = cargo_license.map(str::trim).filter(|t| !t.is_empty()) else {
        return NOASSERTION.into();
    };
    let canonical = match Expression::canonicalize(text) {
        Ok(Some(c)) => c,
        Ok(None) => text.to_string(),
        Err(_) => return NOASSERTION.into(),
    };
    let valid = Expression::parse_mode(&canonical, ParseMode::STRICT).is_ok();
    if valid && !canonical.contains("LicenseRef-") && !canonical.contains("AdditionRef-") {
        canonical
    } else {
        NOASSERTION.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_license_fields_become_valid_spdx_expressions() {
        for (cargo, spdx) in [
            ("MIT", "MIT"),
            ("MIT OR Apache-2.0", "MIT OR Apache-2.0"),
            ("MIT/Apache-2.0", "MIT OR Apache-2.0"),
            ("MIT / Apache-2.0", "MIT OR Apache-2.0"),
            ("Apache-2.0/ISC/MIT", "Apache-2.0 OR ISC OR MIT"),
            (
                "Apache-2.0 WITH LLVM-exception OR Apache-2.0 OR MIT",
                "Apache-2.0 WITH LLVM-exception OR Apache-2.0 OR MIT",
            ),
            (
                "(MIT OR Apache-2.0) AND Unicode-3.0",
                "(MIT OR Apache-2.0) AND Unicode-3.0",
            ),
            ("GPL-2.0", "GPL-2.0-only"),
            ("GPL-2.0+", "GPL-2.0-or-later"),
            ("  Zlib ", "Zlib"),
        ] {
            assert_eq!(expression(Some(cargo)), spdx, "{cargo:?}");
        }
    }

    #[test]
    fn missing_unknown_or_malformed_licenses_are_noassertion() {
        for cargo in [
            None,
            Some(""),
            Some("   "),
            Some("MIT OR"),
            Some("(MIT"),
            Some("MIT)"),
            Some("MIT Apache-2.0"),
            Some("see LICENSE file"),
            Some("MIT, Apache-2.0"),
            Some("Foo-1.0 OR MIT"),
            Some("LicenseRef-Proprietary"),
        ] {
            assert_eq!(expression(cargo), NOASSERTION, "{cargo:?}");
        }
    }
}
