//! The seed projects under `examples/` release as their READMEs say: each is copied into a
//! fresh git repository tagged `v1.2.3`, `release --dry-run` builds every image for every
//! platform into the OCI layout (read back with skopeo), and Votive and ClearSplit publish for
//! real to local registries, read back with skopeo and Docker Compose.
//!
//! The examples name their real registries (`docker.io/oxilith`, `ghcr.io/…`). stevedore has
//! no override for a config's registries, so the full releases edit the copy's `registries`
//! line to point at a local registry ([`set_registries`]); dry runs keep the real names, since
//! they never reach a registry.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use support::examples::*;
use support::*;

const BOTH: [&str; 2] = ["linux/amd64", "linux/arm64"];
const AMD64: [&str; 1] = ["linux/amd64"];

/// What the plan must hold for one image.
struct Expect<'a> {
    image: &'a str,
    /// The full repository (`docker.io/oxilith/votive-api`).
    repository: &'a str,
    platforms: &'a [&'a str],
    tags: &'a [&'a str],
}

fn json(out: &Output) -> serde_json::Value {
    assert_ok(out);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", output_text(out)))
}

/// `args` before the subcommand (`--config FILE`), then `rest`.
fn with(config: &[&str], rest: &[&str]) -> Vec<String> {
    config.iter().chain(rest).map(|s| s.to_string()).collect()
}

fn run(repo: &Example, args: &[String], env: &[(&str, &str)]) -> Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    repo.xtask(&args, env)
}

/// The image index digest of `name` (`<image>:<version>`) in the layout's `index.json`.
fn layout_digest(layout: &Path, name: &str) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == name)
        .unwrap_or_else(|| panic!("{name} is not in {}", layout.display()))["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The text of the compose artifact's layer named `file` (`com.docker.compose.file`), the
/// artifact being `compose/<registry>/<repository>:<version>` in the layout.
fn compose_layer(layout: &Path, artifact: &str, file: &str) -> String {
    let digest = layout_digest(layout, &format!("compose/{artifact}"));
    let blob = |d: &str| {
        std::fs::read(
            layout
                .join("blobs/sha256")
                .join(d.trim_start_matches("sha256:")),
        )
        .unwrap()
    };
    let manifest: serde_json::Value = serde_json::from_slice(&blob(&digest)).unwrap();
    let layer = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["annotations"]["com.docker.compose.file"] == file)
        .unwrap_or_else(|| panic!("{artifact} has no layer {file}: {manifest}"));
    String::from_utf8(blob(layer["digest"].as_str().unwrap())).unwrap()
}

