use super::*;

/// Where a build pushes: `registry/namespace/repository` of each name.
fn pushed_names(p: &Push) -> Vec<String> {
    p.names
        .iter()
        .map(|(_, n)| format!("{}/{}", n.prefix, n.repository))
        .collect()
}

/// A workflow read in a checkout whose `origin` names no GitHub repository.
fn read(file: &str, text: &str) -> Workflow {
    super::read(file, text, None).unwrap()
}

const RELEASE: &str = r#"name: release
on:
  push:
    tags: ['v*']
jobs:
  docker:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - name: Docker meta
        id: meta
        uses: docker/metadata-action@v5
        with:
          images: |
            ghcr.io/acme/app
            name=docker.io/acme/app,enable=true
          tags: |
            # branches
            type=ref,event=branch
            type=semver,pattern={{version}}
            type=raw,value=latest,enable=${{ github.ref == 'refs/heads/main' }}
            edge-build
          flavor: |
            latest=false
            prefix=v,onlatest=true
      - uses: docker/build-push-action@v6
        with:
          platforms: linux/amd64,linux/arm64
          tags: ${{ steps.meta.outputs.tags }}
"#;

#[test]
fn metadata_action_inputs_are_read_with_their_lines() {
    let w = read(".github/workflows/release.yml", RELEASE);
    assert_eq!(w.metas.len(), 1);
    let m = &w.metas[0];
    assert_eq!(m.from.line, 10);
    let images: Vec<(usize, String)> = m
        .images
        .iter()
        .map(|(s, n)| (s.line, format!("{}/{}", n.prefix, n.repository)))
        .collect();
    assert_eq!(
        images,
        [
            (15, "ghcr.io/acme/app".to_string()),
            (16, "docker.io/acme/app".to_string())
        ]
    );
    let tags: Vec<(usize, &str)> = m.tags.iter().map(|(s, t)| (s.line, t.as_str())).collect();
    assert_eq!(
        tags,
        [
            (19, "type=ref,event=branch"),
            (20, "type=semver,pattern={{version}}"),
            (22, "type=raw,value=edge-build"),
        ]
    );
    let expr = &w.notes.not_mapped[0];
    assert_eq!(expr.from.line, 21);
    assert!(
        expr.why.contains("only known when the workflow runs"),
        "{expr:?}"
    );
    assert_eq!(
        m.latest.as_ref().map(|(s, l)| (s.line, l.as_str())),
        Some((24, "false"))
    );
    assert_eq!(
        m.flavor.as_ref().map(|(_, f)| f.clone()),
        Some(Flavor {
            prefix: "v".into(),
            suffix: String::new(),
            onlatest: true
        })
    );
    assert_eq!(
        w.platforms,
        [(
            Source::new(".github/workflows/release.yml", 28),
            vec!["linux/amd64".to_string(), "linux/arm64".to_string()]
        )]
    );
}

#[test]
fn shorthands_are_spelled_out() {
    let cases = [
        ("foo", "type=raw,value=foo"),
        ("type=raw,foo", "type=raw,value=foo"),
        ("type=raw,foo,priority=1", "type=raw,value=foo,priority=1"),
        ("type=sha", "type=sha"),
        ("type=ref,event=pr", "type=ref,event=pr"),
    ];
    for (line, want) in cases {
        assert_eq!(spell_out(line), want, "{line}");
    }
}

#[test]
fn inputs_that_cannot_be_mapped_are_reported() {
    let step = |with: &str| {
        format!(
            "jobs:\n  j:\n    steps:\n      - uses: docker/metadata-action@v5\n        with:\n{with}"
        )
    };
    let cases: &[(&str, &str, &str)] = &[
        (
            "          images: ghcr.io/${{ github.repository }}\n",
            "images \"ghcr.io/${{ github.repository }}\"",
            "release.registries",
        ),
        (
            "          tags: type=semver,pattern={{version}},unknown=1\n",
            "tags \"type=semver,pattern={{version}},unknown=1\"",
            "unknown attribute",
        ),
        (
            "          flavor: latest=sometimes\n",
            "flavor \"latest=sometimes\"",
            "latest=auto|true|false",
        ),
        (
            "          labels: |\n            a=b\n",
            "metadata-action labels",
            "images.<name>.labels",
        ),
        (
            "          flavor: |\n            prefix=a,onlatest=true\n            suffix=b\n",
            "flavor onlatest",
            "applies to both",
        ),
    ];
    for (with, what, why) in cases {
        let w = read("w.yml", &step(with));
        assert!(
            w.notes
                .not_mapped
                .iter()
                .any(|n| n.what == *what && n.why.contains(why)),
            "{what}: {:#?}",
            w.notes.not_mapped
        );
    }
}

