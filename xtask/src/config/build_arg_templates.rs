//! The `{{…}}` templates a build arg's value may hold: `{{version}}`, `{{sha}}` (short),
//! `{{branch}}`. `config` refuses the others; `plan` renders these.

/// The templates build args know, rendered: `{{version}}`, `{{sha}}` (short), `{{branch}}`.
pub fn render_arg(value: &str, version: &str, sha: &str, branch: &str) -> String {
    value
        .replace("{{version}}", version)
        .replace("{{sha}}", sha)
        .replace("{{branch}}", branch)
}

/// The `{{…}}` templates in a build arg value that [`render_arg`] does not know.
pub fn unknown_arg_templates(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(i) = rest.find("{{") {
        let Some(j) = rest[i..].find("}}") else { break };
        let t = &rest[i..i + j + 2];
        if !matches!(t, "{{version}}" | "{{sha}}" | "{{branch}}") {
            out.push(t.to_string());
        }
        rest = &rest[i + j + 2..];
    }
    out
}
