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
    let last = pin.image.rsplit('/').next().unwrap_or_default();
    if !pin.image.contains('/')
        || last.is_empty()
        || last.contains(':')
        || pin
            .image
            .contains(|c: char| c == '@' || c.is_whitespace() || c == '"' || c == '\\')
    {
        return Err(format!(
            "image {:?} is not a repository name (no tag, no digest)",
            pin.image
        ));
    }
    Ok(pin)
}

/// The comment at the top of the pin file.
const HEADER: &str = "\
# The stevedore image the generated workflows install in repositories that do not carry
# stevedore as their xtask: `docker create` + `docker cp` of its static binary, pulled by
# digest (xtask/src/ci/pin.rs reads this file, compiled in).
#
# stevedore's release writes it: after `cargo xtask release --metadata-file FILE` published
# version X of images/release.toml's `stevedore` image, `cargo xtask ci pin FILE` writes that
# version and the index digest here, to commit. `ci generate --check` in a user's repository
# then flags a workflow still installing an older pin. The version is at most this crate's
# and the image is the first registry of images/release.toml (a unit test checks both).
";

/// What the pin file says while no release has filled it in.
const UNPUBLISHED_NOTE: &str = "\
#
# No stevedore image has been published yet: the digest below is the all-zero \"unpublished\"
# marker, and `ci generate` warns while it is.
";

/// The text of the pin file for `pin`.
pub fn render(pin: &Pin) -> String {
    // A JSON string is a TOML basic string (the same escapes).
    let quote = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    format!(
        "{HEADER}{}image = {}\nversion = {}\ndigest = {}\n",
        if pin.published() {
            ""
        } else {
            UNPUBLISHED_NOTE
        },
        quote(&pin.image),
        quote(&pin.version),
        quote(&pin.digest)
    )
}

/// The pin of image `image` in a release's metadata file (`--metadata-file`: `version`, and
/// per image its index `digest` and `references`, the first `host/repository@digest`).
pub fn from_metadata(metadata: &serde_json::Value, image: &str) -> Result<Pin, String> {
    let pushed = metadata["images"]
        .get(image)
        .ok_or_else(|| format!("has no image {image:?} (images: {})", metadata["images"]))?;
    let digest = pushed["digest"]
        .as_str()
        .ok_or_else(|| format!("image {image} has no index digest (pushed by digest only?)"))?;
    let repository = pushed["references"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str())
        .find_map(|r| r.strip_suffix(&format!("@{digest}")))
        .ok_or_else(|| format!("image {image} has no reference by its digest {digest}"))?;
    let version = metadata["version"]
        .as_str()
        .ok_or("has no version")?
        .to_string();
    let text = render(&Pin {
        image: repository.to_string(),
        version,
        digest: digest.to_string(),
    });
    parse(&text)
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
    fn the_pin_file_is_what_ci_pin_writes() {
        assert_eq!(render(&pin()), PIN_FILE);
        let released = Pin {
            digest: format!("sha256:{}", "ab".repeat(32)),
            ..pin()
        };
        let text = render(&released);
        assert!(!text.contains("unpublished"), "{text}");
        assert_eq!(parse(&text).unwrap(), released);
    }

    #[test]
    fn a_release_metadata_file_gives_the_pin_of_its_image() {
        let d = format!("sha256:{}", "cd".repeat(32));
        let metadata = serde_json::json!({
            "schema": 1, "version": "1.4.0",
            "images": {"stevedore": {"digest": d, "references": [
                format!("ghcr.io/stevedore-rs/stevedore@{d}"),
                format!("docker.io/stevedore/stevedore@{d}"),
                "ghcr.io/stevedore-rs/stevedore:v1.4.0",
            ]}},
        });
        let pin = from_metadata(&metadata, "stevedore").unwrap();
        assert_eq!(
            pin.reference(),
            format!("ghcr.io/stevedore-rs/stevedore:v1.4.0@{d}")
        );
        assert!(from_metadata(&metadata, "other")
            .unwrap_err()
            .contains("no image"));
        let by_digest =
            serde_json::json!({"version": "1.4.0", "images": {"stevedore": {"digest": null}}});
        assert!(from_metadata(&by_digest, "stevedore")
            .unwrap_err()
            .contains("no index digest"));
    }

    #[test]
    fn pin_files_are_refused_unless_every_field_is_well_formed() {
        let good = "image = \"ghcr.io/x/y\"\nversion = \"1.2.3\"\ndigest = \"sha256:";
        let hex = "ab".repeat(32);
        parse(&format!("{good}{hex}\"\n")).unwrap();
        let local = format!(
            "image = \"127.0.0.1:5000/x/y\"\nversion = \"1.2.3\"\ndigest = \"sha256:{hex}\"\n"
        );
        parse(&local).unwrap();
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
            (
                format!("image = \"stevedore\"\nversion = \"1.2.3\"\ndigest = \"sha256:{hex}\"\n"),
                "no tag",
            ),
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
