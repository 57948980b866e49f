//! The native builder beyond cargo: a `files` directory becomes a tree in the image, and any
//! toolchain (`native.command`, here Go) builds per platform, daemonless and reproducibly.

mod support;

use std::path::Path;

use support::*;
use xtask::oci::{ImageConfig, Index, Manifest};

/// `(path in the image, contents)` of every regular file of a gzip layer.
fn layer_files(layout: &xtask::oci::layout::Layout, digest: &xtask::oci::Digest) -> Files {
    let bytes = layout.read_blob(digest).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.header().entry_type().is_file() {
            let path = entry.path().unwrap().display().to_string();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
            out.push((path, data));
        }
    }
    out
}

/// `(path in the image, contents)` pairs.
type Files = Vec<(String, Vec<u8>)>;

/// Per platform (`os/arch`): the image config and the files of its last layer.
fn platforms(ws: &Workspace, name: &str) -> Vec<(String, ImageConfig, Files)> {
    let layout = ws.layout();
    let index: Index = layout
        .read_json(&layout.resolve(name).unwrap().digest)
        .unwrap();
    index
        .manifests
        .iter()
        .map(|d| {
            let m: Manifest = layout.read_json(&d.digest).unwrap();
            let config: ImageConfig = layout.read_json(&m.config.digest).unwrap();
            let p = d.platform.as_ref().unwrap();
            let files = layer_files(&layout, &m.layers.last().unwrap().digest);
            (format!("{}/{}", p.os, p.architecture), config, files)
        })
        .collect()
}

fn config_with(images: &str) -> String {
    ReleaseToml::new("demo")
        .registries(["127.0.0.1:1/demo"])
        .platforms(["linux/amd64", "linux/arm64"])
        .tags(["type=semver,pattern={{version}}"])
        .table(images)
        .build()
}

#[test]
fn a_files_directory_becomes_a_tree_with_excludes() {
    let images = r#"
[images.web]
native = { files = [{ src = "dist/{os}-{arch}/", dst = "/srv/", exclude = ["**/*.map"] }] }
healthcheck = { test = ["CMD", "/srv/check"], interval = "30s", retries = 3 }
volumes = ["/data"]
working-dir = "/srv"
exposed-ports = ["8080"]
"#;
    let mut files: Vec<(String, Vec<u8>)> = vec![(
        "images/release.toml".into(),
        config_with(images).into_bytes(),
    )];
    for arch in ["amd64", "arm64"] {
        for rel in [
            "index.html",
            "assets/app.js",
            "assets/app.js.map",
            "a/b/c.txt",
        ] {
            files.push((
                format!("dist/linux-{arch}/{rel}"),
                format!("{arch} {rel}\n").into_bytes(),
            ));
        }
    }
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    let ws = Workspace {
        repo: Repo::release(&refs),
    };
    let out = ws.xtask(&["build"], &[]);
    assert_ok(&out);
    let built = platforms(&ws, "web:1.2.3");
    assert_eq!(built.len(), 2);
    for (platform, config, files) in built {
        let arch = platform.split('/').nth(1).unwrap();
        let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            names,
            ["srv/a/b/c.txt", "srv/assets/app.js", "srv/index.html"],
            "{platform}"
        );
        assert_eq!(files[2].1, format!("{arch} index.html\n").into_bytes());
        let c = config.config.unwrap();
        let health = c.healthcheck.unwrap();
        assert_eq!(health.test, ["CMD", "/srv/check"]);
        assert_eq!(health.interval, Some(30_000_000_000));
        assert_eq!(health.retries, Some(3));
        assert!(c.volumes.contains_key("/data"));
        assert_eq!(c.working_dir.as_deref(), Some("/srv"));
        assert!(c.exposed_ports.contains_key("8080/tcp"));
    }
}

const MAIN_GO: &str = r#"package main

import "fmt"

var version = "unset"

func main() { fmt.Println("server " + version) }
"#;

#[test]
fn a_go_command_builds_both_platforms_reproducibly() {
    if !have("go") {
        skipped("SKIPPED: go is not installed (apt-get install golang-go)");
        return;
    }
    // The command runs without a shell: a small script passes $VERSION to Go's linker.
    let images = r#"
[images.server]
native = { command = ["sh", "build.sh", "dist/{os}-{arch}/server"], files = [{ src = "dist/{os}-{arch}/server", dst = "/usr/local/bin/server" }] }
entrypoint = ["/usr/local/bin/server"]
"#;
    let build_sh = "set -eu\nexport CGO_ENABLED=0 GOFLAGS=-mod=mod GOCACHE=\"$PWD/.gocache\" GOPATH=\"$PWD/.gopath\"\n\
                    go build -trimpath -buildvcs=false -ldflags \"-s -w -buildid= -X main.version=$VERSION\" -o \"$1\" .\n";
    let config = config_with(images);
    let files: Vec<(&str, &[u8])> = vec![
        ("images/release.toml", config.as_bytes()),
        ("go.mod", b"module example.com/server\n\ngo 1.19\n"),
        ("main.go", MAIN_GO.as_bytes()),
        ("build.sh", build_sh.as_bytes()),
        (".gitignore", b"dist/\n.gocache/\n.gopath/\ntarget/\n"),
    ];
    let ws = Workspace {
        repo: Repo::release(&files),
    };
    let out = ws.xtask(&["build"], &[]);
    assert_ok(&out);
    let built = platforms(&ws, "server:1.2.3");
    let archs: Vec<&str> = built.iter().map(|(p, _, _)| p.as_str()).collect();
    assert_eq!(archs, ["linux/amd64", "linux/arm64"]);
    for (platform, _, files) in &built {
        assert_eq!(files.len(), 1, "{platform}");
        let (path, bin) = &files[0];
        assert_eq!(path, "usr/local/bin/server");
        // The ELF machine: x86-64 (62) or AArch64 (183).
        let machine = u16::from_le_bytes([bin[18], bin[19]]);
        let want = if platform.ends_with("amd64") { 62 } else { 183 };
        assert_eq!(machine, want, "{platform}");
        assert!(
            bin.windows(b"1.2.3".len()).any(|w| w == b"1.2.3"),
            "{platform}: the binary embeds the release version"
        );
    }
    // The amd64 binary runs here and reports the release version.
    let amd64 = ws.path().join("dist/linux-amd64/server");
    let run = std::process::Command::new(&amd64).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "server 1.2.3");

    // Reproducible: a rebuild from scratch gives the same index digest.
    let first = ws.layout().resolve("server:1.2.3").unwrap().digest;
    std::fs::remove_dir_all(ws.path().join("target")).unwrap();
    std::fs::remove_dir_all(ws.path().join("dist")).unwrap();
    let out = ws.xtask(&["build"], &[]);
    assert_ok(&out);
    assert_eq!(ws.layout().resolve("server:1.2.3").unwrap().digest, first);
    assert!(Path::new(&amd64).is_file());
}