#[test]
fn build_push_platforms_as_a_list_and_expressions() {
    let w = read(
        "w.yml",
        "jobs:\n  j:\n    steps:\n      - uses: docker/build-push-action@v6\n        with:\n          push: true\n          platforms: |\n            linux/amd64\n            linux/arm/v7\n      - uses: docker/build-push-action@v6\n        with:\n          push: true\n          platforms: ${{ matrix.platform }}\n",
    );
    assert_eq!(w.platforms.len(), 1);
    assert_eq!(w.platforms[0].1, ["linux/amd64", "linux/arm/v7"]);
    assert_eq!(w.notes.not_mapped.len(), 1, "{:?}", w.notes.not_mapped);
}

#[test]
fn workflows_without_docker_steps_give_nothing() {
    let w = read(
        "w.yml",
        "on: push\njobs:\n  test:\n    steps:\n      - run: make\n",
    );
    assert_eq!(w, Workflow::default());
}

#[test]
fn repository_expressions_take_the_origin_remotes_github_repository() {
    assert_eq!(
        GitHub::from_source_url("https://github.com/Acme/App"),
        Some(GitHub {
            owner: "Acme".into(),
            repo: "App".into()
        })
    );
    assert_eq!(GitHub::from_source_url("https://gitlab.com/a/b"), None);
    assert_eq!(GitHub::from_source_url("https://github.com/a"), None);
    let gh = GitHub {
        owner: "Acme".into(),
        repo: "App".into(),
    };
    let text = "jobs:\n  j:\n    steps:\n      - uses: docker/metadata-action@v5\n        with:\n          images: |\n            ghcr.io/${{ github.repository }}\n            docker.io/${{github.repository_owner}}/${{ github.event.repository.name }}-web\n            ghcr.io/${{ github.actor }}/x\n";
    let w = super::read("w.yml", text, Some(&gh)).unwrap();
    let names: Vec<String> = w.metas[0]
        .images
        .iter()
        .map(|(_, n)| format!("{n:?}"))
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names[0].contains("acme") && names[0].contains("app"),
        "{names:?}"
    );
    assert!(names[1].contains("app-web"), "{names:?}");
    // Any other expression stays unknown; without a GitHub origin, all of them do.
    assert_eq!(w.notes.not_mapped.len(), 1, "{:?}", w.notes.not_mapped);
    assert!(w.notes.not_mapped[0].what.contains("github.actor"));
    let w = read("w.yml", text);
    assert!(w.metas[0].images.is_empty());
    assert_eq!(w.notes.not_mapped.len(), 3);
}

/// khoj's shape: env at workflow level, a native-runner matrix, build-push-action without
/// `platforms`, a tag computed at run time; and a push: false test build.
const MATRIX_PUSH: &str = r#"on:
  push:
    branches: [master, 'release/*']
    tags: ['*']
env:
  REGISTRY: ghcr.io
  IMAGE: ${{ env.REGISTRY }}/acme/app