/// `plan --json` holds exactly the `expect`ed images, repositories, platforms and references;
/// `release --dry-run` succeeds and the layout holds each image's index with one manifest
/// per platform (skopeo). Returns the plan.
fn dry_run(repo: &Example, config: &[&str], expect: &[Expect<'_>]) -> serde_json::Value {
    let plan = json(&run(repo, &with(config, &["plan", "--json"]), &[]));
    let mut names: Vec<&str> = plan["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    names.sort();
    let mut want: Vec<&str> = expect.iter().map(|e| e.image).collect();
    want.sort();
    assert_eq!(names, want, "images of the plan");
    for e in expect {
        let image = plan["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == e.image)
            .unwrap();
        assert_eq!(
            image["platforms"],
            serde_json::json!(e.platforms),
            "{}",
            e.image
        );
        let refs: Vec<String> = e
            .tags
            .iter()
            .map(|t| format!("{}:{t}", e.repository))
            .collect();
        assert_eq!(
            image["targets"][0]["references"],
            serde_json::json!(refs),
            "{}",
            e.image
        );
    }

    let out = run(repo, &with(config, &["release", "--dry-run"]), &[]);
    assert_ok(&out);
    let text = output_text(&out);
    assert!(text.contains("dry run: nothing was pushed"), "{text}");
    let layout = repo.path().join("target/stevedore/oci");
    for e in expect {
        let index = skopeo_json(&format!("oci:{}:{}:1.2.3", layout.display(), e.image));
        assert_eq!(
            index["mediaType"], "application/vnd.oci.image.index.v1+json",
            "{}",
            e.image
        );
        assert_eq!(index_platforms(&index), e.platforms, "{}", e.image);
        // Each platform's image, as a runtime on that platform would pick it.
        for platform in e.platforms {
            let (os, arch) = platform.split_once('/').unwrap();
            let out = skopeo(
                &[
                    "--override-os",
                    os,
                    "--override-arch",
                    arch,
                    "inspect",
                    "--config",
                ],
                &[],
                &[&format!("oci:{}:{}:1.2.3", layout.display(), e.image)],
            );
            assert!(out.status.success(), "{}: {}", e.image, output_text(&out));
            let config: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(config["architecture"], arch, "{} {platform}", e.image);
            assert_eq!(config["os"], os, "{} {platform}", e.image);
            assert!(
                !config["rootfs"]["diff_ids"].as_array().unwrap().is_empty(),
                "{} {platform}: {config}",
                e.image
            );
        }
    }
    plan
}

// ---------------------------------------------------------------------------------------
// Dry runs: every example, every image, every platform.
// ---------------------------------------------------------------------------------------

fn votive_expect(registry: &str) -> Vec<(String, String)> {
    [
        "votive-api",
        "votive-frontend",
        "votive-proxy",
        "votive-worker",
    ]
    .iter()
    .map(|i| (i.to_string(), format!("{registry}/{i}")))
    .collect()
}

#[test]
fn votive_dry_run_builds_four_images_for_amd64_and_arm64_and_the_compose_artifact() {
    if !have_all(&["buildah", "skopeo", "go", "node"]) {
        return;
    }
    let repo = example_repo("votive", Some("v1.2.3"), |_| {});
    let images = votive_expect("docker.io/oxilith");
    let expect: Vec<Expect> = images
        .iter()
        .map(|(image, repository)| Expect {
            image,
            repository,
            platforms: &BOTH,
            tags: &["v1.2.3", "latest"],
        })
        .collect();
    let plan = dry_run(&repo, &[], &expect);
    assert_eq!(
        plan["compose"]["targets"][0]["references"],
        serde_json::json!([
            "docker.io/oxilith/votive-oci:v1.2.3",
            "docker.io/oxilith/votive-oci:latest"
        ])
    );
    // The artifact in the layout pins every service to the image just built.
    let layout = repo.path().join("target/stevedore/oci");
    let pins = compose_layer(
        &layout,
        "docker.io/oxilith/votive-oci:1.2.3",
        "image-digests.yaml",
    );
    for (image, repository) in &images {
        let digest = layout_digest(&layout, &format!("{image}:1.2.3"));
        assert!(
            pins.contains(&format!("image: {repository}:v1.2.3@{digest}")),
            "{image}: {pins}"
        );
    }
    // The front end's image holds the Node build's hashed assets and edge for its platform.
    let arm = layout_config(&layout, "votive-frontend:1.2.3", "linux/arm64");
    assert_eq!(arm["architecture"], "arm64");
    assert_eq!(arm["config"]["User"], "101:101");
    let built = std::fs::read_dir(repo.path().join("frontend/dist/assets"))
        .unwrap()
        .count();
    assert_eq!(built, 2, "app.<hash>.js and style.<hash>.css");
    let edge = std::fs::read(repo.path().join("dist/frontend/linux-arm64/edge")).unwrap();
    assert_eq!(
        u16::from_le_bytes([edge[18], edge[19]]),
        183,
        "an AArch64 ELF"
    );
}

#[test]
fn clearsplit_dry_run_builds_the_api_under_its_ghcr_repository() {
    if !have_all(&["buildah", "skopeo"]) {
        return;
    }
    let repo = example_repo("clearsplit", Some("v1.2.3"), |_| {});
    dry_run(
        &repo,
        &[],
        &[Expect {
            image: "api",
            repository: "ghcr.io/clearsplit-app/clearsplit/api",
            platforms: &BOTH,
            tags: &["v1.2.3", "1.2", "1", "latest"],
        }],
    );
    let layout = repo.path().join("target/stevedore/oci");
    let c = layout_config(&layout, "api:1.2.3", "linux/amd64");
    assert_eq!(c["config"]["User"], "10001:10001");
    let env = c["config"]["Env"].to_string();
    assert!(env.contains("CLEARSPLIT_VERSION=1.2.3"), "{env}");
}

#[test]
fn togather_builds_daemonless_with_go_and_from_its_dockerfile() {
    if !have_all(&["buildah", "skopeo", "go"]) {
        return;
    }
    let repo = example_repo("togather", Some("v1.2.3"), |_| {});
    let tags = |sha: &str| -> Vec<String> {
        ["1.2.3", "1.2", &format!("sha-{sha}"), "latest"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let head = repo.head();
    let short = &head[..7];
    let want = tags(short);
    let want: Vec<&str> = want.iter().map(String::as_str).collect();
    let expect = [Expect {
        image: "server",
        repository: "ghcr.io/togather-foundation/server",
        platforms: &BOTH,
        tags: &want,
    }];
    let plan = dry_run(&repo, &[], &expect);
    let layout = repo.path().join("target/stevedore/oci");
    for platform in BOTH {
        let c = layout_config(&layout, "server:1.2.3", platform);
        assert_eq!(c["config"]["User"], "65532:65532", "{platform}");
        assert_eq!(
            c["config"]["Healthcheck"]["Test"],
            serde_json::json!(["CMD", "/usr/local/bin/togather", "healthcheck"]),
            "{platform}"
        );
    }
    // The binary `go build` made carries the release's VERSION, GIT_COMMIT and BUILD_DATE.
    let args = &plan["images"][0]["build_args"];
    let (commit, build_date) = (
        args["GIT_COMMIT"].as_str().unwrap().to_string(),
        args["BUILD_DATE"].as_str().unwrap().to_string(),
    );
    assert!(head.starts_with(&commit), "{args}");
    let version = Command::new(repo.path().join("dist/linux-amd64/togather"))
        .arg("version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("togather 1.2.3 (commit {commit}, built {build_date})")
    );

    // The Dockerfile build: scripts/dist.sh cross-compiles, the Dockerfile copies.
    let dist = Command::new("sh")
        .arg("scripts/dist.sh")
        .current_dir(repo.path())
        .envs(repo.cache_env())
        .output()
        .unwrap();
    assert_ok(&dist);
    std::fs::remove_dir_all(repo.path().join("target")).unwrap();
    let config = ["--config", "images/release.dockerfile.toml"];
    let plan = json(&run(&repo, &with(&config, &["plan", "--json"]), &[]));
    assert_eq!(plan["images"][0]["builder"]["kind"], "dockerfile");
    let out = run(&repo, &with(&config, &["release", "--dry-run"]), &[]);
    assert_ok(&out);
    for platform in BOTH {
        let c = layout_config(&layout, "server:1.2.3", platform);
        assert_eq!(c["architecture"], platform.split('/').nth(1).unwrap());
        assert_eq!(c["config"]["User"], "65532:65532", "{platform}");
        assert_eq!(
            c["config"]["Healthcheck"]["Test"],
            serde_json::json!(["CMD", "/usr/local/bin/togather", "healthcheck"]),
            "{platform}"
        );
        let labels = &c["config"]["Labels"];
        assert_eq!(labels["io.togather.version"], "1.2.3", "{c}");
        assert_eq!(labels["io.togather.commit"], commit.as_str(), "{c}");
        assert_eq!(labels["io.togather.build-date"], build_date.as_str(), "{c}");
    }
}

#[test]
fn cartrita_dry_run_builds_non_root_images_and_the_production_compose_artifact() {
    if !have_all(&["buildah", "skopeo", "busybox"]) {
        return;
    }
    let repo = example_repo("cartrita", Some("v1.2.3"), |_| {});
    let images = [
        ("cartrita-backend", "ghcr.io/cartrita-ai/cartrita-backend"),
        ("cartrita-frontend", "ghcr.io/cartrita-ai/cartrita-frontend"),
    ];
    let expect: Vec<Expect> = images
        .iter()
        .map(|(image, repository)| Expect {
            image,
            repository,
            platforms: &AMD64,
            tags: &["1.2.3", "1.2", "latest"],
        })
        .collect();
    dry_run(&repo, &[], &expect);
    let layout = repo.path().join("target/stevedore/oci");
    for (image, repository) in images {
        let c = layout_config(&layout, &format!("{image}:1.2.3"), "linux/amd64");
        assert_eq!(c["config"]["User"], "10001:10001", "{image}");
        assert!(
            c["config"]["Healthcheck"]["Test"].is_array(),
            "{image}: {c}"
        );
        let digest = layout_digest(&layout, &format!("{image}:1.2.3"));
        let pins = compose_layer(
            &layout,
            "ghcr.io/cartrita-ai/cartrita-oci:1.2.3",
            "image-digests.yaml",
        );
        assert!(
            pins.contains(&format!("image: {repository}:1.2.3@{digest}")),
            "{image}: {pins}"
        );
    }
    let prod = compose_layer(
        &layout,
        "ghcr.io/cartrita-ai/cartrita-oci:1.2.3",
        "compose.prod.yaml",
    );
    assert!(prod.contains("read_only: true"), "{prod}");
}

#[test]
fn dtx_dry_run_builds_dev_variants_and_one_compose_artifact_per_environment() {
    if !have_all(&["buildah", "skopeo", "busybox", "go"]) {
        return;
    }
    let repo = example_repo("dtx", Some("v1.2.3"), |_| {});
    let short = repo.head()[..7].to_string();
    let prod_tags = [
        "1.2.3".to_string(),
        "1.2".into(),
        format!("sha-{short}"),
        "latest".into(),
    ];
    let dev_tags: Vec<String> = prod_tags.iter().map(|t| format!("{t}-dev")).collect();
    let prod: Vec<&str> = prod_tags.iter().map(String::as_str).collect();
    let dev: Vec<&str> = dev_tags.iter().map(String::as_str).collect();
    let names = ["backend", "frontend", "nginx"];
    let repos: Vec<(String, String, String)> = names
        .iter()
        .map(|n| {
            (
                n.to_string(),
                format!("{n}-dev"),
                format!("ghcr.io/dtx-team/dtx/{n}"),
            )
        })
        .collect();
    let dev_repos: Vec<String> = repos.iter().map(|(_, _, r)| format!("{r}-dev")).collect();
    let mut expect = Vec::new();
    for (i, (name, dev_name, repository)) in repos.iter().enumerate() {
        expect.push(Expect {
            image: name,
            repository,
            platforms: &AMD64,
            tags: &prod,
        });
        expect.push(Expect {
            image: dev_name,
            repository: &dev_repos[i],
            platforms: &AMD64,
            tags: &dev,
        });
    }
    dry_run(&repo, &[], &expect);
    let layout = repo.path().join("target/stevedore/oci");
    // Staging pins the -dev images, production the others.
    for (env, artifact, suffix) in [
        ("staging", "dtx-staging-oci", "-dev"),
        ("production", "dtx-oci", ""),
    ] {
        let pins = compose_layer(
            &layout,
            &format!("ghcr.io/dtx-team/dtx/{artifact}:1.2.3"),
            "image-digests.yaml",
        );
        for name in names {
            let digest = layout_digest(&layout, &format!("{name}{suffix}:1.2.3"));
            // The digest is the image's, the tag before it the image's own first tag (a -dev
            // image's tags are suffixed).
            let line = pins
                .lines()
                .find(|l| l.contains(&format!("ghcr.io/dtx-team/dtx/{name}{suffix}:")))
                .unwrap_or_else(|| panic!("{env}: {name}{suffix} is not pinned: {pins}"));
            assert!(
                line.ends_with(&format!("{name}{suffix}:1.2.3{suffix}@{digest}")),
                "{env} {name}: {pins}"
            );
        }
    }
    // The -dev target differs from prod: its own environment and extra asset.
    let dev_env =
        layout_config(&layout, "frontend-dev:1.2.3", "linux/amd64")["config"]["Env"].to_string();
    let prod_env =
        layout_config(&layout, "frontend:1.2.3", "linux/amd64")["config"]["Env"].to_string();
    assert!(dev_env.contains("DTX_ENV=development"), "{dev_env}");
    assert!(prod_env.contains("DTX_ENV=production"), "{prod_env}");
}

// ---------------------------------------------------------------------------------------
// Full releases against local registries.
// ---------------------------------------------------------------------------------------

/// `docker-compose ARGS` with the test CA, no docker credentials of the machine, its own cache.
fn compose(dir: &Path, ca: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new("docker-compose");
    cmd.args(args)
        .current_dir(dir)
        .env("SSL_CERT_FILE", ca)
        .env("DOCKER_CONFIG", dir.join("docker-config"))
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .env("HOME", dir)
        .env_remove("DOCKER_HOST");
    run_limited(cmd, Duration::from_secs(240))
}

#[test]
fn votive_releases_two_platform_images_and_a_compose_artifact_docker_compose_loads() {
    if !have_all(&[
        "docker-registry",
        "openssl",
        "skopeo",
        "buildah",
        "go",
        "node",
        "docker-compose",
    ]) {
        return;
    }
    // Docker Hub's place is taken by a TLS registry (compose wants HTTPS, even on loopback).
    let registry = Registry::tls();
    let ca = registry.ca_file.clone().unwrap();
    let prefix = format!("{}/oxilith", registry.host);
    let repo = example_repo("votive", Some("v1.2.3"), |root| {
        std::fs::create_dir_all(root.join("certs")).unwrap();
        std::fs::copy(&ca, root.join("certs/ca.pem")).unwrap();
        set_registries(
            &root.join("images/release.toml"),
            std::slice::from_ref(&prefix),
            "ca-files = [\"certs/ca.pem\"]",
        );
    });
    let out = repo.xtask(&["release"], &[]);
    assert_ok(&out);

    let mut digests = Vec::new();
    for (image, _) in votive_expect("docker.io/oxilith") {
        let repository = format!("oxilith/{image}");
        assert_eq!(registry.tags(&repository), ["latest", "v1.2.3"], "{image}");
        let raw = registry
            .inspect_raw(&format!("{repository}:v1.2.3"))
            .unwrap();
        let index: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        assert_eq!(index_platforms(&index), BOTH, "{image}");
        assert_eq!(
            registry.inspect_raw(&format!("{repository}:latest")),
            Some(raw.clone()),
            "{image}: latest is v1.2.3"
        );
        digests.push((image, xtask::oci::Digest::of(&raw).to_string()));
    }
    assert_eq!(registry.tags("oxilith/votive-oci"), ["latest", "v1.2.3"]);

    let dir = tempfile::tempdir().unwrap();
    let reference = format!("oci://{prefix}/votive-oci:v1.2.3");
    let config = compose(dir.path(), &ca, &["-f", &reference, "config"]);
    assert_ok(&config);
    let text = output_text(&config);
    for (image, digest) in &digests {
        assert!(
            text.contains(&format!("image: {prefix}/{image}:v1.2.3@{digest}")),
            "{image} is pinned: {text}"
        );
    }
    assert!(text.contains("VOTIVE_API: http://api:8000"), "{text}");
}

#[test]
fn clearsplit_releases_main_then_a_version_with_provenance_in_the_fallback_tag() {
    if !have_all(&["docker-registry", "skopeo", "buildah", "syft"]) {
        return;
    }
    let registry = Registry::plain();
    let prefix = format!("{}/clearsplit-app", registry.host);
    // First a push to main (no version tag), then the release tag on the same commit.
    let repo = example_repo("clearsplit", None, |root| {
        set_registries(
            &root.join("images/release.toml"),
            std::slice::from_ref(&prefix),
            "",
        );
    });
    let short = repo.head()[..7].to_string();
    let out = repo.xtask(&["release"], &[]);
    assert_ok(&out);
    let api = "clearsplit-app/clearsplit/api";
    let main_tag = format!("main-{short}");
    assert_eq!(registry.tags(api), ["latest".to_string(), main_tag.clone()]);

    repo.git(&["tag", "v1.2.3"]);
    let out = repo.xtask(&["release"], &[]);
    assert_ok(&out);
    let text = output_text(&out);
    let mut want = vec![
        "1".to_string(),
        "1.2".into(),
        "latest".into(),
        main_tag,
        "v1.2.3".into(),
    ];
    want.sort();
    assert_eq!(registry.tags(api), want);
    let raw = registry.inspect_raw(&format!("{api}:v1.2.3")).unwrap();
    let index: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(index_platforms(&index), BOTH);
    for floating in ["1", "1.2", "latest"] {
        assert_eq!(
            registry.inspect_raw(&format!("{api}:{floating}")),
            Some(raw.clone()),
            "{floating} moved to v1.2.3: {text}"
        );
    }

    // Provenance, found where cosign and oras look on a registry without the referrers API.
    let digest = xtask::oci::Digest::of(&raw);
    let fallback: serde_json::Value = serde_json::from_slice(
        &registry
            .inspect_raw(&format!("{api}:sha256-{}", digest.hex()))
            .expect("the sha256-<digest> fallback tag exists"),
    )
    .unwrap();
    let entries = fallback["manifests"].as_array().unwrap();
    // The statement of the in-toto attestation of `predicate_type` about the index.
    let attestation = |predicate_type: &str| -> serde_json::Value {
        let entry = entries
            .iter()
            .find(|e| {
                e["artifactType"] == "application/vnd.in-toto+json"
                    && e["annotations"]["in-toto.io/predicate-type"] == predicate_type
            })
            .unwrap_or_else(|| panic!("no {predicate_type} attestation: {fallback}"));
        let m: serde_json::Value = serde_json::from_slice(
            &registry
                .inspect_raw(&format!("{api}@{}", entry["digest"].as_str().unwrap()))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(m["subject"]["digest"], digest.to_string());
        let layer = m["layers"][0]["digest"].as_str().unwrap();
        let hex = layer.trim_start_matches("sha256:");
        let statement: serde_json::Value = serde_json::from_slice(
            &std::fs::read(
                registry
                    .storage()
                    .join("docker/registry/v2/blobs/sha256")
                    .join(&hex[..2])
                    .join(hex)
                    .join("data"),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(statement["predicateType"], predicate_type);
        assert_eq!(statement["subject"][0]["digest"]["sha256"], digest.hex());
        statement
    };
    let statement = attestation("https://slsa.dev/provenance/v1");
    let deps = statement["predicate"]["buildDefinition"]["resolvedDependencies"].to_string();
    assert!(deps.contains(&repo.head()), "{deps}");

    // The SBOM (syft's, `sbom = "syft"`): every package ClearSplit's requirements.txt pins.
    let sbom = attestation("https://spdx.dev/Document");
    assert_eq!(sbom["predicate"]["spdxVersion"], "SPDX-2.3");
    let purls: Vec<&str> = sbom["predicate"]["packages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["externalRefs"].as_array().into_iter().flatten())
        .filter(|r| r["referenceType"] == "purl")
        .map(|r| r["referenceLocator"].as_str().unwrap())
        .collect();
    let requirements =
        std::fs::read_to_string(repo.path().join("backend/requirements.txt")).unwrap();
    let pinned: Vec<String> = requirements
        .lines()
        .filter_map(|l| l.split('#').next()?.trim().split_once("=="))
        .map(|(name, version)| format!("pkg:pypi/{}@{}", name.trim(), version.trim()))
        .collect();
    assert!(!pinned.is_empty(), "requirements.txt pins nothing");
    for p in &pinned {
        assert!(
            purls.contains(&p.as_str()),
            "{p} not in the SBOM: {purls:?}"
        );
    }

    // stevedore's own check agrees.
    let out = repo.xtask(&["verify", &format!("{prefix}/clearsplit/api:v1.2.3")], &[]);
    assert_ok(&out);
}
