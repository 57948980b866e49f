//! `doctor`: exit 1 on a machine missing a toolchain or a credential, naming each problem with
//! its fix; exit 0 when a release would pass its preflight.

mod support;

use support::*;

#[test]
fn doctor_names_each_missing_piece_with_its_fix() {
    if !have_all(&["docker-registry", "htpasswd"]) {
        return;
    }
    let registry = Registry::with_auth("ci", "Pa55-doctor");
    let ws = Workspace::new(&[format!("{}/demo", registry.host)], &["app"], "");
    let config = std::fs::read_to_string(ws.path().join("images/release.toml")).unwrap();
    ws.write(
        "images/release.toml",
        format!(
            "{config}\n[images.tool]\nnative = {{ command = [\"no-such-tool-xyz\", \"build\"], \
             files = [{{ src = \"files/hello.txt\", dst = \"/hello.txt\" }}] }}\n"
        ),
    );
    ws.commit("a tool image");
    ws.git(&["tag", "-f", "v1.2.3"]);
    let out = ws.xtask(&["doctor"], &[]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("PROBLEM build tool"), "{text}");
    assert!(text.contains("no-such-tool-xyz"), "{text}");
    assert!(text.contains("PROBLEM registries"), "{text}");
    assert!(text.contains("STEVEDORE_AUTH_"), "{text}");
    assert!(text.contains("ok      build app"), "{text}");

    // With the tool image gone and the credential given: all in place.
    ws.write("images/release.toml", config);
    ws.commit("no tool image");
    ws.git(&["tag", "-f", "v1.2.3"]);
    let var = format!(
        "STEVEDORE_AUTH_{}",
        registry.host.replace(['.', ':'], "_").to_uppercase()
    );
    let out = ws.xtask(&["doctor"], &[(&var, "ci:Pa55-doctor")]);
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("a release would pass its preflight"),
        "{text}"
    );
    assert!(!text.contains("Pa55-doctor"), "{text}");
    // CNCF distribution 2.8 has no referrers API: doctor says where attestations go instead.
    assert!(
        text.contains("referrers API: no (attestations go to the sha256-<hex> fallback tag"),
        "{text}"
    );
}
