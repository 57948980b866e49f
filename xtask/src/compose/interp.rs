//! Compose's `${VAR}` interpolation, resolved with the defaults written in the file only.
//!
//! Nothing is read from the environment of the machine publishing: a reference is resolved on the
//! user's machine at `up` time. `${VAR:-default}` and `${VAR-default}` take their default,
//! `${VAR:+x}`/`${VAR+x}` are empty (the variable is unset here), and `$VAR`, `${VAR}`,
//! `${VAR:?msg}`, `${VAR?msg}` are *unresolved*: they become empty and are reported by name.

/// The text with every reference replaced, and the variables that had no default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpolated {
    pub text: String,
    pub unresolved: Vec<String>,
}

/// Whether `s` holds a variable reference (`$$` is an escaped `$`, not a reference).
pub fn has_reference(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            match b.get(i + 1) {
                Some(b'$') => i += 2,
                Some(c) if *c == b'{' || *c == b'_' || c.is_ascii_alphabetic() => return true,
                _ => i += 1,
            }
        } else {
            i += 1;
        }
    }
    false
}

/// Resolves `s` with the defaults it carries.
pub fn with_defaults(s: &str) -> Interpolated {
    let mut out = Interpolated {
        text: String::with_capacity(s.len()),
        unresolved: vec![],
    };
    substitute(s, &mut out, false, 0);
    out
}

/// Every literal text `s` can publish: the defaults of `${VAR:-x}`/`${VAR-x}` and also the
/// alternatives of `${VAR:+x}`/`${VAR+x}` (compose uses `x` as written whenever `VAR` is set).
/// What the secret checks judge.
pub fn with_literals(s: &str) -> Interpolated {
    let mut out = Interpolated {
        text: String::with_capacity(s.len()),
        unresolved: vec![],
    };
    substitute(s, &mut out, true, 0);
    out
}

/// References nested deeper than this are kept as text (a bound on the recursion).
const MAX_NESTING: usize = 16;

fn substitute(s: &str, out: &mut Interpolated, alternatives: bool, depth: usize) {
    if depth > MAX_NESTING {
        out.text.push_str(s);
        return;
    }
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.text.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.text.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            match closing_brace(body) {
                Some(end) => {
                    braced(&body[..end], out, alternatives, depth);
                    rest = &body[end + 1..];
                }
                None => {
                    out.text.push_str(&rest[i..]);
                    return;
                }
            }
        } else {
            let len = name_len(after);
            if len == 0 {
                out.text.push('$');
            } else {
                out.unresolved.push(after[..len].to_string());
            }
            rest = &after[len..];
        }
    }
    out.text.push_str(rest);
}

fn name_len(s: &str) -> usize {
    s.bytes()
        .enumerate()
        .take_while(|(i, b)| {
            *b == b'_' || b.is_ascii_alphabetic() || (*i > 0 && b.is_ascii_digit())
        })
        .count()
}

/// Index of the `}` closing a `${`, nested braces counted.
fn closing_brace(body: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

fn braced(body: &str, out: &mut Interpolated, alternatives: bool, depth: usize) {
    let len = name_len(body);
    let (name, op) = body.split_at(len);
    let unresolved = |out: &mut Interpolated| out.unresolved.push(name.to_string());
    for (prefix, takes_default) in [(":-", true), ("-", true), (":+", false), ("+", false)] {
        if let Some(arg) = op.strip_prefix(prefix) {
            if takes_default || alternatives {
                substitute(arg, out, alternatives, depth + 1);
            }
            return;
        }
    }
    unresolved(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_to_their_defaults_or_are_reported() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("plain", "plain", &[]),
            ("${PORT:-80}", "80", &[]),
            ("${PORT-80}", "80", &[]),
            ("app:${TAG:-latest}", "app:latest", &[]),
            ("${A:-${B:-x}}y", "xy", &[]),
            ("${A:-$B}", "", &["B"]),
            ("${TAG}", "", &["TAG"]),
            ("$TAG-x", "-x", &["TAG"]),
            ("${TAG:?set it}", "", &["TAG"]),
            ("${TAG:+yes}", "", &[]),
            ("cost $$5", "cost $5", &[]),
            ("a$", "a$", &[]),
            ("${broken", "${broken", &[]),
        ];
        for (src, text, unresolved) in cases {
            let got = with_defaults(src);
            assert_eq!(got.text, *text, "{src}");
            assert_eq!(got.unresolved, *unresolved, "{src}");
        }
    }

    #[test]
    fn literals_include_the_alternatives_of_set_variables() {
        let cases = [
            ("${PW:+hunter2}", "hunter2"),
            ("${PW+hunter2}", "hunter2"),
            ("${PW:-hunter2}", "hunter2"),
            ("${PW}", ""),
            ("a${PW:+${X:-b}}c", "abc"),
        ];
        for (src, want) in cases {
            assert_eq!(with_literals(src).text, want, "{src}");
        }
        assert_eq!(with_defaults("${PW:+hunter2}").text, "");
    }

    #[test]
    fn deeply_nested_references_end() {
        let deep = format!("{}x{}", "${A:-".repeat(100_000), "}".repeat(100_000));
        let start = std::time::Instant::now();
        let got = with_defaults(&deep);
        assert!(got.text.contains('x') && start.elapsed().as_secs() < 5);
    }

    #[test]
    fn references_are_told_from_escaped_dollars() {
        for (s, want) in [
            ("${A}", true),
            ("$A", true),
            ("$$A", false),
            ("5$", false),
            ("$1", false),
        ] {
            assert_eq!(has_reference(s), want, "{s}");
        }
    }
}
