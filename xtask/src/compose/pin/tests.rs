use super::*;
use crate::compose::testutil::Workspace;

const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn release() -> Vec<ReleaseImage> {
    vec![ReleaseImage {
        repository: "oxilith/votive-backend".into(),
        pinned: format!("127.0.0.1:5000/oxilith/votive-backend:v1.2.3@{D1}"),
    }]
}

fn pin(compose: &str, resolve_external: bool) -> (ImagePins, Vec<String>) {
    let ws = Workspace::new(&[("compose.yaml", compose)]);
    let project = ws.load(&["compose.yaml"]).unwrap();
    let mut asked = vec![];
    let mut resolver = |r: &str| -> Result<String, String> {
        asked.push(r.to_string());
        Ok(D2.to_string())
    };
    let pins = pin_images(&project, &release(), resolve_external, &mut resolver).unwrap();
    (pins, asked)
}

#[test]
fn service_images_are_pinned_like_compose_resolve_image_digests() {
    let pinned_release = format!("127.0.0.1:5000/oxilith/votive-backend:v1.2.3@{D1}");
    let cases = [
        (
            "oxilith/votive-backend:${TAG:-latest}",
            pinned_release.clone(),
        ),
        ("oxilith/votive-backend:${TAG}", pinned_release.clone()),
        ("ghcr.io/oxilith/votive-backend", pinned_release.clone()),
        (
            "registry.example.com:5000/team/oxilith/votive-backend:v1",
            pinned_release.clone(),
        ),
        ("postgres:16", format!("docker.io/library/postgres:16@{D2}")),
        (
            "postgres",
            format!("docker.io/library/postgres:latest@{D2}"),
        ),
        (
            "index.docker.io/library/redis:7",
            format!("docker.io/library/redis:7@{D2}"),
        ),
        (
            "${REDIS_IMAGE:-redis:7}",
            format!("docker.io/library/redis:7@{D2}"),
        ),
        ("ghcr.io/other/tool:2", format!("ghcr.io/other/tool:2@{D2}")),
        (
            &format!("postgres:16@{D1}"),
            format!("docker.io/library/postgres@{D1}"),
        ),
        (
            "localhost:5000/app",
            format!("localhost:5000/app:latest@{D2}"),
        ),
    ];
    for (image, want) in cases {
        let (pins, _) = pin(&format!("services:\n  s:\n    image: {image}\n"), true);
        assert_eq!(pins.services, [("s".to_string(), want)], "{image}");
        assert!(pins.unpinned.is_empty(), "{image}");
    }
}

#[test]
fn images_that_cannot_be_pinned_are_listed_or_left_as_written() {
    let (pins, asked) = pin(
        "services:\n  a:\n    image: ${IMAGE}\n  b:\n    image: postgres:${PG}\n  c:\n    image: redis:7\n",
        true,
    );
    let unpinned: Vec<&str> = pins.unpinned.iter().map(|u| u.service.as_str()).collect();
    assert_eq!(unpinned, ["a", "b"]);
    assert_eq!(asked, ["docker.io/library/redis:7"]);

    let (pins, asked) = pin(
        "services:\n  c:\n    image: redis:7\n  d:\n    image: oxilith/votive-backend\n",
        false,
    );
    assert!(asked.is_empty());
    assert_eq!(
        pins.services
            .iter()
            .map(|(s, _)| s.as_str())
            .collect::<Vec<_>>(),
        ["d"]
    );
}

#[test]
fn each_external_image_is_resolved_once() {
    let (_, asked) = pin(
        "services:\n  a:\n    image: redis:7\n  b:\n    image: docker.io/library/redis:7\n",
        true,
    );
    assert_eq!(asked, ["docker.io/library/redis:7"]);
}

#[test]
fn a_resolver_error_names_the_service_and_image() {
    let ws = Workspace::new(&[("compose.yaml", "services:\n  db:\n    image: postgres:16\n")]);
    let project = ws.load(&["compose.yaml"]).unwrap();
    let mut failing = |_: &str| -> Result<String, String> { Err("manifest unknown".into()) };
    let err = pin_images(&project, &[], true, &mut failing).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Image);
    assert!(
        err.problem.reason.contains("services.db.image")
            && err.problem.reason.contains("manifest unknown"),
        "{err}"
    );
}

