//! A small YAML writer for the workflows: block mappings and sequences written line by line,
//! every scalar either plain (when YAML reads it back as the same string) or double-quoted,
//! and shell scripts as literal blocks. No value is ever spliced in unquoted.

/// The text of a YAML document being written.
#[derive(Debug, Default)]
pub struct Writer {
    out: String,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    pub fn finish(self) -> String {
        self.out
    }

    /// A comment line (`# text`) at `indent`.
    pub fn comment(&mut self, indent: usize, text: &str) {
        for line in text.lines() {
            self.pad(indent);
            if line.is_empty() {
                self.out.push_str("#\n");
            } else {
                self.out.push_str("# ");
                self.out.push_str(line);
                self.out.push('\n');
            }
        }
    }

    pub fn blank(&mut self) {
        self.out.push('\n');
    }

    /// `key:` opening a nested block.
    pub fn key(&mut self, indent: usize, key: &str) {
        self.pad(indent);
        self.out.push_str(&scalar(key));
        self.out.push_str(":\n");
    }

    /// `key:` written as is (GitHub's `on:`, which a YAML 1.1 reader would take for a bool).
    pub fn key_verbatim(&mut self, indent: usize, key: &str) {
        self.pad(indent);
        self.out.push_str(key);
        self.out.push_str(":\n");
    }

    /// `key: value` with the value quoted as needed.
    pub fn pair(&mut self, indent: usize, key: &str, value: &str) {
        self.pair_raw(indent, key, &scalar(value), None);
    }

    /// `key: value  # comment`.
    pub fn pair_commented(&mut self, indent: usize, key: &str, value: &str, comment: &str) {
        self.pair_raw(indent, key, &scalar(value), Some(comment));
    }

    /// `key: <text>` where `text` is already YAML (a flow collection, `{}`, `false`, a number).
    pub fn pair_yaml(&mut self, indent: usize, key: &str, yaml: &str) {
        self.pair_raw(indent, key, yaml, None);
    }

    fn pair_raw(&mut self, indent: usize, key: &str, value: &str, comment: Option<&str>) {
        self.pad(indent);
        self.out.push_str(&scalar(key));
        self.out.push_str(": ");
        self.out.push_str(value);
        if let Some(c) = comment {
            self.out.push_str(" # ");
            self.out.push_str(c);
        }
        self.out.push('\n');
    }

    /// `key: script`: plain when it is one safe line, else a literal block (`|`).
    pub fn script(&mut self, indent: usize, key: &str, script: &str) {
        let script = script.trim_end_matches('\n');
        if !script.contains('\n') && is_plain(script) {
            self.pair(indent, key, script);
            return;
        }
        self.pad(indent);
        self.out.push_str(&scalar(key));
        self.out.push_str(": |\n");
        for line in script.lines() {
            if line.is_empty() {
                self.out.push('\n');
            } else {
                self.pad(indent + 2);
                self.out.push_str(line);
                self.out.push('\n');
            }
        }
    }

    /// `- ` opening a sequence item at `indent`: the item's first key follows on the same line
    /// ([`Writer::item_pair`]).
    pub fn item_pair(&mut self, indent: usize, key: &str, value: &str) {
        self.pad(indent);
        self.out.push_str("- ");
        self.out.push_str(&scalar(key));
        self.out.push_str(": ");
        self.out.push_str(&scalar(value));
        self.out.push('\n');
    }

    fn pad(&mut self, indent: usize) {
        for _ in 0..indent {
            self.out.push(' ');
        }
    }
}

/// A flow sequence of scalars: `[a, "b c"]`.
pub fn flow_seq(items: &[&str]) -> String {
    let items: Vec<String> = items.iter().map(|i| quoted_if_needed_in_flow(i)).collect();
    format!("[{}]", items.join(", "))
}

fn quoted_if_needed_in_flow(s: &str) -> String {
    if is_plain(s) && !s.contains([',', '[', ']', '{', '}', '*']) {
        s.to_string()
    } else {
        quote(s)
    }
}

/// `s` as a YAML scalar that reads back as the string `s`.
pub fn scalar(s: &str) -> String {
    if is_plain(s) {
        s.to_string()
    } else {
        quote(s)
    }
}

/// Whether `s` can be written plain in block context and read back as the same string (not a
/// bool, null or number, no indicator, no `: ` or ` #`). `${{ … }}` expressions are allowed.
pub fn is_plain(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if !(first.is_ascii_alphabetic() || matches!(first, '$' | '/' | '.' | '_')) {
        return false;
    }
    if s.ends_with([' ', ':']) || s.contains(": ") || s.contains(" #") {
        return false;
    }
    // Braces only as part of `${{ … }}`.
    let without_expr = s.replace("${{", "").replace("}}", "");
    if without_expr.contains(['{', '}']) {
        return false;
    }
    let allowed = |c: char| {
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                ' ' | '_'
                    | '.'
                    | '/'
                    | '-'
                    | ':'
                    | '@'
                    | '$'
                    | '{'
                    | '}'
                    | '='
                    | '('
                    | ')'
                    | '+'
                    | ','
                    | '*'
                    | '<'
                    | '>'
                    | '!'
                    | '&'
                    | '|'
                    | '\''
            )
    };
    if !s.chars().all(allowed) {
        return false;
    }
    let lower = s.to_ascii_lowercase();
    !matches!(
        lower.as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "~"
    ) && !lower.starts_with(".inf")
        && !lower.starts_with(".nan")
}

/// `s` double-quoted, with `"`, `\` and control characters escaped.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