jobs:
  prepare:
    runs-on: ubuntu-latest
    outputs:
      slug: ${{ env.IMAGE }}
    steps:
      - run: true
  build:
    strategy:
      matrix:
        include:
          - platform: linux/amd64
            runner: ubuntu-latest
          - platform: linux/arm64
            runner: ubuntu-24.04-arm
    runs-on: ${{ matrix.runner }}
    steps:
      - name: Build
        uses: depot/build-push-action@v1
        env:
          SUFFIX: -cloud
        with:
          context: .
          file: docker/Dockerfile
          push: true
          tags: ${{ env.IMAGE }}${{ env.SUFFIX }}:${{ github.ref_name }}-${{ matrix.platform == 'linux/amd64' && 'amd64' || 'arm64' }}
          build-args: |
            COMMIT=${{ github.sha }}
            VERSION=${{ steps.meta.outputs.version }}
            TOKEN=${{ secrets.X }}
          cache-from: type=registry,ref=ghcr.io/acme/app:cache
      - name: Test image
        uses: docker/build-push-action@v6
        with:
          push: false
          tags: app:test
      - name: Merge
        run: docker buildx imagetools create -t x y
  bin:
    uses: docker/github-builder/.github/workflows/bake.yml@v1
    needs: prepare
    with:
      target: image-cross
      output: image
      sign: true
      meta-images: ${{ needs.prepare.outputs.slug }}
      meta-tags: |
        type=ref,event=branch
"#;

#[test]
fn workflows_resolve_their_own_env_matrix_and_job_outputs() {
    let w = read("w.yml", MATRIX_PUSH);
    assert_eq!(w.branches, ["master"]);
    assert_eq!(w.tag_patterns, ["*"]);
    assert_eq!(w.pushes.len(), 1, "the push: false build is not a release");
    let p = &w.pushes[0];
    assert_eq!(
        (p.dockerfile.as_str(), p.context.as_str()),
        ("docker/Dockerfile", ".")
    );
    let names = pushed_names(p);
    assert_eq!(names, ["ghcr.io/acme/app-cloud"]);
    assert_eq!(p.platforms, ["linux/amd64", "linux/arm64"]);
    assert_eq!(p.build_args["COMMIT"], "{{sha}}");
    assert_eq!(p.build_args["VERSION"], "{{version}}");
    assert!(!p.build_args.contains_key("TOKEN"));
    assert_eq!(p.cache.as_deref(), Some("registry"));
    // The github-builder job: metadata-action's inputs under meta-*, the bake target it builds.
    assert_eq!(w.metas.len(), 1);
    assert_eq!(w.metas[0].images[0].1.repository, "app");
    assert_eq!(w.metas[0].tags[0].1, "type=ref,event=branch");
    assert_eq!(w.bake_runs.len(), 1);
    assert_eq!(w.bake_runs[0].targets, ["image-cross"]);
    assert!(w.bake_runs[0].pushes);
    for (what, why) in [
        (
            "step \"Build\" build arg TOKEN",
            "only known when the workflow runs",
        ),
        (
            "step \"Build\" tags",
            "its tag is computed when the workflow runs",
        ),
        ("step \"Test image\"", "a test build"),
        (
            "step \"Merge\" (imagetools create)",
            "one multi-platform index",
        ),
        ("docker/github-builder sign", "signing"),
    ] {
        assert!(
            w.notes
                .not_mapped
                .iter()
                .any(|n| n.what.starts_with(what) && n.why.contains(why)),
            "{what}: {:#?}",
            w.notes.not_mapped
        );
    }
}

#[test]
fn github_builders_build_workflow_is_a_build_push_action() {
    let w = read(
        "w.yml",
        "jobs:\n  build:\n    uses: docker/github-builder/.github/workflows/build.yml@v1\n    with:\n      output: image\n      context: .\n      file: docker/Dockerfile\n      platforms: linux/amd64,linux/arm64\n      build-args: |\n        REV=${{ github.sha }}\n      meta-images: ghcr.io/acme/app\n      meta-tags: type=ref,event=tag\n",
    );
    assert_eq!(w.pushes.len(), 1);
    assert_eq!(w.pushes[0].dockerfile, "docker/Dockerfile");
    assert_eq!(w.pushes[0].platforms, ["linux/amd64", "linux/arm64"]);
    assert_eq!(w.pushes[0].build_args["REV"], "{{sha}}");
    assert!(w.bake_runs.is_empty());
    assert_eq!(w.metas[0].tags[0].1, "type=ref,event=tag");
}

