use super::*;
use crate::init::workflow;

#[test]
fn a_canary_rule_of_a_default_branch_workflow_stays_off_the_version_releases_of_another() {
    let canary = r#"on:
  push:
    branches: [main]
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - id: meta
        uses: docker/metadata-action@v5
        with:
          images: ghcr.io/acme/app
          tags: |
            type=raw,value=canary
            type=sha,enable=false
      - uses: docker/build-push-action@v6
        with:
          push: true
          tags: ${{ steps.meta.outputs.tags }}
"#;
    let release = r#"on:
  push:
    tags: ["v*.*.*"]
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: docker/build-push-action@v6
        with:
          outputs: type=image,name=ghcr.io/acme/app,push-by-digest=true,push=true
"#;
    let found = |with_release: bool| Found {
        default_name: "app".into(),
        dockerfiles: vec!["Dockerfile".into()],
        origin_head: Some("main".into()),
        workflows: [("canary.yml", canary), ("release.yml", release)]
            .iter()
            .take(if with_release { 2 } else { 1 })
            .map(|(f, t)| workflow::read(&format!(".github/workflows/{f}"), t, None).unwrap())
            .collect(),
        ..Default::default()
    };
    let d = merge(found(true)).unwrap();
    assert_eq!(
        d.tags,
        vec![
            "type=raw,value=canary,enable={{is_default_branch}}",
            "type=sha,enable=false",
            "type=ref,event=tag",
        ]
    );
    assert!(d
        .notes
        .not_mapped
        .iter()
        .any(|n| n.what.contains("tag pushes (v*.*.*)")));
    // Without a workflow releasing on tags, nothing is added.
    let d = merge(found(false)).unwrap();
    assert_eq!(
        d.tags,
        vec![
            "type=raw,value=canary,enable={{is_default_branch}}",
            "type=sha,enable=false"
        ]
    );
}

#[test]
fn a_branch_step_and_a_version_release_step_of_one_workflow_give_both_rule_sets() {
    let wf = r#"on:
  push:
    branches: [master]
  release:
    types: [published]
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - id: meta_dev
        if: github.ref == 'refs/heads/master' && github.event_name != 'release'
        uses: docker/metadata-action@v5
        with:
          images: ghcr.io/acme/app
          tags: type=raw,value=dev
      - uses: docker/build-push-action@v6
        with:
          push: true
          tags: ${{ steps.meta_dev.outputs.tags }}
      - id: meta
        if: github.event_name == 'release'
        uses: docker/metadata-action@v5
        with:
          images: ghcr.io/acme/app
          tags: |
            type=semver,pattern={{version}},value=${{ github.event.release.tag_name }}
            type=semver,pattern={{major}}.{{minor}},value=${{ github.ref_name }}
            type=raw,value=latest
"#;
    let found = Found {
        default_name: "app".into(),
        dockerfiles: vec!["Dockerfile".into()],
        origin_head: Some("master".into()),
        workflows: vec![workflow::read(".github/workflows/containers.yml", wf, None).unwrap()],
        ..Default::default()
    };
    let d = merge(found).unwrap();
    assert_eq!(
        d.tags,
        vec![
            "type=raw,value=dev,enable={{is_default_branch}}",
            "type=semver,pattern={{version}}",
            "type=semver,pattern={{major}}.{{minor}}",
        ]
    );
    assert_eq!(d.latest.as_deref(), Some("auto"));
    assert!(!d
        .notes
        .not_mapped
        .iter()
        .any(|n| n.what == "another metadata-action step"));
}