#[test]
fn the_override_is_written_as_compose_marshals_it() {
    let pins = ImagePins {
        services: vec![
            (
                "backend".into(),
                format!("ghcr.io/oxilith/votive-backend:v1@{D1}"),
            ),
            ("db".into(), format!("docker.io/library/postgres:16@{D2}")),
            ("true".into(), "docker.io/library/x:1".into()),
        ],
        unpinned: vec![],
    };
    assert_eq!(
        String::from_utf8(pins.to_yaml()).unwrap(),
        format!(
            "services:\n  backend:\n    image: ghcr.io/oxilith/votive-backend:v1@{D1}\n  db:\n    image: docker.io/library/postgres:16@{D2}\n  \"true\":\n    image: docker.io/library/x:1\n"
        )
    );
    assert_eq!(ImagePins::default().to_yaml(), b"services: {}\n");
}

#[test]
fn references_are_normalised_and_bad_ones_refused() {
    let cases = [
        ("nginx", Ok(("docker.io", "library/nginx", None))),
        ("org/app:1", Ok(("docker.io", "org/app", Some("1")))),
        ("quay.io/org/app:1", Ok(("quay.io", "org/app", Some("1")))),
        ("localhost/app", Ok(("localhost", "app", None))),
        ("Org/App", Err(())),
        ("app:bad tag", Err(())),
        ("app@sha256:abc", Err(())),
    ];
    for (s, want) in cases {
        let got = ImageRef::parse(s);
        match want {
            Ok((domain, path, tag)) => {
                let got = got.unwrap();
                assert_eq!(
                    (got.domain.as_str(), got.path.as_str(), got.tag.as_deref()),
                    (domain, path, tag),
                    "{s}"
                );
            }
            Err(()) => assert!(got.is_err(), "{s}"),
        }
    }
}

#[test]
fn repositories_match_with_registry_prefixes_and_docker_hub_names() {
    let cases = [
        ("ghcr.io/oxilith/app", "oxilith/app", true),
        ("reg.example/team/oxilith/app", "oxilith/app", true),
        ("oxilith/app-extra", "oxilith/app", false),
        ("nginx", "nginx", true),
        ("nginx", "library/nginx", true),
        ("ghcr.io/other/app", "oxilith/app", false),
    ];
    for (image, repo, want) in cases {
        assert_eq!(
            ImageRef::parse(image).unwrap().is_repository(repo),
            want,
            "{image} {repo}"
        );
    }
}

#[test]
fn a_service_of_a_shared_repository_is_pinned_to_the_variant_its_tag_names() {
    let main = format!("127.0.0.1:5000/vaultwarden/server:1.37.2@{D1}");
    let alpine = format!("127.0.0.1:5000/vaultwarden/server:1.37.2-alpine@{D2}");
    let release = vec![
        ReleaseImage {
            repository: "vaultwarden/server".into(),
            pinned: alpine.clone(),
        },
        ReleaseImage {
            repository: "vaultwarden/server".into(),
            pinned: main.clone(),
        },
    ];
    let cases = [
        ("vaultwarden/server:latest", &main),
        ("vaultwarden/server", &main),
        ("vaultwarden/server:1.37.2", &main),
        ("vaultwarden/server:latest-alpine", &alpine),
        ("vaultwarden/server:alpine", &alpine),
        ("vaultwarden/server:1.37.2-alpine", &alpine),
        ("vaultwarden/server:${TAG:-latest-alpine}", &alpine),
    ];
    for (image, want) in cases {
        let ws = Workspace::new(&[(
            "compose.yaml",
            &format!("services:\n  vw:\n    image: {image}\n"),
        )]);
        let project = ws.load(&["compose.yaml"]).unwrap();
        let mut resolver = |_: &str| -> Result<String, String> { Err("not asked".into()) };
        let pins = pin_images(&project, &release, true, &mut resolver).unwrap();
        let want = ImageRef::parse(want).unwrap().docker_ref();
        assert_eq!(pins.services, vec![("vw".to_string(), want)], "{image}");
    }
}
