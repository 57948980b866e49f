use serde_json::{json, Value};

use super::*;

pub(crate) const REGISTRY: &str = "registry+https://github.com/rust-lang/crates.io-index";
pub(crate) const GIT: &str =
    "git+https://github.com/o/fork?branch=main#0123456789abcdef0123456789abcdef01234567";

pub(crate) fn linux() -> TargetCfg {
    let lines = ["target_os=\"linux\"", "target_family=\"unix\"", "unix"].map(String::from);
    TargetCfg::new("x86_64-unknown-linux-gnu", &lines)
}

fn id(name: &str) -> String {
    match name {
        "app" => "path+file:///w/app#0.1.0".into(),
        "forked" => format!("{GIT}#forked@0.3.0"),
        _ => format!("{REGISTRY}#{name}@1.0.0"),
    }
}

fn package(name: &str, license: Option<&str>, kind: &str) -> Value {
    let (version, source) = match name {
        "app" => ("0.1.0", Value::Null),
        "forked" => ("0.3.0", json!(GIT)),
        _ => ("1.0.0", json!(REGISTRY)),
    };
    json!({"id": id(name), "name": name, "version": version, "license": license,
           "source": source, "targets": [{"kind": [kind], "name": name}]})
}

fn dep(name: &str, kinds: Value) -> Value {
    json!({"name": name.replace('-', "_"), "pkg": id(name), "dep_kinds": kinds})
}

/// app -> serde (-> serde_derive (proc-macro) -> syn), libc on unix, winapi on windows,
/// forked (git), cc as a build-dependency, tempfile as a dev-dependency; other (a second
/// workspace member) -> serde.
pub(crate) fn metadata() -> String {
    let normal = json!([{"kind": null, "target": null}]);
    let doc = json!({
        "packages": [
            package("app", Some("Apache-2.0"), "bin"),
            package("other", None, "bin"),
            package("serde", Some("MIT OR Apache-2.0"), "lib"),
            package("serde_derive", Some("MIT OR Apache-2.0"), "proc-macro"),
            package("syn", Some("MIT OR Apache-2.0"), "lib"),
            package("libc", Some("MIT/Apache-2.0"), "lib"),
            package("winapi", Some("MIT/Apache-2.0"), "lib"),
            package("forked", None, "lib"),
            package("cc", Some("MIT OR Apache-2.0"), "lib"),
            package("tempfile", Some("MIT OR Apache-2.0"), "lib"),
        ],
        "workspace_members": [id("app"), id("other")],
        "resolve": {"root": null, "nodes": [
            {"id": id("app"), "deps": [
                dep("serde", normal.clone()),
                dep("libc", json!([{"kind": null, "target": "cfg(unix)"}])),
                dep("winapi", json!([{"kind": null, "target": "cfg(windows)"}])),
                dep("forked", normal.clone()),
                dep("cc", json!([{"kind": "build", "target": null}])),
                dep("tempfile", json!([{"kind": "dev", "target": null}])),
            ]},
            {"id": id("other"), "deps": [dep("serde", normal.clone())]},
            {"id": id("serde"), "deps": [dep("serde_derive", normal.clone())]},
            {"id": id("serde_derive"), "deps": [dep("syn", normal.clone())]},
            {"id": id("syn"), "deps": []},
            {"id": id("libc"), "deps": []},
            {"id": id("winapi"), "deps": []},
            {"id": id("forked"), "deps": [dep("libc", normal)]},
            {"id": id("cc"), "deps": []},
            {"id": id("tempfile"), "deps": []},
        ]},
    });
    doc.to_string()
}

pub(crate) fn lock() -> String {
    let mut text =
        String::from("version = 4\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n");
    for (name, sum) in [
        ("serde", "aa"),
        ("serde_derive", "bb"),
        ("syn", "cc"),
        ("libc", "dd"),
        ("winapi", "ee"),
        ("cc", "ff"),
        ("tempfile", "00"),
    ] {
        text.push_str(&format!(
            "\n[[package]]\nname = \"{name}\"\nversion = \"1.0.0\"\nsource = \"{REGISTRY}\"\nchecksum = \"{}\"\n",
            sum.repeat(32)
        ));
    }
    text.push_str(&format!(
        "\n[[package]]\nname = \"forked\"\nversion = \"0.3.0\"\nsource = \"{GIT}\"\n"
    ));
    text
}