#[test]
fn a_build_tagged_by_metadata_action_is_marked_so() {
    let w = read(
        "w.yml",
        "jobs:\n  j:\n    steps:\n      - id: meta\n        uses: docker/metadata-action@v5\n        with:\n          images: ghcr.io/acme/api\n      - uses: docker/build-push-action@v6\n        with:\n          file: api/Dockerfile\n          push: true\n          tags: ${{ steps.meta.outputs.tags }}\n",
    );
    assert!(w.pushes[0].meta_tags);
    assert!(w.pushes[0].names.is_empty());
    assert!(
        w.notes.not_mapped.iter().all(|n| !n.what.contains("tags")),
        "{:?}",
        w.notes.not_mapped
    );
}

#[test]
fn release_scripts_are_told_from_other_run_lines() {
    let cases: &[(&str, Option<&str>, Option<&str>)] = &[
        // line, release script, script file
        ("make container.push", Some("make container.push"), None),
        (
            "node extra/release/build-images.mjs",
            Some("node extra/release/build-images.mjs"),
            Some("extra/release/build-images.mjs"),
        ),
        (
            "  npm run build-docker  ",
            Some("npm run build-docker"),
            None,
        ),
        (
            "bash -e ./scripts/push-image.sh v1",
            Some("bash -e ./scripts/push-image.sh v1"),
            Some("scripts/push-image.sh"),
        ),
        (
            "./hack/release-images",
            Some("./hack/release-images"),
            Some("hack/release-images"),
        ),
        (
            "deno run -A tools/publish_image.ts",
            Some("deno run -A tools/publish_image.ts"),
            Some("tools/publish_image.ts"),
        ),
        (
            "node ../../outside/build-image.mjs",
            Some("node ../../outside/build-image.mjs"),
            None,
        ),
        ("npm run build", None, None),
        ("make test-container", None, None),
        ("docker build -t x .", None, None),
        ("echo build the docker image", None, None),
    ];
    for (line, script, file) in cases {
        let got = steps::release_script(line);
        assert_eq!(got.as_deref(), *script, "{line}");
        if let Some(s) = got {
            assert_eq!(steps::script_file(&s).as_deref(), *file, "{line}");
        }
    }
}

#[test]
fn matrix_values_that_are_architectures_are_platforms() {
    let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        steps::arch_platforms(&v(&["amd64", "arm64", "armv7"])),
        Some(v(&["linux/amd64", "linux/arm64", "linux/arm/v7"]))
    );
    assert_eq!(
        steps::arch_platforms(&v(&["x86_64", "aarch64", "linux/s390x", "amd64"])),
        Some(v(&["linux/amd64", "linux/arm64", "linux/s390x"]))
    );
    assert_eq!(steps::arch_platforms(&v(&["amd64", "ubuntu-latest"])), None);
    assert_eq!(steps::arch_platforms(&v(&["linux/bogus/v9/x"])), None);
    assert_eq!(steps::arch_platforms(&[]), None);
    assert_eq!(
        steps::matrix_refs("X=${{ matrix.arch }} ${{matrix.os}} ${{ matrix.arch }} ${{ env.A }} ${{ matrix.a || 'b' }}"),
        vec!["arch", "os"]
    );
}

#[test]
fn a_job_releasing_by_a_script_gives_its_logins_matrix_platforms_and_script_files() {
    let w = read(
        ".github/workflows/container.yml",
        r#"on: push
jobs:
  build:
    runs-on: ${{ matrix.runner }}
    strategy:
      matrix:
        include:
          - runner: ubuntu-24.04
            arch: amd64
          - runner: ubuntu-24.04-arm
            arch: arm64
    steps:
      - uses: docker/login-action@v3
        with:
          registry: ghcr.io
      - name: Build
        env:
          OVERRIDE_ARCH: "${{ matrix.arch }}"
        run: |
          make container.build
          node tools/push-images.mjs
  lint:
    runs-on: ubuntu-latest
    steps:
      - uses: docker/login-action@v3
        with:
          registry: quay.io
      - run: make lint
"#,
    );
    let at = Source::new(".github/workflows/container.yml", 16);
    assert_eq!(
        w.script_platforms,
        vec![(
            at.clone(),
            "matrix.arch".to_string(),
            vec!["linux/amd64".to_string(), "linux/arm64".to_string()]
        )]
    );
    assert_eq!(w.scripts, vec![(at, "tools/push-images.mjs".to_string())]);
    assert_eq!(
        w.script_logins,
        vec![(
            Source::new(".github/workflows/container.yml", 13),
            "ghcr.io".to_string()
        )]
    );
    assert_eq!(w.logins.len(), 2);
    assert!(w
        .notes
        .not_mapped
        .iter()
        .any(|n| n.what.contains("(make container.build)")));
}

