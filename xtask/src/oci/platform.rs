//! `os/arch[/variant]` platforms, as OCI image indexes and `--platform` flags spell them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The platforms stevedore knows how to describe in an image index.
pub const KNOWN: &[&str] = &[
    "linux/amd64",
    "linux/arm64",
    "linux/arm64/v8",
    "linux/arm/v7",
    "linux/arm/v6",
    "linux/386",
    "linux/ppc64le",
    "linux/s390x",
    "linux/riscv64",
    "linux/mips64le",
    "windows/amd64",
    "windows/arm64",
];

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Platform {
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
}

impl Platform {
    /// `bin/{os}/{arch}{variant}` with this platform's parts (`{variant}` is empty when unset).
    pub fn expand(&self, template: &str) -> String {
        template
            .replace("{os}", &self.os)
            .replace("{arch}", &self.arch)
            .replace("{variant}", self.variant.as_deref().unwrap_or(""))
    }

    pub fn new(os: &str, arch: &str, variant: Option<&str>) -> Self {
        Platform {
            os: os.into(),
            arch: arch.into(),
            variant: variant.map(Into::into),
        }
    }

    pub fn linux_amd64() -> Self {
        Platform::new("linux", "amd64", None)
    }

    /// The platform of the machine running stevedore, if it is one we know.
    pub fn host() -> Option<Self> {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            "s390x" => "s390x",
            "riscv64" => "riscv64",
            _ => return None,
        };
        Some(Platform::new(std::env::consts::OS, arch, None))
    }

    /// The same platform once `linux/arm64/v8` and `linux/arm64` are treated alike.
    pub fn normalized(&self) -> Platform {
        if self.arch == "arm64" && self.variant.as_deref() == Some("v8") {
            return Platform::new(&self.os, "arm64", None);
        }
        self.clone()
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if !KNOWN.contains(&s) {
            return Err(format!(
                "unknown platform {s:?}: use one of {}",
                KNOWN.join(", ")
            ));
        }
        let mut parts = s.split('/');
        let os = parts.next().unwrap_or_default();
        let arch = parts.next().unwrap_or_default();
        Ok(Platform::new(os, arch, parts.next()))
    }
}

impl Serialize for Platform {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Platform {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_expand() {
        let p: Platform = "linux/arm/v7".parse().unwrap();
        assert_eq!(
            p.expand("bin/{os}/{arch}{variant}/app"),
            "bin/linux/armv7/app"
        );
        let p = Platform::linux_amd64();
        assert_eq!(p.expand("bin/{arch}/app{variant}"), "bin/amd64/app");
    }

    #[test]
    fn parses_known_platforms_and_rejects_others() {
        let p: Platform = "linux/arm/v7".parse().unwrap();
        assert_eq!(p, Platform::new("linux", "arm", Some("v7")));
        assert_eq!(p.to_string(), "linux/arm/v7");
        let err = "linux/amd65".parse::<Platform>().unwrap_err();
        assert!(err.contains("unknown platform \"linux/amd65\""), "{err}");
        assert!("linux".parse::<Platform>().is_err());
    }

    #[test]
    fn arm64_v8_normalizes_to_arm64() {
        let p: Platform = "linux/arm64/v8".parse().unwrap();
        assert_eq!(p.normalized(), Platform::new("linux", "arm64", None));
    }
}
