//! Dockerfile builder cases: command lines, contexts, platforms.

use super::*;
use std::collections::BTreeMap;

fn image() -> ImagePlan {
    let mut build_args = BTreeMap::new();
    build_args.insert("VERSION".to_string(), "1.2.3".to_string());
    let mut labels = BTreeMap::new();
    labels.insert(
        "org.opencontainers.image.version".to_string(),
        "1.2.3".to_string(),
    );
    ImagePlan {
        name: "web".into(),
        repository: "web".into(),
        platforms: vec![],
        builder: crate::plan::Builder::Dockerfile {
            dockerfile: "web/Dockerfile".into(),
            context: "web".into(),
            target: None,
            driver: BuilderKind::Auto,
            builder_name: None,
            cache: None,
        },
        build_args,
        secret_build_args: Default::default(),
        secrets_missing: Default::default(),
        user_labels: Default::default(),
        tags: None,
        labels,
        layout_name: "web:1.2.3".into(),
        targets: vec![],
    }
}

#[test]
fn command_lines() {
    let image = image();
    let platforms = [Platform::linux_amd64(), "linux/arm64".parse().unwrap()];
    let req = Request {
        image: &image,
        dockerfile: "/w/web/Dockerfile".into(),
        context: "/w/web".into(),
        target: Some("runtime"),
        platforms: &platforms,
        epoch: 1700000000,
        out: "/tmp/x".into(),
    };
    assert_eq!(
        buildx_args(&req, &[]).join(" "),
        "buildx build --platform linux/amd64,linux/arm64 --output type=oci,dest=/tmp/x/oci,tar=false \
         --metadata-file /tmp/x/metadata.json --provenance=false --build-arg VERSION=1.2.3 \
         --label org.opencontainers.image.version=1.2.3 -f /w/web/Dockerfile --target runtime /w/web"
    );
    assert_eq!(
        buildah_build_args(
            &req,
            &platforms[1],
            Path::new("/s"),
            "m",
            None,
            Some(Path::new("/i")),
            &[]
        )
        .join(" "),
        "--root /s/root --runroot /s/runroot --storage-driver vfs build --isolation chroot \
         --format docker --layers --platform linux/arm64 --manifest m \
         --timestamp 1700000000 --ignorefile /i \
         --build-arg VERSION=1.2.3 --label org.opencontainers.image.version=1.2.3 \
         -f /w/web/Dockerfile --target runtime /w/web"
    );
    assert_eq!(
        buildah_push_args(Path::new("/s"), "m", Path::new("/tmp/x/oci")).join(" "),
        "--root /s/root --runroot /s/runroot --storage-driver vfs manifest push --all --format v2s2 m oci:/tmp/x/oci:image"
    );
}

#[test]
fn a_secret_build_arg_is_a_build_secret_and_never_on_the_command_line() {
    let mut image = image();
    image
        .build_args
        .insert("NPM_TOKEN".into(), crate::plan::SECRET.into());
    image
        .secret_build_args
        .insert("NPM_TOKEN".into(), "npm_s3cr3t_value".into());
    let platforms = [Platform::linux_amd64()];
    let req = Request {
        image: &image,
        dockerfile: "/w/web/Dockerfile".into(),
        context: "/w/web".into(),
        target: None,
        platforms: &platforms,
        epoch: 1,
        out: "/tmp/x".into(),
    };
    let files = super::build_secrets::SecretFiles::write(&image.secret_build_args).unwrap();
    let secrets = files.args();
    let buildx = buildx_args(&req, &secrets).join(" ");
    let buildah = buildah_build_args(
        &req,
        &platforms[0],
        Path::new("/s"),
        "m",
        None,
        None,
        &secrets,
    )
    .join(" ");
    for args in [&buildx, &buildah] {
        assert!(!args.contains("npm_s3cr3t_value"), "{args}");
        assert!(
            !args.contains("NPM_TOKEN=") && !args.contains("<secret>"),
            "{args}"
        );
        assert!(args.contains("--build-arg VERSION=1.2.3"), "{args}");
        assert!(args.contains(&secrets.join(" ")), "{args}");
        assert!(args.contains("--secret id=NPM_TOKEN,src=/"), "{args}");
    }
}

#[test]
fn buildx_takes_the_builder_name_and_the_cache() {
    let mut image = image();
    image.targets = vec![crate::plan::PushTarget {
        registry: crate::oci::reference::RegistryPrefix::parse("ghcr.io/o").unwrap(),
        api_host: "ghcr.io".into(),
        repository: "o/web".into(),
        references: vec![],
    }];
    let platforms = [Platform::linux_amd64()];
    for (cache, from, to) in [
        ("gha", "type=gha,scope=web", "type=gha,mode=max,scope=web"),
        (
            "registry",
            "type=registry,ref=ghcr.io/o/web:buildcache",
            "type=registry,ref=ghcr.io/o/web:buildcache,mode=max",
        ),
        (
            "local",
            "type=local,src=/w/target/stevedore/buildx-cache/web",
            "type=local,dest=/w/target/stevedore/buildx-cache/web,mode=max",
        ),
    ] {
        if let crate::plan::Builder::Dockerfile {
            builder_name,
            cache: c,
            ..
        } = &mut image.builder
        {
            *builder_name = Some("remote-k8s".into());
            *c = Some(cache.into());
        }
        let req = Request {
            image: &image,
            dockerfile: "/w/web/Dockerfile".into(),
            context: "/w/web".into(),
            target: None,
            platforms: &platforms,
            epoch: 1,
            out: "/w/target/stevedore/tmp/web-1".into(),
        };
        let args = buildx_args(&req, &[]).join(" ");
        assert!(args.contains("--builder remote-k8s"), "{args}");
        assert!(
            args.contains(&format!("--cache-from {from} --cache-to {to}")),
            "{args}"
        );
    }
}

#[test]
fn stevedore_state_is_left_out_of_a_context_that_holds_it() {
    let d = tempfile::tempdir().unwrap();
    let state = d.path().join("target/stevedore");
    assert_eq!(
        ignore_lines(d.path(), &state).unwrap(),
        "target/stevedore\n"
    );
    std::fs::write(d.path().join(".dockerignore"), "node_modules").unwrap();
    assert_eq!(
        ignore_lines(d.path(), &state).unwrap(),
        "node_modules\ntarget/stevedore\n"
    );
    assert_eq!(ignore_lines(&d.path().join("web"), &state), None);
}
