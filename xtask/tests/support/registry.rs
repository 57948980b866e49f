//! Real `docker-registry` instances on free loopback ports (plain HTTP, TLS, htpasswd), and
//! skopeo and HTTP helpers to look at what a registry holds.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::*;

/// How a test registry is set up.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Serve HTTPS with a certificate signed by a CA the harness makes (`Registry::ca_file`).
    pub tls: bool,
    /// Require HTTP basic auth with this `(user, password)` (bcrypt htpasswd file).
    pub htpasswd: Option<(String, String)>,
    /// Another `auth:` section (e.g. token auth), and the `(user, password)` skopeo logs in
    /// with.
    pub auth: Option<(String, (String, String))>,
    /// The registry's log level (default `error`).
    pub log_level: Option<&'static str>,
    /// distribution's `http.host`: the base of the URLs it hands out (upload `Location`).
    pub http_host: Option<String>,
}

/// A `docker-registry serve` child on `127.0.0.1:<free port>`, with its own storage.
pub struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub host: String,
    pub port: u16,
    pub tls: bool,
    /// The CA that signed the server certificate (TLS only).
    pub ca_file: Option<PathBuf>,
    /// A directory holding only `ca.crt`, for `skopeo --cert-dir` (TLS only).
    pub cert_dir: Option<PathBuf>,
    pub creds: Option<(String, String)>,
    dir: tempfile::TempDir,
}

impl Registry {
    pub fn plain() -> Registry {
        Registry::start(RegistryOptions::default())
    }

    pub fn tls() -> Registry {
        Registry::start(RegistryOptions {
            tls: true,
            ..Default::default()
        })
    }

    pub fn with_auth(user: &str, password: &str) -> Registry {
        Registry::start(RegistryOptions {
            htpasswd: Some((user.into(), password.into())),
            ..Default::default()
        })
    }

