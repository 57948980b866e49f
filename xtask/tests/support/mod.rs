//! Shared test harness: real `docker-registry` instances on free loopback ports (plain HTTP,
//! TLS with a CA made by the test, htpasswd auth), skopeo helpers to look at what a registry
//! holds, test workspaces (a git repository with a release config) and generated OCI layouts.
//!
//! Every child process is killed when its handle is dropped; every file lives in a temp dir.
//! Use from a test file with `mod support;` (not every test file uses every helper).
#![allow(dead_code)]

pub mod proxy;
pub mod roots;
pub mod token;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use xtask::oci::layout::Layout;
use xtask::oci::{self, Descriptor, Digest, ImageConfig, Index, Manifest, RootFs};

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

    /// The tags of `repo` (empty when the repository does not exist).
    pub fn tags(&self, repo: &str) -> Vec<String> {
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

/// Makes a CA and a server certificate for `127.0.0.1`/`localhost` signed by it, with
/// openssl. Returns `(ca.crt, server.crt, server.key)`.
pub fn make_tls(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl is installed");
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    };
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("ca.ext"),
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n\
         subjectKeyIdentifier=hash\n",
    )
    .unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-new"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.csr",
        "-subj",
        "/CN=stevedore test CA",
    ]);
    run(&ca);
    run(&[
        "x509", "-req", "-in", "ca.csr", "-signkey", "ca.key", "-out", "ca.crt", "-days", "2",
        "-extfile", "ca.ext",
    ]);
    let mut srv = vec!["req", "-new"];
    srv.extend(ec);
    srv.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run(&srv);
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    (
        dir.join("ca.crt"),
        dir.join("server.crt"),
        dir.join("server.key"),
    )
}

// ---------------------------------------------------------------------------------------------
// Test repositories, workspaces and the xtask binary

/// A git repository in a temp dir (removed when dropped). Commits made with [`git`] have a
/// fixed author, committer and date (2024-05-01T12:00:00Z).
pub struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    /// An empty repository (`git init -b main`), no commit yet.
    pub fn init() -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().unwrap(),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    /// A repository holding `files` (`(relative path, contents)`), committed ("release") and
    /// tagged `v1.2.3`.
    pub fn release<T: AsRef<[u8]>>(files: &[(&str, T)]) -> Repo {
        let repo = Repo::init();
        for (rel, contents) in files {
            repo.write(rel, contents);
        }
        repo.commit("release");
        repo.git(&["tag", "v1.2.3"]);
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file (and its parent directories) under the repository.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, contents).unwrap();
    }

    /// Runs git here; returns its trimmed stdout.
    pub fn git(&self, args: &[&str]) -> String {
        git(self.path(), args)
    }

    /// Commits everything (`add -A`), even when nothing changed.
    pub fn commit(&self, msg: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", msg]);
    }

    /// The full sha of HEAD.
    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }

    /// Runs `cargo xtask -C <here> ARGS` (see [`xtask`]).
    pub fn xtask(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        xtask(self.path(), args, env)
    }
}

/// A git repository holding `images/release.toml`, tagged `v1.2.3` (so the version is
/// `1.2.3` and the tags are `v1.2.3`, `1.2`, `1`, `latest`). Derefs to its [`Repo`].
pub struct Workspace {
    pub repo: Repo,
}

pub const VERSION: &str = "1.2.3";
pub const TAGS: [&str; 4] = ["1", "1.2", "latest", "v1.2.3"];

/// Every tag of `repo` in `reg` is one of [`TAGS`] and holds exactly `bytes`
/// (`skopeo inspect --raw`).
pub fn assert_tags(reg: &Registry, repo: &str, bytes: &[u8]) {
    assert_eq!(reg.tags(repo), TAGS.to_vec(), "tags of {}/{repo}", reg.host);
    for tag in TAGS {
        let raw = reg
            .inspect_raw(&format!("{repo}:{tag}"))
            .expect("tag exists");
        assert_eq!(raw, bytes, "{}/{repo}:{tag}", reg.host);
    }
}

impl Workspace {
    /// `registries`: prefixes as in the config; `images`: image names (native `files` images);
    /// `extra`: more `[release]` keys (e.g. `ca-files = [...]`).
    pub fn new(registries: &[String], images: &[&str], extra: &str) -> Workspace {
        Workspace::with_files(registries, images, extra, &[])
    }

