use super::*;
use crate::compose::testutil::{spec, Workspace};
use FindingKind::*;

const SECRET_TOKEN: &str = "ghp_0123456789abcdefghijABCDEFGHIJ012345";

fn findings(
    compose: &str,
    extra: &[(&str, &str)],
    tweak: fn(&mut ComposeSpec),
    yes: bool,
) -> Vec<(FindingKind, String, bool)> {
    let mut files = vec![("compose.yaml", compose)];
    files.extend_from_slice(extra);
    let ws = Workspace::new(&files);
    let mut spec = spec(&["compose.yaml"]);
    tweak(&mut spec);
    let project = crate::compose::load(&ws.root(), &spec).unwrap();
    check(&project, &spec, yes)
        .findings
        .into_iter()
        .map(|f| (f.kind, f.key, f.refused))
        .collect()
}

fn none(_: &mut ComposeSpec) {}

#[test]
fn each_check_reports_the_key_and_whether_it_is_refused() {
    type Case = (
        &'static str,
        &'static [(&'static str, &'static str)],
        fn(&mut ComposeSpec),
        bool,
        Vec<(FindingKind, &'static str, bool)>,
    );
    let cases: Vec<Case> = vec![
        ("services:\n  web:\n    image: nginx\n", &[], none, false, vec![]),
        (
            "include:\n  - other.yaml\nservices:\n  web:\n    image: nginx\n",
            &[("other.yaml", "services: {}\n")],
            none,
            true,
            vec![(LocalInclude, "include[0]", true)],
        ),
        (
            "include:\n  - path: oci://docker.io/org/app:1\nservices:\n  web:\n    image: nginx\n",
            &[],
            none,
            false,
            vec![],
        ),
        (
            "services:\n  web:\n    build: .\n",
            &[],
            none,
            true,
            vec![(BuildWithoutImage, "services.web.build", true)],
        ),
        ("services:\n  web:\n    build: .\n    image: org/web\n", &[], none, false, vec![]),
        (
            "services:\n  web:\n    image: nginx\n    volumes:\n      - ./html:/usr/share/nginx/html\n      - data:/data\n      - /anon\n      - type: bind\n        source: /etc\n        target: /etc\n",
            &[],
            none,
            false,
            vec![
                (BindMount, "services.web.volumes[0]", true),
                (BindMount, "services.web.volumes[3]", true),
            ],
        ),
        (
            "services:\n  web:\n    image: nginx\n    volumes:\n      - ./html:/html\n",
            &[],
            |s| s.allow_bind_mounts = true,
            false,
            vec![(BindMount, "services.web.volumes[0]", false)],
        ),
        (
            "services:\n  web:\n    image: nginx\n    volumes:\n      - ./html:/html\n",
            &[],
            none,
            true,
            vec![(BindMount, "services.web.volumes[0]", false)],
        ),
        (
            "services:\n  db:\n    image: postgres\n    environment:\n      POSTGRES_PASSWORD: hunter2\n      POSTGRES_USER: app\n      API_TOKEN: ${API_TOKEN}\n      OTHER_SECRET: ${OTHER_SECRET:?required}\n      DEFAULTED_PASSWORD: ${DB_PW:-postgres}\n      POSTGRES_PASSWORD_FILE: /run/secrets/db\n",
            &[],
            none,
            false,
            vec![
                (SensitiveData, "services.db.environment.POSTGRES_PASSWORD", true),
                (SensitiveData, "services.db.environment.DEFAULTED_PASSWORD", true),
            ],
        ),
        (
            "services:\n  app:\n    image: app\n    environment:\n      - GITHUB_TOKEN=ghp_0123456789abcdefghijABCDEFGHIJ012345\n      - ANTHROPIC_API_KEY\n      - LOG=debug\n",
            &[],
            |s| s.allow_sensitive = true,
            false,
            vec![(SensitiveData, "services.app.environment.GITHUB_TOKEN", false)],
        ),
        (
            "services:\n  app:\n    image: app\n    command: [\"--key\", \"AKIAIOSFODNN7EXAMPLE\"]\n    labels:\n      url: postgres://u:pw@db/app\n",
            &[],
            none,
            false,
            vec![
                (SensitiveData, "services.app.command[1]", true),
                (SensitiveData, "services.app.labels.url", true),
            ],
        ),
        (
            "services:\n  app:\n    image: app\nconfigs:\n  conf:\n    content: |\n      user=app\n      password=s3cr3t-value\n  plain:\n    content: \"log_level=info\"\n",
            &[],
            none,
            false,
            vec![(SensitiveData, "configs.conf.content", true)],
        ),
        (
            "services:\n  app:\n    image: app\n    env_file: app.env\n",
            &[("app.env", "LOG=debug\n")],
            none,
            false,
            vec![(EnvFileNotPublished, "services.app.env_file", true)],
        ),
        (
            "services:\n  app:\n    image: app\n    env_file:\n      - path: app.env\n        required: false\n",
            &[("app.env", "LOG=debug\n")],
            none,
            false,
            vec![],
        ),
        (
            "services:\n  app:\n    image: app\n    env_file: app.env\n",
            &[("app.env", "LOG=debug\n")],
            none,
            true,
            vec![(EnvFileNotPublished, "services.app.env_file", false)],
        ),
        (
            "services:\n  app:\n    image: app\n    env_file: app.env\n",
            &[("app.env", "# comment\nLOG=debug\nexport DB_PASSWORD=\"hunter2\"\nEMPTY_TOKEN=\n")],
            |s| s.env_files = true,
            false,
            vec![(SensitiveData, "line 3: DB_PASSWORD", true)],
        ),
    ];
    for (compose, extra, tweak, yes, want) in cases {
        let want: Vec<(FindingKind, String, bool)> = want
            .into_iter()
            .map(|(k, key, r)| (k, key.to_string(), r))
            .collect();
        assert_eq!(findings(compose, extra, tweak, yes), want, "{compose}");
    }
}

#[test]
fn findings_never_show_a_secret_in_full() {
    let compose = format!(
        "services:\n  app:\n    image: app\n    environment:\n      GITHUB_TOKEN: {SECRET_TOKEN}\n      DB_PASSWORD: hunter2\n"
    );
    let ws = Workspace::new(&[("compose.yaml", &compose)]);
    let spec = spec(&["compose.yaml"]);
    let report = check(
        &crate::compose::load(&ws.root(), &spec).unwrap(),
        &spec,
        false,
    );
    assert_eq!(report.findings.len(), 2);
    let shown: String = report.findings.iter().map(ToString::to_string).collect();
    assert!(
        !shown.contains(SECRET_TOKEN) && !shown.contains("hunter2"),
        "{shown}"
    );
    assert!(
        shown.contains("gh…") && shown.contains("<redacted>"),
        "{shown}"
    );
    let err = report.to_result().unwrap_err();
    assert_eq!(err.kind, ErrorKind::Refused);
    assert!(!err.problem.contains("hunter2"));
}

#[test]
fn a_clean_or_allowed_report_is_ok() {
    let report = CheckReport {
        findings: vec![Finding {
            kind: BindMount,
            file: "compose.yaml".into(),
            service: Some("web".into()),
            key: "services.web.volumes[0]".into(),
            problem: "bind mount".into(),
            fix: "allow it".into(),
            refused: false,
        }],
    };
    assert_eq!(report.to_result(), Ok(()));
    assert_eq!(CheckReport::default().to_result(), Ok(()));
}

#[test]
fn volume_sources_are_told_from_volume_names() {
    let cases = [
        ("./html:/html", Some("./html"), true),
        ("/srv:/srv:ro", Some("/srv"), true),
        ("~/data:/data", Some("~/data"), true),
        ("C:\\data:/data", Some("C:\\data"), true),
        ("${DATA:-./data}:/data", Some("./data"), true),
        ("data:/data", Some("data"), false),
        ("/anonymous", None, false),
    ];
    for (spec, source, bind) in cases {
        let got = short_syntax_source(spec);
        assert_eq!(got.as_deref(), source, "{spec}");
        assert_eq!(got.is_some_and(|s| is_file_path(&s)), bind, "{spec}");
    }
}