    /// Starts a registry and waits until `/v2/` answers (at most 20 s).
    pub fn start(opts: RegistryOptions) -> Registry {
        let mut dir = tempfile::tempdir().unwrap();
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).unwrap();
        let (ca_file, cert_dir, tls_yaml) = if opts.tls {
            let (ca, cert, key) = make_tls(dir.path());
            let cert_dir = dir.path().join("certs.d");
            std::fs::create_dir_all(&cert_dir).unwrap();
            std::fs::copy(&ca, cert_dir.join("ca.crt")).unwrap();
            let yaml = format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            );
            (Some(ca), Some(cert_dir), yaml)
        } else {
            (None, None, String::new())
        };
        let auth_yaml = match &opts.htpasswd {
            Some((user, password)) => {
                let out = Command::new("htpasswd")
                    .args(["-Bbn", user, password])
                    .output()
                    .expect("htpasswd (apache2-utils) is installed");
                assert!(out.status.success(), "htpasswd: {out:?}");
                let file = dir.path().join("htpasswd");
                std::fs::write(&file, &out.stdout).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: stevedore-test\n    path: {}\n",
                    file.display()
                )
            }
            None => opts
                .auth
                .as_ref()
                .map_or_else(String::new, |(yaml, _)| yaml.clone()),
        };
        let creds = opts
            .htpasswd
            .clone()
            .or_else(|| opts.auth.as_ref().map(|(_, c)| c.clone()));
        let log_level = opts.log_level.unwrap_or("error");
        let host_yaml = opts
            .http_host
            .as_ref()
            .map_or_else(String::new, |h| format!("  host: {h}\n"));
        // A freshly freed port can be taken by someone else before the registry binds it:
        // try a few ports.
        for _ in 0..5 {
            let port = free_port();
            let config = dir.path().join("config.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\nlog:\n  level: {log_level}\n  accesslog:\n    disabled: true\n\
                     storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                     http:\n  addr: 127.0.0.1:{port}\n{host_yaml}{tls_yaml}{auth_yaml}",
                    storage.display()
                ),
            )
            .unwrap();
            let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
            let child = Command::new("docker-registry")
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("docker-registry is installed");
            let mut reg = Registry {
                child,
                host: format!("127.0.0.1:{port}"),
                port,
                tls: opts.tls,
                ca_file: ca_file.clone(),
                cert_dir: cert_dir.clone(),
                creds: creds.clone(),
                dir,
            };
            if reg.wait_ready(Duration::from_secs(20)) {
                return reg;
            }
            let _ = reg.child.kill();
            let _ = reg.child.wait();
            dir = reg.take_dir();
        }
        panic!("docker-registry did not start");
    }

    fn take_dir(&mut self) -> tempfile::TempDir {
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }

    /// True once the process is up and `/v2/` answers with an HTTP status line.
    fn wait_ready(&mut self, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if self.tls {
                if TcpStream::connect(&self.host).is_ok() {
                    return true;
                }
            } else if let Ok(status) = http_status(&self.host, "GET", "/v2/") {
                if status == 200 || status == 401 {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            self.host
        )
    }

    /// The registry's log (errors only).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// The storage directory.
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// Flags that let skopeo reach this registry.
    pub fn skopeo_flags(&self) -> Vec<String> {
        let mut f = Vec::new();
        match &self.cert_dir {
            Some(d) => f.push(format!("--cert-dir={}", d.display())),
            None => f.push("--tls-verify=false".into()),
        }
        match &self.creds {
            Some((u, p)) => f.push(format!("--creds={u}:{p}")),
            None => f.push("--no-creds".into()),
        }
        f
    }

    /// `skopeo inspect --raw docker://HOST/<reference>`: the manifest bytes, or `None`.
    pub fn inspect_raw(&self, reference: &str) -> Option<Vec<u8>> {
        let out = skopeo(
            &["inspect", "--raw"],
            &self.skopeo_flags(),
            &[&format!("docker://{}/{reference}", self.host)],
        );
        out.status.success().then_some(out.stdout)
    }

    /// The release tags of `repo` (empty when the repository does not exist): every tag but
    /// the referrers fallback tags `sha256-<hex>` (see [`Registry::referrer_tags`]).
    pub fn tags(&self, repo: &str) -> Vec<String> {
        self.all_tags(repo)
            .into_iter()
            .filter(|t| !is_referrers_tag(t))
            .collect()
    }

    /// The referrers fallback tags (`sha256-<64 hex>`) of `repo`.
    pub fn referrer_tags(&self, repo: &str) -> Vec<String> {
        self.all_tags(repo)
            .into_iter()
            .filter(|t| is_referrers_tag(t))
            .collect()
    }

    /// Every tag of `repo`, sorted.
    pub fn all_tags(&self, repo: &str) -> Vec<String> {
        let out = skopeo(
            &["list-tags"],
            &self.skopeo_flags(),
            &[&format!("docker://{}/{repo}", self.host)],
        );
        if !out.status.success() {
            return Vec::new();
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut tags: Vec<String> = v["Tags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        tags.sort();
        tags
    }

    /// Number of blobs stored (files under the blob store).
    pub fn blob_count(&self) -> usize {
        let dir = self.storage().join("docker/registry/v2/blobs/sha256");
        walk_files(&dir)
            .into_iter()
            .filter(|p| p.file_name().is_some_and(|n| n == "data"))
            .count()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Runs skopeo with `pre` (subcommand), `flags` (per-registry) and `args`.
pub fn skopeo(pre: &[&str], flags: &[String], args: &[&str]) -> Output {
    Command::new("skopeo")
        .args(pre)
        .args(flags)
        .args(args)
        .env(
            "REGISTRY_AUTH_FILE",
            "/nonexistent/stevedore-test-auth.json",
        )
        .stdin(Stdio::null())
        .output()
        .expect("skopeo is installed")
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A minimal HTTP/1.1 request over plain TCP; returns the status code.
pub fn http_status(host: &str, method: &str, path: &str) -> std::io::Result<u16> {
    let mut s = TcpStream::connect(host)?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf)?;
    let line = String::from_utf8_lossy(&buf[..n]);
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not HTTP: {line:?}")))
}

/// `sha256-<64 lower-case hex>`: the tag of a referrers fallback index.
pub fn is_referrers_tag(tag: &str) -> bool {
    tag.strip_prefix("sha256-")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}