fn names(c: &Closure) -> Vec<&str> {
    c.crates.iter().map(|c| c.name.as_str()).collect()
}

#[test]
fn closure_follows_normal_deps_for_the_target_only() {
    let c = closure(&metadata(), &lock(), None, "app", &linux()).unwrap();
    assert_eq!(c.root.name, "app");
    assert_eq!(
        names(&c),
        ["forked", "libc", "serde"],
        "no build, dev, proc-macro or windows crates"
    );
    assert_eq!(c.root.deps, [id("forked"), id("libc"), id("serde")]);
    assert_eq!(c.crates[0].deps, [id("libc")]);
    assert!(
        c.crates[2].deps.is_empty(),
        "serde's proc-macro is not linked"
    );
}

#[test]
fn closure_of_a_windows_target_takes_the_windows_deps() {
    let lines = [
        "target_os=\"windows\"",
        "target_family=\"windows\"",
        "windows",
    ]
    .map(String::from);
    let windows = TargetCfg::new("x86_64-pc-windows-gnu", &lines);
    let c = closure(&metadata(), &lock(), Some("app"), "app", &windows).unwrap();
    assert_eq!(
        names(&c),
        ["forked", "libc", "serde", "winapi"],
        "libc only through forked"
    );
}

#[test]
fn registry_crates_carry_their_lock_checksum() {
    let c = closure(&metadata(), &lock(), None, "app", &linux()).unwrap();
    let sums: Vec<(&str, Option<&str>)> = c
        .crates
        .iter()
        .map(|c| (c.name.as_str(), c.checksum.as_deref()))
        .collect();
    let dd = "dd".repeat(32);
    let aa = "aa".repeat(32);
    assert_eq!(
        sums,
        [
            ("forked", None),
            ("libc", Some(dd.as_str())),
            ("serde", Some(aa.as_str()))
        ]
    );
    assert_eq!(c.root.checksum, None);
}

#[test]
fn another_workspace_member_is_its_own_root() {
    let c = closure(&metadata(), &lock(), None, "other", &linux()).unwrap();
    assert_eq!(c.root.name, "other");
    assert_eq!(names(&c), ["serde"]);
}

#[test]
fn the_root_is_the_workspace_package_with_the_binary() {
    let mut doc: Value = serde_json::from_str(&metadata()).unwrap();
    doc["packages"][1]["targets"] = json!([{"kind": ["bin"], "name": "app"}]);
    let two_apps = doc.to_string();
    for (meta, package, bin, want) in [
        (metadata(), None, "app", Ok("app")),
        (metadata(), Some("other"), "other", Ok("other")),
        (two_apps.clone(), Some("other"), "app", Ok("other")),
        (two_apps, None, "app", Err("set native.package")),
        (
            metadata(),
            None,
            "serde",
            Err("no workspace package has a binary \"serde\""),
        ),
        (
            metadata(),
            Some("other"),
            "app",
            Err("check native.package"),
        ),
    ] {
        let got = closure(&meta, &lock(), package, bin, &linux())
            .map(|c| c.root.name)
            .map_err(|e| e.to_string());
        match want {
            Ok(name) => assert_eq!(got.as_deref(), Ok(name), "{package:?} {bin}"),
            Err(fix) => assert!(
                got.as_ref().is_err_and(|e| e.contains(fix)),
                "{package:?} {bin}: {got:?}"
            ),
        }
    }
}

#[test]
fn bad_inputs_say_what_to_do() {
    let no_resolve = json!({"packages": [], "workspace_members": [], "resolve": null}).to_string();
    for (meta, lock_text, fix) in [
        (no_resolve, lock(), "without --no-deps"),
        ("not json".to_string(), lock(), "cargo metadata"),
        (
            metadata(),
            "[[package]\n".to_string(),
            "cargo generate-lockfile",
        ),
    ] {
        let err = format!(
            "{:#}",
            closure(&meta, &lock_text, None, "app", &linux()).unwrap_err()
        );
        assert!(err.contains(fix), "{err}");
    }
}