    /// [`Workspace::new`] plus files (`(relative path, bytes)`) committed with the config.
    pub fn with_files(
        registries: &[String],
        images: &[&str],
        extra: &str,
        files: &[(&str, &[u8])],
    ) -> Workspace {
        let regs: Vec<String> = registries.iter().map(|r| format!("{r:?}")).collect();
        let mut toml = format!(
            "[release]\nname = \"demo\"\nregistries = [{}]\nplatforms = [\"linux/amd64\", \"linux/arm64\"]\n\
             tags = [\"type=semver,pattern=v{{{{version}}}}\", \"type=semver,pattern={{{{major}}}}.{{{{minor}}}}\", \"type=semver,pattern={{{{major}}}}\"]\n\
             latest = \"auto\"\n{extra}\n",
            regs.join(", ")
        );
        for name in images {
            toml.push_str(&format!(
                "\n[images.{name}]\nnative = {{ files = [{{ src = \"files/hello.txt\", dst = \"/hello.txt\" }}] }}\n"
            ));
        }
        let mut all: Vec<(&str, &[u8])> = vec![("files/hello.txt", b"hello\n")];
        all.extend_from_slice(files);
        all.push((".gitignore", b"target/\n"));
        all.push(("images/release.toml", toml.as_bytes()));
        Workspace {
            repo: Repo::release(&all),
        }
    }

    /// The default layout directory (`target/stevedore/oci`).
    pub fn layout(&self) -> Layout {
        Layout::create(&self.path().join("target/stevedore/oci")).unwrap()
    }
}

impl std::ops::Deref for Workspace {
    type Target = Repo;

    fn deref(&self) -> &Repo {
        &self.repo
    }
}

/// Runs git in `dir` with a fixed author, committer and date (2024-05-01T12:00:00Z); asserts
/// success and returns the trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("GIT_AUTHOR_DATE", "2024-05-01T12:00:00Z")
        .env("GIT_COMMITTER_DATE", "2024-05-01T12:00:00Z")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Reports a test part that cannot run on this machine: printed on a developer's machine, a
/// failure under `CI` (where scripts/test.sh installs every tool, so a skip would hide a test).
pub fn skipped(why: &str) {
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("{why}: CI must run every test (scripts/test.sh installs the tools)");
    }
    eprintln!("{why}");
}

/// A docker config directory that does not exist: no credentials of the machine running the
/// tests are read (stevedore, and the buildah it drives, must cope with it).
pub fn no_docker_credentials() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-docker-credentials-here")
}

/// The xtask binary with `-C dir` and `args`. CI variables, stevedore settings,
/// `SOURCE_DATE_EPOCH` and docker credentials of the machine running the tests are removed
/// (`DOCKER_CONFIG` is [`no_docker_credentials`]); `env` adds variables.
pub fn xtask_command(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.arg("-C").arg(dir).args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("GITHUB_")
            || k.starts_with("STEVEDORE_")
            || k == "CI"
            || k == "DOCKER_CONFIG"
            || k == "RUNNER_TEMP"
            || k == "SOURCE_DATE_EPOCH"
        {
            cmd.env_remove(&k);
        }
    }
    // Never read the real ~/.docker/config.json.
    cmd.env("DOCKER_CONFIG", no_docker_credentials());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs [`xtask_command`] with a time limit of 300 s.
pub fn xtask(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    run_limited(xtask_command(dir, args, env), Duration::from_secs(300))
}

