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
use crate::registry::{Clients, Settings};

/// buildah's `--authfile`, `--registries-conf` and `--cert-dir`, when needed.
pub struct RegistryAccess {
    dir: PrivateDir,
    pub authfile: Option<PathBuf>,
    pub registries_conf: Option<PathBuf>,
    pub cert_dir: Option<PathBuf>,
}

impl RegistryAccess {
    /// Prepares access to the registries of `images` (each pulled from its mirror, when the
    /// session's settings name one) as the run's session reaches them: its credentials,
    /// insecure hosts and CA files.
    pub fn prepare(images: &[ImageRef], clients: &Clients) -> Result<RegistryAccess> {
        let settings: &Settings = clients.settings();
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
            let image = settings.pull_source(image);
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
            if is_plain(&image.host, settings) && !plain.contains(&image.host) {
                plain.push(image.host.clone());
            }
        }
        if !auths.is_empty() {
            let path = access.dir.path().join("auth.json");
            let doc = serde_json::json!({ "auths": auths });
            write_private(&path, doc.to_string().as_bytes())?;
            access.authfile = Some(path);
        }
        let path = access.dir.path().join("registries.conf");
        write_private(&path, registries_conf(&plain, settings).as_bytes())?;
        access.registries_conf = Some(path);
        if !settings.ca_files.is_empty() {
            let certs = access.dir.path().join("certs");
            fs::DirBuilder::new().mode(0o700).create(&certs)?;
            for (i, f) in settings.ca_files.iter().enumerate() {
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

/// Plain HTTP: loopback hosts and `release.insecure-registries`.
fn is_plain(host: &str, settings: &Settings) -> bool {
    is_loopback_host(host) || settings.insecure.iter().any(|h| h == host)
}

/// buildah's `registries.conf`, replacing the machine's: short names Docker's way (a name
/// built from an `ARG` is searched on `docker.io`; every other name reaches buildah written out
/// in full, see [`super::image_names`]), each mirror of `release.mirrors` in place of its
/// registry, and the `plain` hosts over HTTP. Every value was checked as a host or repository
/// path when the config was loaded: none holds a quote.
fn registries_conf(plain: &[String], settings: &Settings) -> String {
    let mut conf = String::from(
        "unqualified-search-registries = [\"docker.io\"]\nshort-name-mode = \"permissive\"\n",
    );
    for (host, mirror) in &settings.mirrors {
        let insecure = is_plain(&mirror.host, settings);
        conf.push_str(&format!(
            "\n[[registry]]\nprefix = \"{host}\"\nlocation = \"{mirror}\"\ninsecure = {insecure}\n"
        ));
    }
    for host in plain.iter().filter(|h| !settings.mirrors.contains_key(*h)) {
        conf.push_str(&format!(
            "\n[[registry]]\nlocation = \"{host}\"\ninsecure = true\n"
        ));
    }
    conf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mirror_replaces_its_registry_for_buildah() {
        use crate::oci::reference::RegistryPrefix;
        let settings = Settings {
            mirrors: [(
                "docker.io".to_string(),
                RegistryPrefix::parse("127.0.0.1:5999/hub").unwrap(),
            )]
            .into(),
            ..Settings::default()
        };
        let golang = ImageRef::parse("golang:1").unwrap();
        let src = settings.pull_source(&golang);
        assert_eq!(src.to_string(), "127.0.0.1:5999/hub/library/golang:1");
        let silent: crate::registry::Log = std::sync::Arc::new(|_: &str| {});
        let clients = Clients::new(
            settings,
            std::sync::Arc::new(crate::registry::credentials::FromEnvironment::default()),
            silent.clone(),
            silent,
        )
        .unwrap();
        let access = RegistryAccess::prepare(&[golang], &clients).unwrap();
        let text = fs::read_to_string(access.registries_conf.as_ref().unwrap()).unwrap();
        assert!(
            text.contains("unqualified-search-registries = [\"docker.io\"]"),
            "{text}"
        );
        assert!(
            text.contains(
                "prefix = \"docker.io\"\nlocation = \"127.0.0.1:5999/hub\"\ninsecure = true\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("location = \"127.0.0.1:5999\"\ninsecure = true"),
            "{text}"
        );
    }

    #[test]
    fn files_are_private_and_removed_on_drop() {
        let images = super::super::image_names::from_images("FROM 127.0.0.1:5999/base:1\n");
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