#[test]
fn a_build_pushes_through_push_or_through_an_output_that_pushes() {
    let cases: &[(&str, bool)] = &[
        ("push: true", true),
        ("push: ${{ github.event_name != 'pull_request' }}", true),
        ("push: false", false),
        ("load: true", false),
        // Docker's multi-platform matrix recipe.
        (
            "outputs: type=image,name=ghcr.io/a/b,push-by-digest=true,name-canonical=true,push=true",
            true,
        ),
        ("outputs: type=registry", true),
        ("outputs: type=image,push=false", false),
        ("outputs: type=docker,dest=/tmp/x.tar", false),
        ("outputs: type=local,dest=out/push=true", false),
    ];
    for (with, pushes) in cases {
        let doc = crate::yaml_positions::parse(with).unwrap();
        assert_eq!(steps::build_pushes(doc.first()), *pushes, "{with}");
    }
}

#[test]
fn a_matrix_of_objects_gives_each_field() {
    let w = read(
        ".github/workflows/release.yml",
        r#"on: push
jobs:
  build:
    strategy:
      matrix:
        platform: [
          { platform: linux/amd64, cache: amd },
          { platform: linux/arm64, cache: arm },
        ]
    runs-on: ubuntu-latest
    steps:
      - uses: docker/build-push-action@v6
        with:
          file: ./prod.Dockerfile
          target: backend
          platforms: ${{ matrix.platform.platform }}
          outputs: type=image,push-by-digest=true,push=true
"#,
    );
    assert_eq!(w.pushes.len(), 1, "{:?}", w.notes);
    assert_eq!(w.pushes[0].dockerfile, "prod.Dockerfile");
    assert_eq!(
        w.platforms[0].1,
        vec!["linux/amd64".to_string(), "linux/arm64".to_string()]
    );
}

#[test]
fn image_names_a_run_step_computes_are_its_outputs_names() {
    let text = r#"
GHCR_TAGS="ghcr.io/umami-software/umami:$VERSION"
GHCR_TAGS="$GHCR_TAGS,ghcr.io/umami-software/umami:${MAJOR}.${MINOR}"
DOCKER_TAGS="umamisoftware/umami:$VERSION"
echo "see https://github.com/umami-software/umami:main"
cp ./dist/a:b /tmp/x:y
TAG=registry.local:5000/team/api:latest
X="ghcr.io/${{ github.repository_owner }}\u{1}/app:$V"
echo "docker_tags=$DOCKER_TAGS" >> $GITHUB_OUTPUT
"#;
    assert_eq!(
        steps::image_names_in(text),
        vec![
            "ghcr.io/umami-software/umami",
            "umamisoftware/umami",
            "registry.local:5000/team/api"
        ]
    );

    let w = super::read(
        ".github/workflows/cd.yml",
        r#"on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - id: compute
        run: |
          GHCR_TAGS="ghcr.io/${{ github.repository }}:$VERSION"
          DOCKER_TAGS="umamisoftware/umami:$VERSION"
          echo "ghcr_tags=$GHCR_TAGS" >> $GITHUB_OUTPUT
      - uses: docker/build-push-action@v6
        with:
          push: true
          tags: ${{ steps.compute.outputs.ghcr_tags }}
"#,
        Some(&GitHub {
            owner: "umami-software".into(),
            repo: "umami".into(),
        }),
    )
    .unwrap();
    let names = pushed_names(&w.pushes[0]);
    assert_eq!(
        names,
        vec![
            "ghcr.io/umami-software/umami",
            "docker.io/umamisoftware/umami"
        ]
    );
    assert!(w
        .notes
        .not_mapped
        .iter()
        .any(|n| n.why.contains("step \"compute\" computes the tags")));
}

