//! The stevedore image the generated workflows install (`stevedore_image.toml`, compiled in):
//! its name, the release it is, and its index digest. The install step pulls it by digest, so
//! what runs is exactly what stevedore's release pushed.

use serde::Deserialize;

/// The pin file, as released with this stevedore.
const PIN_FILE: &str = include_str!("stevedore_image.toml");

/// The environment variable of the install step that holds the image reference: the step's
/// script reads it (never the reference spliced into the script), and `--check` finds the pin
/// of an existing workflow by it.
pub const IMAGE_VAR: &str = "STEVEDORE_IMAGE";

/// Where the static binary is in the image (`images/release.toml`, `[images.stevedore.native]`).
pub const BINARY_IN_IMAGE: &str = "/usr/local/bin/stevedore";

/// The digest of a pin no release has filled in yet.
const UNPUBLISHED: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// One pinned stevedore image.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    /// `ghcr.io/stevedore-rs/stevedore`.
    pub image: String,
    /// The release it is (`0.1.0`).
    pub version: String,
    /// Its image index digest (`sha256:<64 hex>`).
    pub digest: String,
}

impl Pin {
    /// `image:vVERSION@DIGEST`: the tag for people, the digest for docker (which pulls by the
    /// digest and ignores the tag).
    pub fn reference(&self) -> String {
        format!("{}:v{}@{}", self.image, self.version, self.digest)
    }

    /// Whether a release has filled in the digest.
    pub fn published(&self) -> bool {
        self.digest != UNPUBLISHED
    }
}

/// The pin compiled into this stevedore.
pub fn pin() -> Pin {
    parse(PIN_FILE).expect("stevedore_image.toml is checked by its unit test")
}

/// Reads a pin file: every field present, the digest `sha256:` and 64 lowercase hex digits,
/// the version semver.
pub fn parse(text: &str) -> Result<Pin, String> {
    let pin: Pin = toml::from_str(text).map_err(|e| format!("not a pin file: {e}"))?;
    let hex = pin.digest.strip_prefix("sha256:").unwrap_or_default();
    if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(format!(
            "digest {:?} is not sha256:<64 lowercase hex digits>",
            pin.digest
        ));
    }
    semver::Version::parse(&pin.version)
        .map_err(|e| format!("version {:?} is not a release: {e}", pin.version))?;
    if pin.image.is_empty() || pin.image.contains(['@', ':', ' ']) {
        return Err(format!(
            "image {:?} is not a repository name (no tag, no digest)",
            pin.image
        ));
    }
    Ok(pin)
}

/// The stevedore image references an existing workflow installs (the values of its
/// `STEVEDORE_IMAGE:` entries), in order.
pub fn installed_references(workflow: &str) -> Vec<String> {
    let key = format!("{IMAGE_VAR}:");
    workflow
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix(&key))
        .map(|v| v.trim().trim_matches('"').to_string())
        .collect()
}

/// What is stale in an existing workflow's stevedore pin: the references it installs that are
/// not `pin`'s.
pub fn stale_references(workflow: &str, pin: &Pin) -> Vec<String> {
    let want = pin.reference();
    let mut out: Vec<String> = installed_references(workflow)
        .into_iter()
        .filter(|r| *r != want)
        .collect();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_pin_is_well_formed_and_not_newer_than_this_stevedore() {
        let pin = parse(PIN_FILE).unwrap();
        let this = semver::Version::parse(env!("CARGO_PKG_VERSION")).unwrap();
        assert!(semver::Version::parse(&pin.version).unwrap() <= this);
        // The image stevedore's own release publishes: the first registry of its config.
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../images/release.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let config: toml::Table = toml::from_str(&text).unwrap();
        let first = config["release"]["registries"][0].as_str().unwrap();
        let name = config["release"]["name"].as_str().unwrap();
        assert_eq!(pin.image, format!("{first}/{name}"));
        assert!(config["images"].get(name).is_some());
    }

    #[test]
    fn pin_files_are_refused_unless_every_field_is_well_formed() {
        let good = "image = \"ghcr.io/x/y\"\nversion = \"1.2.3\"\ndigest = \"sha256:";
        let hex = "ab".repeat(32);
        parse(&format!("{good}{hex}\"\n")).unwrap();
        for (text, says) in [
            (format!("{good}{}\"\n", "AB".repeat(32)), "lowercase hex"),
            (format!("{good}{}\"\n", "ab".repeat(31)), "lowercase hex"),
            (
                format!("image = \"ghcr.io/x/y\"\nversion = \"1.2\"\ndigest = \"sha256:{hex}\"\n"),
                "not a release",
            ),
            (
                format!(
                    "image = \"ghcr.io/x/y:1\"\nversion = \"1.2.3\"\ndigest = \"sha256:{hex}\"\n"
                ),
                "no tag",
            ),
            (format!("{good}{hex}\"\nextra = 1\n"), "not a pin file"),
            ("version = \"1.2.3\"\n".to_string(), "not a pin file"),
        ] {
            let e = parse(&text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn a_workflow_installing_another_digest_is_stale() {
        let pin = Pin {
            image: "ghcr.io/stevedore-rs/stevedore".into(),
            version: "1.2.3".into(),
            digest: format!("sha256:{}", "ab".repeat(32)),
        };
        let current = format!(
            "      env:\n          STEVEDORE_IMAGE: {}\n",
            pin.reference()
        );
        assert!(stale_references(&current, &pin).is_empty());
        let old = "ghcr.io/stevedore-rs/stevedore:v1.2.2@sha256:".to_string() + &"cd".repeat(32);
        let text = format!("{current}  STEVEDORE_IMAGE: {old}\n  STEVEDORE_IMAGE: {old}\n");
        assert_eq!(stale_references(&text, &pin), [old]);
        assert!(stale_references("name: release\n", &pin).is_empty());
        assert!(!Pin {
            digest: UNPUBLISHED.into(),
            ..pin.clone()
        }
        .published());
        assert!(pin.published());
    }
}