/// Runs a command (stdin closed) with a time limit, capturing its output; panics with its
/// stderr when it takes longer.
pub fn run_limited(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let pump = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = pump(Box::new(child.stdout.take().unwrap()));
    let err = pump(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
            panic!("{cmd:?} took more than {limit:?}; stderr:\n{stderr}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Whether `tool --version` runs and succeeds.
pub fn have(tool: &str) -> bool {
    // Not `tool --version`: openssl, htpasswd and go have no such flag.
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| dir.join(tool).is_file())
}

// ---------------------------------------------------------------------------------------------
// Generated layouts

/// Deterministic, incompressible bytes (xorshift).
pub fn pseudo_random(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// What a generated image looks like: per platform, its own layers (`(seed, size)`) on top of
/// `shared` layers every platform and image using the same seeds shares.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    pub name: String,
    pub platforms: Vec<(&'static str, &'static str)>,
    pub shared: Vec<(u64, usize)>,
    /// Layers unique to this image, per platform (seed is mixed with the platform index).
    pub own: Vec<(u64, usize)>,
}

/// What was written for one image.
#[derive(Debug, Clone)]
pub struct WrittenImage {
    pub index: Descriptor,
    pub index_bytes: Vec<u8>,
    pub manifests: Vec<Descriptor>,
    /// Every blob (layers and configs) with its size.
    pub blobs: Vec<(Digest, u64)>,
}

/// Writes an image (index → platform manifests → config + layers) into `layout` and names it
/// `<name>:<version>`.
pub fn write_image(layout: &Layout, spec: &ImageSpec, version: &str) -> WrittenImage {
    let mut manifests = Vec::new();
    let mut blobs = Vec::new();
    for (pi, (os, arch)) in spec.platforms.iter().enumerate() {
        let mut layers = Vec::new();
        for (seed, size) in &spec.shared {
            layers.push(
                layout
                    .write_blob(oci::MEDIA_LAYER_GZIP, &pseudo_random(*seed, *size))
                    .unwrap(),
            );
        }
        for (seed, size) in &spec.own {
            let seed = seed.wrapping_mul(1000).wrapping_add(pi as u64 + 1);
            layers.push(
                layout
                    .write_blob(oci::MEDIA_LAYER_GZIP, &pseudo_random(seed, *size))
                    .unwrap(),
            );
        }
        let config = ImageConfig {
            architecture: arch.to_string(),
            os: os.to_string(),
            rootfs: RootFs {
                kind: "layers".into(),
                diff_ids: layers.iter().map(|l| l.digest.clone()).collect(),
            },
            config: Some(oci::ContainerConfig {
                labels: [(
                    "org.opencontainers.image.title".to_string(),
                    spec.name.clone(),
                )]
                .into_iter()
                .collect(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let config_desc = layout.write_json(oci::MEDIA_CONFIG, &config).unwrap();
        blobs.push((config_desc.digest.clone(), config_desc.size));
        for l in &layers {
            blobs.push((l.digest.clone(), l.size));
        }
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(oci::MEDIA_MANIFEST.into()),
            artifact_type: None,
            config: config_desc,
            layers,
            subject: None,
            annotations: Default::default(),
        };
        let mut desc = layout.write_json(oci::MEDIA_MANIFEST, &manifest).unwrap();
        desc.platform = Some(oci::Platform {
            architecture: arch.to_string(),
            os: os.to_string(),
            variant: None,
            os_version: None,
        });
        manifests.push(desc);
    }
    let index = Index::new(manifests.clone());
    let index_bytes = oci::to_bytes(&index);
    let desc = layout.write_blob(oci::MEDIA_INDEX, &index_bytes).unwrap();
    layout
        .set_ref(&format!("{}:{version}", spec.name), &desc)
        .unwrap();
    blobs.sort();
    blobs.dedup();
    WrittenImage {
        index: desc,
        index_bytes,
        manifests,
        blobs,
    }
}

/// A small two-platform image: one layer shared by every image, one of its own per platform.
pub fn small_image(name: &str, seed: u64) -> ImageSpec {
    ImageSpec {
        name: name.into(),
        platforms: vec![("linux", "amd64"), ("linux", "arm64")],
        shared: vec![(7, 300_000)],
        own: vec![(seed, 200_000 + seed as usize * 1000)],
    }
}

/// stdout + stderr of a command, for assertions and messages.
pub fn output_text(out: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Writes a docker `config.json` with `auths` for `(host, user, password)` into a new temp
/// dir; returns the dir (use it as `DOCKER_CONFIG`).
pub fn docker_config(entries: &[(&str, &str, &str)]) -> tempfile::TempDir {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let mut auths = serde_json::Map::new();
    for (host, user, password) in entries {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        auths.insert(host.to_string(), serde_json::json!({ "auth": auth }));
    }
    std::fs::write(
        dir.path().join("config.json"),
        serde_json::to_vec_pretty(&serde_json::json!({ "auths": auths })).unwrap(),
    )
    .unwrap();
    dir
}
