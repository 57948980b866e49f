//! GitHub Actions expressions (`${{ … }}`) as the simulated runner evaluates them: the subset
//! the generated workflows use, evaluated the way GitHub documents it. Contexts are one JSON
//! object (`github`, `secrets`, `steps`, `needs`); property access with `.name` and
//! `['name']`; string literals in single quotes (`''` escapes one); `==` (strings compared
//! ignoring case, as GitHub does); `fromJSON(s)` and `format(fmt, args…)`. Anything else
//! panics: an expression the simulation does not know is not silently passed.

use serde_json::Value;

/// `text` with every `${{ … }}` replaced by its value as a string (a whole-value expression
/// gives just that value).
pub fn interpolate(text: &str, ctx: &Value) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 3..];
        let end = after
            .find("}}")
            .unwrap_or_else(|| panic!("unterminated expression in {text:?}"));
        out.push_str(&to_text(&evaluate(after[..end].trim(), ctx)));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// A value as GitHub turns it into a string: strings as they are, `null` empty, booleans and
/// numbers in their JSON form, objects and arrays as JSON.
pub fn to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Evaluates one expression (the text between `${{` and `}}`).
pub fn evaluate(expr: &str, ctx: &Value) -> Value {
    let tokens = tokenize(expr);
    let mut p = Parser {
        tokens: &tokens,
        at: 0,
        ctx,
    };
    let v = p.comparison();
    assert_eq!(p.at, tokens.len(), "trailing tokens in expression {expr:?}");
    v
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Str(String),
    Ident(String),
    Punct(&'static str),
}

fn tokenize(expr: &str) -> Vec<Token> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' {
            let mut s = String::new();
            i += 1;
            loop {
                assert!(i < chars.len(), "unterminated string in {expr:?}");
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        s.push('\'');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                s.push(chars[i]);
                i += 1;
            }
            out.push(Token::Str(s));
        } else if c == '=' && chars.get(i + 1) == Some(&'=') {
            out.push(Token::Punct("=="));
            i += 2;
        } else if let Some(p) = ["(", ")", "[", "]", ".", ","]
            .iter()
            .find(|p| p.starts_with(c))
        {
            out.push(Token::Punct(p));
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | '-'))
            {
                i += 1;
            }
            out.push(Token::Ident(chars[start..i].iter().collect()));
        } else {
            panic!("expression not simulated: {expr:?} (at {c:?})");
        }
    }
    out
}

struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
    ctx: &'a Value,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn expect(&mut self, p: &'static str) {
        assert_eq!(self.peek(), Some(&Token::Punct(p)), "expected {p}");
        self.at += 1;
    }

    fn comparison(&mut self) -> Value {
        let left = self.postfix();
        if self.peek() == Some(&Token::Punct("==")) {
            self.at += 1;
            let right = self.postfix();
            return Value::Bool(equal(&left, &right));
        }
        left
    }

    fn postfix(&mut self) -> Value {
        let mut v = self.primary();
        loop {
            match self.peek() {
                Some(Token::Punct(".")) => {
                    self.at += 1;
                    let Some(Token::Ident(name)) = self.peek().cloned() else {
                        panic!("expected a property name after .");
                    };
                    self.at += 1;
                    v = property(&v, &name);
                }
                Some(Token::Punct("[")) => {
                    self.at += 1;
                    let key = to_text(&self.comparison());
                    self.expect("]");
                    v = property(&v, &key);
                }
                _ => return v,
            }
        }
    }

    fn primary(&mut self) -> Value {
        match self.peek().cloned() {
            Some(Token::Str(s)) => {
                self.at += 1;
                Value::String(s)
            }
            Some(Token::Ident(name)) => {
                self.at += 1;
                if self.peek() == Some(&Token::Punct("(")) {
                    self.at += 1;
                    let mut args = Vec::new();
                    while self.peek() != Some(&Token::Punct(")")) {
                        args.push(self.comparison());
                        if self.peek() == Some(&Token::Punct(",")) {
                            self.at += 1;
                        }
                    }
                    self.expect(")");
                    return call(&name, &args);
                }
                property(self.ctx, &name)
            }
            other => panic!("expression not simulated at {other:?}"),
        }
    }
}

/// `v.name`; a missing property is `null`, as on GitHub. Object keys are matched ignoring
/// case, as GitHub does.
fn property(v: &Value, name: &str) -> Value {
    match v {
        Value::Object(map) => map
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.eq_ignore_ascii_case(y),
        _ => a == b,
    }
}

fn call(name: &str, args: &[Value]) -> Value {
    match name {
        "fromJSON" => {
            let text = to_text(&args[0]);
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("fromJSON({text:?}): {e}"))
        }
        "format" => {
            let mut s = to_text(&args[0]);
            for (i, a) in args[1..].iter().enumerate() {
                s = s.replace(&format!("{{{i}}}"), &to_text(a));
            }
            Value::String(s)
        }
        other => panic!("function {other} not simulated"),
    }
}

#[test]
fn expressions_of_the_generated_workflows_evaluate_as_on_github() {
    let ctx = serde_json::json!({
        "github": {"ref": "refs/heads/trunk", "event": {"repository": {"default_branch": "trunk"}}},
        "secrets": {"A": "x"},
        "steps": {"release": {"outputs": {"digests": "{\"web-ui\":\"sha256:ab\"}"}}},
        "needs": {"release": {"outputs": {"digests": "{\"it's\":\"sha256:cd\"}"}}},
    });
    let save = "github.ref == format('refs/heads/{0}', github.event.repository.default_branch)";
    assert_eq!(evaluate(save, &ctx), Value::Bool(true));
    assert_eq!(interpolate("${{ secrets.A }}-${{ secrets.B }}", &ctx), "x-");
    assert_eq!(
        interpolate(
            "${{ fromJSON(steps.release.outputs.digests)['web-ui'] }}",
            &ctx
        ),
        "sha256:ab"
    );
    assert_eq!(
        interpolate(
            "${{ fromJSON(needs.release.outputs.digests)['it''s'] }}",
            &ctx
        ),
        "sha256:cd"
    );
    let tag = serde_json::json!({"github": {"ref": "refs/tags/v1", "event": {"repository": {"default_branch": "trunk"}}}});
    assert_eq!(evaluate(save, &tag), Value::Bool(false));
}
