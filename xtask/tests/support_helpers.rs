//! The test harness's own helpers: the release-config builder and `assert_ok`.

mod support;

use support::*;

#[test]
fn release_toml_quotes_values_and_keeps_the_order() {
    let t = ReleaseToml::new("demo")
        .registries(["127.0.0.1:5000/acme"])
        .tags(["type=semver,pattern={{version}}"])
        .string("licenses", "MIT \"quoted\"")
        .image("app", "native = { cargo-bin = \"app\" }")
        .build();
    assert_eq!(
        t,
        "[release]\nname = \"demo\"\nplatforms = [\"linux/amd64\"]\n\
         registries = [\"127.0.0.1:5000/acme\"]\ntags = [\"type=semver,pattern={{version}}\"]\n\
         licenses = \"MIT \\\"quoted\\\"\"\n\n[images.app]\nnative = { cargo-bin = \"app\" }\n"
    );
    let parsed: toml::Value = toml::from_str(&t).unwrap();
    assert_eq!(
        parsed["release"]["licenses"].as_str(),
        Some("MIT \"quoted\"")
    );
}

#[test]
fn assert_ok_shows_the_output_of_a_failed_command() {
    let out = std::process::Command::new("sh")
        .args(["-c", "echo out-text; echo err-text >&2; exit 3"])
        .output()
        .unwrap();
    let panic = std::panic::catch_unwind(|| assert_ok(&out)).unwrap_err();
    let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.contains("out-text") && msg.contains("err-text") && msg.contains("exit status: 3"),
        "{msg}"
    );
    let ok = std::process::Command::new("true").output().unwrap();
    assert_ok(&ok);
}
