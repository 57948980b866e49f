//! Rust targets: which target triple a platform is built for, and the cross linker each needs.
//! Facts shared by the builder (`builder/cargo.rs`, which builds) and the CI generator (`ci/`,
//! which installs the targets and linkers a workflow needs).

use std::collections::BTreeMap;

use crate::oci::platform::Platform;

/// The Rust target `platform` is built for: `native.targets` (`overrides`, keyed by platform)
/// first, else the default for the platform.
pub fn rust_target(overrides: &BTreeMap<String, String>, platform: &Platform) -> Option<String> {
    let key = platform.to_string();
    if let Some(t) = overrides
        .get(&key)
        .or_else(|| overrides.get(&platform.normalized().to_string()))
    {
        return Some(t.clone());
    }
    let p = platform.normalized();
    let t = match (p.os.as_str(), p.arch.as_str(), p.variant.as_deref()) {
        ("linux", "amd64", _) => "x86_64-unknown-linux-gnu",
        ("linux", "arm64", _) => "aarch64-unknown-linux-gnu",
        ("linux", "arm", Some("v7")) => "armv7-unknown-linux-gnueabihf",
        ("linux", "arm", _) => "arm-unknown-linux-gnueabihf",
        ("linux", "386", _) => "i686-unknown-linux-gnu",
        ("linux", "ppc64le", _) => "powerpc64le-unknown-linux-gnu",
        ("linux", "s390x", _) => "s390x-unknown-linux-gnu",
        ("linux", "riscv64", _) => "riscv64gc-unknown-linux-gnu",
        ("windows", "amd64", _) => "x86_64-pc-windows-gnu",
        _ => return None,
    };
    Some(t.to_string())
}

/// `CARGO_TARGET_<TRIPLE>_LINKER`.
pub fn linker_var(target: &str) -> String {
    format!(
        "CARGO_TARGET_{}_LINKER",
        target.to_uppercase().replace(['-', '.'], "_")
    )
}

/// Debian's cross gcc for a target: `aarch64-unknown-linux-gnu` → `aarch64-linux-gnu-gcc`.
pub fn cross_gcc(target: &str) -> String {
    let t = target.replace("-unknown-", "-");
    let t = t
        .replace("riscv64gc-", "riscv64-")
        .replace("armv7-", "arm-");
    format!("{t}-gcc")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_targets_and_linkers() {
        assert_eq!(
            cross_gcc("aarch64-unknown-linux-gnu"),
            "aarch64-linux-gnu-gcc"
        );
        assert_eq!(
            cross_gcc("armv7-unknown-linux-gnueabihf"),
            "arm-linux-gnueabihf-gcc"
        );
        assert_eq!(
            linker_var("aarch64-unknown-linux-gnu"),
            "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER"
        );
        let arm64: Platform = "linux/arm64".parse().expect("a platform");
        assert_eq!(
            rust_target(&BTreeMap::new(), &arm64).as_deref(),
            Some("aarch64-unknown-linux-gnu")
        );
        let musl = BTreeMap::from([(
            "linux/arm64".to_string(),
            "aarch64-unknown-linux-musl".to_string(),
        )]);
        assert_eq!(
            rust_target(&musl, &arm64).as_deref(),
            Some("aarch64-unknown-linux-musl")
        );
    }
}
