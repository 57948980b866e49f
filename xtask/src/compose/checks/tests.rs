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
fn findings_show_no_part_of_a_secret() {
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
        !shown.contains("ghp") && shown.contains("<redacted>"),
        "{shown}"
    );
    let err = report.to_result().unwrap_err();
    assert_eq!(err.kind, ErrorKind::Refused);
    assert!(!err.problem.reason.contains("hunter2"));
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

/// Every case of the adversarial review (issue 17) and the references around them: each
/// compose file, and the keys of the secret-looking values found in it (none: not flagged).
#[test]
fn secrets_are_flagged_under_every_key_and_on_command_lines_and_references_are_not() {
    let app = |body: &str| format!("services:\n  app:\n    image: app\n{body}");
    let cases: Vec<(&str, String, &[&str])> = vec![
        // build.args, labels, x- extensions: the sensitive-key rule on every mapping key.
        (
            "build.args mapping",
            app("    build:\n      context: .\n      args:\n        NPM_TOKEN: s3cr3t-value\n        NODE_ENV: production\n"),
            &["services.app.build.args.NPM_TOKEN"],
        ),
        (
            "build.args list",
            app("    build:\n      context: .\n      args:\n        - NPM_TOKEN=s3cr3t-value\n        - NODE_ENV=production\n"),
            &["services.app.build.args.NPM_TOKEN"],
        ),
        (
            "labels mapping",
            app("    labels:\n      com.example.db-password: hunter2\n      com.example.team: core\n"),
            &["services.app.labels.com.example.db-password"],
        ),
        (
            "labels list",
            app("    labels:\n      - com.example.api-token=abc123secret\n"),
            &["services.app.labels.com.example.api-token"],
        ),
        (
            "x- extension at the top",
            format!("x-secrets:\n  DB_PASSWORD: hunter2\n{}", app("")),
            &["x-secrets.DB_PASSWORD"],
        ),
        (
            "x- extension, nested",
            format!("x-common:\n  environment:\n    STRIPE_API_KEY: abc123\n{}", app("")),
            &["x-common.environment.STRIPE_API_KEY"],
        ),
        (
            "x- extension inside a service",
            app("    x-meta:\n      deploy_token: abc123\n"),
            &["services.app.x-meta.deploy_token"],
        ),
        // Command lines: string and list forms, flag forms.
        (
            "command --password=",
            app("    command: server --password=hunter2\n"),
            &["services.app.command"],
        ),
        (
            "command --password VALUE",
            app("    command: server --password hunter2\n"),
            &["services.app.command"],
        ),
        (
            "command list --token=",
            app("    command: [\"server\", \"--token=abcdef123\"]\n"),
            &["services.app.command"],
        ),
        (
            "command list --password VALUE",
            app("    command: [\"mysqld\", \"--password\", \"hunter2\"]\n"),
            &["services.app.command"],
        ),
        (
            "command -password= (single dash)",
            app("    command: server -password=hunter2\n"),
            &["services.app.command"],
        ),
        (
            "command redis --requirepass",
            app("    command: redis-server --requirepass hunter2\n"),
            &["services.app.command"],
        ),
        (
            "command sh -c with PGPASSWORD= before the command",
            app("    command: sh -c 'PGPASSWORD=hunter2 psql -h db'\n"),
            &["services.app.command"],
        ),
        (
            "entrypoint --api-key=",
            app("    entrypoint: [\"app\", \"--api-key=abc123\"]\n"),
            &["services.app.entrypoint"],
        ),
        (
            "healthcheck string mysql -pSECRET",
            app("    healthcheck:\n      test: mysqladmin ping -h localhost -uroot -phunter2\n"),
            &["services.app.healthcheck.test"],
        ),
        (
            "healthcheck list mysql -pSECRET",
            app("    healthcheck:\n      test: [\"CMD\", \"mysqladmin\", \"ping\", \"-phunter2\"]\n"),
            &["services.app.healthcheck.test"],
        ),
        (
            "healthcheck CMD-SHELL PGPASSWORD= cmd",
            app("    healthcheck:\n      test: [\"CMD-SHELL\", \"PGPASSWORD=hunter2 pg_isready -U app\"]\n"),
            &["services.app.healthcheck.test"],
        ),
        (
            "healthcheck redis-cli -a",
            app("    healthcheck:\n      test: [\"CMD\", \"redis-cli\", \"-a\", \"hunter2\", \"ping\"]\n"),
            &["services.app.healthcheck.test"],
        ),
        (
            "healthcheck curl -u user:password",
            app("    healthcheck:\n      test: curl -fsS -u admin:hunter2 http://localhost/health\n"),
            &["services.app.healthcheck.test"],
        ),
        (
            "healthcheck --token= with a default",
            app("    healthcheck:\n      test: [\"CMD\", \"probe\", \"--token=${PROBE_TOKEN:-abc123}\"]\n"),
            &["services.app.healthcheck.test"],
        ),
        // Interpolation: literal text compose publishes.
        (
            "${PW:+secret} (used whenever PW is set)",
            app("    environment:\n      DB_PASSWORD: ${PW:+hunter2}\n"),
            &["services.app.environment.DB_PASSWORD"],
        ),
        (
            "${PW:-secret} default",
            app("    environment:\n      DB_PASSWORD: ${PW:-hunter2}\n"),
            &["services.app.environment.DB_PASSWORD"],
        ),
        (
            "${NPM_TOKEN:-default} in build.args",
            app("    build:\n      context: .\n      args:\n        NPM_TOKEN: ${NPM_TOKEN:-abc123}\n"),
            &["services.app.build.args.NPM_TOKEN"],
        ),
        // Key names.
        (
            "ENCRYPTION_KEY",
            app("    environment:\n      ENCRYPTION_KEY: 0123abcd\n"),
            &["services.app.environment.ENCRYPTION_KEY"],
        ),
        (
            "PGPASS",
            app("    environment:\n      PGPASS: hunter2\n"),
            &["services.app.environment.PGPASS"],
        ),
        (
            "REDIS_PASS",
            app("    environment:\n      - REDIS_PASS=hunter2\n"),
            &["services.app.environment.REDIS_PASS"],
        ),
        (
            "JWT_SIGNING_KEY",
            app("    environment:\n      JWT_SIGNING_KEY: changeme\n"),
            &["services.app.environment.JWT_SIGNING_KEY"],
        ),
        (
            "*_API_KEY",
            app("    environment:\n      OPENAI_API_KEY: abc123\n"),
            &["services.app.environment.OPENAI_API_KEY"],
        ),
        (
            "*_PRIVATE_KEY",
            app("    environment:\n      SERVICE_PRIVATE_KEY: abc123\n"),
            &["services.app.environment.SERVICE_PRIVATE_KEY"],
        ),
        (
            "*_SECRET",
            app("    environment:\n      APP_SECRET: abc123\n"),
            &["services.app.environment.APP_SECRET"],
        ),
        (
            "*_CREDENTIALS",
            app("    environment:\n      GCP_CREDENTIALS: '{\"type\": \"service_account\"}'\n"),
            &["services.app.environment.GCP_CREDENTIALS"],
        ),
        (
            "AWS_SECRET_ACCESS_KEY",
            app("    environment:\n      AWS_SECRET_ACCESS_KEY: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"),
            &["services.app.environment.AWS_SECRET_ACCESS_KEY"],
        ),
        (
            "camelCase dbPassword",
            app("    environment:\n      dbPassword: hunter2\n"),
            &["services.app.environment.dbPassword"],
        ),
        (
            "DATABASE_URL with credentials",
            app("    environment:\n      - DATABASE_URL=postgres://u:pw@h/db\n"),
            &["services.app.environment.DATABASE_URL"],
        ),
        (
            "a token shape under any key",
            app(&format!("    environment:\n      UPSTREAM: {SECRET_TOKEN}\n")),
            &["services.app.environment.UPSTREAM"],
        ),
        (
            "a value an alias copies: reported once, where it is written",
            "x-env: &env\n  DB_PASSWORD: hunter2\nservices:\n  app:\n    image: app\n    environment: *env\n  worker:\n    image: app\n    environment: *env\n".to_string(),
            &["x-env.DB_PASSWORD"],
        ),
        // References and other values that are not secrets.
        (
            "${VAR} with no default",
            app("    environment:\n      DB_PASSWORD: ${DB_PASSWORD}\n      API_TOKEN: ${API_TOKEN:?required}\n    build:\n      context: .\n      args:\n        NPM_TOKEN: ${NPM_TOKEN}\n"),
            &[],
        ),
        (
            "/run/secrets and *_FILE keys",
            app("    environment:\n      POSTGRES_PASSWORD_FILE: /run/secrets/db\n      DB_PASSWORD: /run/secrets/db_password\n"),
            &[],
        ),
        (
            "a path to a credentials file",
            app("    environment:\n      GOOGLE_APPLICATION_CREDENTIALS: /etc/gcp/credentials.json\n"),
            &[],
        ),
        (
            "empty and pass-through values",
            app("    environment:\n      DB_PASSWORD: \"\"\n      API_TOKEN:\n"),
            &[],
        ),
        (
            "pass-through list items",
            app("    environment:\n      - ANTHROPIC_API_KEY\n      - DB_PASSWORD=\n"),
            &[],
        ),
        (
            "flags, numbers, ids and names",
            app("    environment:\n      AUTH_ENABLED: \"true\"\n      AWS_ACCESS_KEY_ID: ${AWS_ACCESS_KEY_ID}\n      TOKENIZERS_PARALLELISM: \"false\"\n      MAX_TOKENS: 100000\n      SECRET_NAME: db-password\n      AUTHOR: jane\n      CACHE_KEY: users\n"),
            &[],
        ),
        (
            "a password read when the container runs",
            app("    healthcheck:\n      test: [\"CMD-SHELL\", \"mysqladmin ping -p$$MYSQL_ROOT_PASSWORD\"]\n    command: [\"redis-server\", \"--requirepass\", \"$${REDIS_PASSWORD}\"]\n"),
            &[],
        ),
        (
            "files and ports on command lines",
            app("    command: server --password-file=/run/secrets/db --port 8080 -p 5432\n    healthcheck:\n      test: [\"CMD\", \"pg_isready\", \"-p\", \"5432\", \"-U\", \"app\"]\n"),
            &[],
        ),
        (
            "ordinary labels and args",
            app("    labels:\n      traefik.http.routers.app.rule: Host(`example.com`)\n    build:\n      context: .\n      args:\n        - NODE_ENV=production\n"),
            &[],
        ),
    ];
    for (what, compose, want) in cases {
        let got: Vec<String> = findings(&compose, &[], none, false)
            .into_iter()
            .filter(|(kind, _, _)| *kind == SensitiveData)
            .map(|(_, key, _)| key)
            .collect();
        assert_eq!(got, *want, "{what}:\n{compose}");
    }
}