#[test]
fn a_build_push_look_alike_with_its_own_input_names_gives_a_build() {
    let w = read(
        ".github/workflows/build-branch.yml",
        r#"on: push
jobs:
  web:
    runs-on: ubuntu-latest
    steps:
      - name: Web Build and Push
        uses: makeplane/actions/build-push@v1.4.0
        with:
          docker-image-owner: makeplane
          docker-image-name: ${{ needs.setup.outputs.dh_img_web }}
          build-context: .
          dockerfile-path: ./apps/web/Dockerfile.web
          buildx-platforms: linux/amd64,linux/arm64
  notify:
    uses: acme/shared/.github/workflows/build-push-image.yaml@v1
  local:
    uses: ./.github/workflows/docker-publish.yml
  lint:
    runs-on: ubuntu-latest
    steps:
      - uses: acme/build-and-push-docs@v1
      - uses: acme/docker-build-push@v1
        with:
          dockerfile: Dockerfile
          push: false
"#,
    );
    assert_eq!(w.pushes.len(), 1, "{:?}", w.notes);
    let p = &w.pushes[0];
    assert_eq!(p.dockerfile, "apps/web/Dockerfile.web");
    assert_eq!(p.context, ".");
    assert_eq!(p.platforms, vec!["linux/amd64", "linux/arm64"]);
    let not_mapped: Vec<&str> = w.notes.not_mapped.iter().map(|n| n.what.as_str()).collect();
    assert!(not_mapped
        .iter()
        .any(|n| n.starts_with("reusable workflow acme/shared/")));
    assert!(!not_mapped.iter().any(|n| n.contains("docker-publish.yml")));
    // A docs action is not an image's; a look-alike that does not push is not a release,
    // and is named.
    assert!(!not_mapped.iter().any(|n| n.contains("build-and-push-docs")));
    assert!(not_mapped
        .iter()
        .any(|n| n.contains("acme/docker-build-push")));
}

#[test]
fn literal_step_outputs_resolve_through_job_outputs() {
    let w = read(
        ".github/workflows/build-branch.yml",
        r#"on: push
jobs:
  setup:
    runs-on: ubuntu-latest
    outputs:
      platforms: ${{ steps.vars.outputs.BUILDX_PLATFORMS }}
      img_web: ${{ steps.vars.outputs.DH_IMG_WEB }}
    steps:
      - id: vars
        run: |
          if [ "$ARM" = true ]; then
            echo "BUILDX_PLATFORMS=linux/amd64,linux/arm64" >> $GITHUB_OUTPUT
          else
            echo "BUILDX_PLATFORMS=linux/amd64" >> $GITHUB_OUTPUT
          fi
          echo "DH_IMG_WEB=plane-frontend" >> "$GITHUB_OUTPUT"
          echo "BRANCH=$BR_NAME" >> $GITHUB_OUTPUT
          echo 'QUOTED=x' >> $GITHUB_OUTPUT
  web:
    needs: [setup]
    runs-on: ubuntu-latest
    steps:
      - uses: makeplane/actions/build-push@v1
        with:
          docker-image-owner: makeplane
          docker-image-name: ${{ needs.setup.outputs.img_web }}
          dockerfile-path: ./apps/web/Dockerfile.web
          buildx-platforms: ${{ needs.setup.outputs.platforms }}
"#,
    );
    assert_eq!(w.pushes.len(), 1, "{:?}", w.notes);
    let p = &w.pushes[0];
    let names = pushed_names(p);
    assert_eq!(names, vec!["docker.io/makeplane/plane-frontend"]);
    assert_eq!(p.platforms, vec!["linux/amd64", "linux/arm64"]);

    let mut scope = expr::Scope::default();
    scope.add_step_outputs(
        "v",
        "echo \"A=1\" >> $GITHUB_OUTPUT\necho B=$X >> $GITHUB_OUTPUT\necho 'C=c' >> \"$GITHUB_OUTPUT\"\necho D=d\n",
    );
    assert_eq!(
        scope.expand("${{ steps.v.outputs.A }}"),
        Ok(vec!["1".to_string()])
    );
    assert!(scope.expand("${{ steps.v.outputs.B }}").is_err());
    assert_eq!(
        scope.expand("${{ steps.v.outputs.C }}"),
        Ok(vec!["c".to_string()])
    );
    assert!(scope.expand("${{ steps.v.outputs.D }}").is_err());
}
