//! dockerd from Debian's docker.io on a private socket and data root (no iptables, no bridge,
//! vfs storage), for tests that pull and run images; loopback registries are insecure to it.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::run_limited;

/// dockerd on a private socket and data root; stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Dockerd {
    child: Child,
    dir: tempfile::TempDir,
}

impl Dockerd {
    pub fn start() -> Dockerd {
        // Short paths: unix socket paths are limited to 108 bytes.
        let dir = tempfile::Builder::new()
            .prefix("dk")
            .tempdir_in("/tmp")
            .unwrap();
        let d = dir.path();
        let log = std::fs::File::create(d.join("log")).unwrap();
        let child = Command::new("dockerd")
            .args(["--iptables=false", "--bridge=none", "--storage-driver=vfs"])
            .arg("--insecure-registry=127.0.0.0/8")
            .arg(format!("--data-root={}", d.join("data").display()))
            .arg(format!("--exec-root={}", d.join("x").display()))
            .arg(format!("--pidfile={}", d.join("pid").display()))
            .arg(format!("--host=unix://{}", d.join("s").display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("dockerd starts");
        let dockerd = Dockerd { child, dir };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if dockerd.docker(&["version"]).status.success() {
                return dockerd;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!("dockerd did not start:\n{}", dockerd.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new("docker");
        cmd.arg("-H")
            .arg(format!("unix://{}", self.dir.path().join("s").display()))
            .args(args)
            .env("DOCKER_CONFIG", self.dir.path().join("cfg"));
        run_limited(cmd, Duration::from_secs(180))
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Dockerd {
    /// The `DOCKER_HOST` value of this daemon.
    pub fn host(&self) -> String {
        format!("unix://{}", self.dir.path().join("s").display())
    }

    /// The daemon's private directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}
