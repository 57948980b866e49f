//! What a Dockerfile builder needs to pull its `FROM` images the way stevedore reaches
//! registries: the credentials stevedore would use (`STEVEDORE_AUTH_*`, `GITHUB_TOKEN`, docker's
//! config), plain HTTP for loopback hosts and `release.insecure-registries`, and the CAs of
//! `release.ca-files`. Written into a private temp directory outside the workspace (a random
//! name, mode 0700, files 0600: [`PrivateDir`]) and removed when dropped: no secret is left in
//! any file.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use base64::Engine as _;

use super::private_dir::{write_private, PrivateDir};
use crate::oci::reference::{is_loopback_host, ImageRef};
use crate::registry::credentials::Credential;
use crate::registry::Clients;

/// buildah's `--authfile`, `--registries-conf` and `--cert-dir`, when needed.
pub struct RegistryAccess {
    dir: PrivateDir,
    pub authfile: Option<PathBuf>,
    pub registries_conf: Option<PathBuf>,
    pub cert_dir: Option<PathBuf>,
}

/// Every registry image the `FROM` lines of `dockerfile` name, as written and parsed (stage
/// names, `scratch` and references built from `ARG`s left out).
pub fn from_refs(dockerfile: &str) -> Vec<(String, ImageRef)> {
    let mut stages: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for line in dockerfile.lines() {
        let mut words = line.split_whitespace();
        if !words.next().is_some_and(|w| w.eq_ignore_ascii_case("from")) {
            continue;
        }
        let rest: Vec<&str> = words.filter(|w| !w.starts_with("--")).collect();
        let Some(image) = rest.first() else { continue };
        let earlier_stage = stages.contains(&image.to_ascii_lowercase());
        if let Some(i) = rest.iter().position(|w| w.eq_ignore_ascii_case("as")) {
            if let Some(name) = rest.get(i + 1) {
                stages.push(name.to_ascii_lowercase());
            }
        }
        if image.contains('$') || image.eq_ignore_ascii_case("scratch") || earlier_stage {
            continue;
        }
        if let Ok(r) = ImageRef::parse(image) {
            out.push((image.to_string(), r));
        }
    }
    out
}

/// One image per registry host of [`from_refs`] (what registry access is prepared for).
pub fn from_images(dockerfile: &str) -> Vec<ImageRef> {
    let mut out: Vec<ImageRef> = Vec::new();
    for (_, r) in from_refs(dockerfile) {
        if !out.iter().any(|o| o.host == r.host) {
            out.push(r);
        }
    }
    out
}

impl RegistryAccess {
    /// Prepares access to the registries of `images` as the run's session reaches them: its
    /// credentials, insecure hosts and CA files.
    pub fn prepare(images: &[ImageRef], clients: &Clients) -> Result<RegistryAccess> {
        let (insecure, ca_files) = (&clients.settings().insecure, &clients.settings().ca_files);
        let dir = PrivateDir::new("stevedore-builder")?;
        let mut access = RegistryAccess {
            dir,
            authfile: None,
            registries_conf: None,
            cert_dir: None,
        };
        let mut auths = serde_json::Map::new();
        let mut plain = Vec::new();
        for image in images {
            let creds = clients.credentials(&image.host)?;
            if let Credential::Basic { user, secret } = &creds.credential {
                let pair = format!("{user}:{}", secret.expose());
                auths.insert(
                    image.host.clone(),
                    serde_json::json!({
                        "auth": base64::engine::general_purpose::STANDARD.encode(pair)
                    }),
                );
            }
            if is_loopback_host(&image.host) || insecure.contains(&image.host) {
                plain.push(image.host.clone());
            }
        }
        if !auths.is_empty() {
            let path = access.dir.path().join("auth.json");
            let doc = serde_json::json!({ "auths": auths });
            write_private(&path, doc.to_string().as_bytes())?;
            access.authfile = Some(path);
        }
        if !plain.is_empty() {
            let mut conf = String::from(
                "unqualified-search-registries = [\"docker.io\"]\nshort-name-mode = \"permissive\"\n",
            );
            for host in plain {
                conf.push_str(&format!(
                    "\n[[registry]]\nlocation = \"{host}\"\ninsecure = true\n"
                ));
            }
            let path = access.dir.path().join("registries.conf");
            write_private(&path, conf.as_bytes())?;
            access.registries_conf = Some(path);
        }
        if !ca_files.is_empty() {
            let certs = access.dir.path().join("certs");
            fs::DirBuilder::new().mode(0o700).create(&certs)?;
            for (i, f) in ca_files.iter().enumerate() {
                let pem =
                    fs::read(f).with_context(|| format!("cannot read CA file {}", f.display()))?;
                write_private(&certs.join(format!("ca-{i}.crt")), &pem)?;
            }
            access.cert_dir = Some(certs);
        }
        Ok(access)
    }

    /// The directory everything lives in (removed on drop).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_lines_name_registry_images_only() {
        let df = "ARG BASE=x\nFROM --platform=$BUILDPLATFORM 127.0.0.1:5000/tools/go:1 AS build\n\
                  FROM $BASE\nFROM scratch AS empty\nFROM build AS again\n\
                  FROM ghcr.io/o/runtime:2\nFROM debian:12\n";
        let hosts: Vec<String> = from_images(df).into_iter().map(|r| r.host).collect();
        assert_eq!(hosts, ["127.0.0.1:5000", "ghcr.io", "docker.io"]);
    }

    #[test]
    fn files_are_private_and_removed_on_drop() {
        let images = from_images("FROM 127.0.0.1:5999/base:1\n");
        let access = RegistryAccess::prepare(&images, &Clients::default()).unwrap();
        let conf = access.registries_conf.clone().unwrap();
        let text = fs::read_to_string(&conf).unwrap();
        assert!(text.contains("location = \"127.0.0.1:5999\""), "{text}");
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(access.dir()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let dir = access.dir().to_path_buf();
        drop(access);
        assert!(!dir.exists());
    }
}
