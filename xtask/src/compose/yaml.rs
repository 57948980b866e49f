//! A YAML document tree with byte spans, built from `saphyr-parser` events.
//!
//! Compose files are read for two things: their data (schema validation, checks, image pinning)
//! and the exact place of a few scalars (`env_file`, `extends.file`), which are rewritten in the
//! raw bytes the way compose does. Anchors and aliases are expanded; merge keys (`<<`) are applied
//! when reading a mapping, as compose's YAML decoder does.

use std::collections::HashMap;
use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value};

/// One YAML node and where it is in the source text (byte offsets).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Range<usize>,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Scalar {
        text: String,
        style: ScalarStyle,
        /// The tag's suffix when one is written (`!!str` → `str`).
        tag: Option<String>,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// A syntax error: 1-based line and column, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Parses every document of `text`.
pub fn parse(text: &str) -> Result<Vec<Node>, SyntaxError> {
    let offsets = CharOffsets::new(text);
    let mut builder = Builder {
        text,
        docs: vec![],
        stack: vec![],
        anchors: HashMap::new(),
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| SyntaxError {
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: e.info().to_string(),
        })?;
        builder.on_event(event, offsets.range(span))?;
    }
    Ok(builder.docs)
}

/// Char index → byte offset (the parser counts characters).
struct CharOffsets(Vec<usize>);

impl CharOffsets {
    fn new(text: &str) -> Self {
        let mut v: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        v.push(text.len());
        CharOffsets(v)
    }

    fn at(&self, char_index: usize) -> usize {
        self.0[char_index.min(self.0.len() - 1)]
    }

    fn range(&self, span: Span) -> Range<usize> {
        self.at(span.start.index())..self.at(span.end.index())
    }
}

enum Open {
    Seq(Range<usize>, usize, Vec<Node>),
    Map(Range<usize>, usize, Vec<Node>),
}

struct Builder<'t> {
    text: &'t str,
    docs: Vec<Node>,
    stack: Vec<Open>,
    anchors: HashMap<usize, Node>,
}

impl Builder<'_> {
    fn on_event(&mut self, event: Event<'_>, span: Range<usize>) -> Result<(), SyntaxError> {
        match event {
            Event::SequenceStart(anchor, _) => self.stack.push(Open::Seq(span, anchor, vec![])),
            Event::MappingStart(anchor, _) => self.stack.push(Open::Map(span, anchor, vec![])),
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Open::Seq(start, anchor, items)) => (
                        Node {
                            span: start.start..span.end.max(start.end),
                            kind: Kind::Seq(items),
                        },
                        anchor,
                    ),
                    Some(Open::Map(start, anchor, items)) => {
                        let mut pairs = Vec::with_capacity(items.len() / 2);
                        let mut it = items.into_iter();
                        while let (Some(k), Some(v)) = (it.next(), it.next()) {
                            pairs.push((k, v));
                        }
                        (
                            Node {
                                span: start.start..span.end.max(start.end),
                                kind: Kind::Map(pairs),
                            },
                            anchor,
                        )
                    }
                    None => return Ok(()),
                };
                self.push(node, anchor)?;
            }
            Event::Scalar(text, style, anchor, tag) => {
                let node = Node {
                    span: quoted_span(self.text, span, style),
                    kind: Kind::Scalar {
                        text: text.into_owned(),
                        style,
                        tag: tag.map(|t| t.suffix.clone()),
                    },
                };
                self.push(node, anchor)?;
            }
            Event::Alias(id) => {
                let node = self.anchors.get(&id).cloned().ok_or_else(|| SyntaxError {
                    line: 0,
                    column: 0,
                    message: "alias to an unknown anchor".into(),
                })?;
                self.push(node, 0)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn push(&mut self, node: Node, anchor: usize) -> Result<(), SyntaxError> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            Some(Open::Seq(_, _, items)) => items.push(node),
            Some(Open::Map(_, _, items)) => {
                if items.len() % 2 == 0 {
                    if let Some(key) = node.as_str() {
                        let dup = items.iter().step_by(2).any(|k| k.as_str() == Some(key));
                        if dup && key != "<<" {
                            return Err(SyntaxError {
                                line: 0,
                                column: 0,
                                message: format!("mapping key {key:?} already defined"),
                            });
                        }
                    }
                }
                items.push(node)
            }
            None => self.docs.push(node),
        }
        Ok(())
    }
}

/// The parser's span of a quoted scalar can run past the closing quote; end it there.
fn quoted_span(text: &str, span: Range<usize>, style: ScalarStyle) -> Range<usize> {
    let quote = match style {
        ScalarStyle::SingleQuoted => b'\'',
        ScalarStyle::DoubleQuoted => b'"',
        _ => return span,
    };
    let bytes = text.as_bytes();
    if bytes.get(span.start) != Some(&quote) {
        return span;
    }
    let mut i = span.start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote == b'"' => i += 2,
            b'\'' if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 2,
            b if b == quote => return span.start..i + 1,
            _ => i += 1,
        }
    }
    span
}

impl Node {
    /// The text of a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            Kind::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// Whether this is a null (`~`, `null`, empty).
    pub fn is_null(&self) -> bool {
        matches!(self.to_json(), Value::Null)
    }

    /// A mapping's entries with merge keys (`<<`) applied: explicit keys first, in order, then
    /// merged keys that are not explicit. Empty for anything but a mapping.
    pub fn entries(&self) -> Vec<(&str, &Node)> {
        let Kind::Map(pairs) = &self.kind else {
            return vec![];
        };
        let mut out: Vec<(&str, &Node)> = vec![];
        let mut merged: Vec<&Node> = vec![];
        for (k, v) in pairs {
            match k.as_str() {
                Some("<<") if is_plain(k) => match &v.kind {
                    Kind::Map(_) => merged.push(v),
                    Kind::Seq(items) => merged.extend(items.iter()),
                    Kind::Scalar { .. } => {}
                },
                Some(key) => out.push((key, v)),
                None => {}
            }
        }
        for source in merged {
            for (key, v) in source.entries() {
                if !out.iter().any(|(k, _)| *k == key) {
                    out.push((key, v));
                }
            }
        }
        out
    }

    /// The value of `key` in a mapping (merge keys applied).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()
            .into_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    /// The node as JSON data, scalars resolved with the YAML 1.2 core schema.
    pub fn to_json(&self) -> Value {
        match &self.kind {
            Kind::Scalar { text, style, tag } => scalar_value(text, *style, tag.as_deref()),
            Kind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Kind::Map(_) => {
                let mut map = Map::new();
                for (k, v) in self.entries() {
                    map.insert(k.to_string(), v.to_json());
                }
                Value::Object(map)
            }
        }
    }
}

fn is_plain(node: &Node) -> bool {
    matches!(
        node.kind,
        Kind::Scalar {
            style: ScalarStyle::Plain,
            tag: None,
            ..
        }
    )
}

fn scalar_value(text: &str, style: ScalarStyle, tag: Option<&str>) -> Value {
    if style != ScalarStyle::Plain || tag == Some("str") {
        return Value::String(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Some(n) = parse_int(text) {
        return Value::Number(n.into());
    }
    if is_float(text) {
        if let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(text.to_string())
}

fn parse_int(text: &str) -> Option<i64> {
    if let Some(hex) = text.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok();
    }
    if let Some(oct) = text.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8).ok();
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
fn is_float(text: &str) -> bool {
    let t = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match frac {
        Some(f) => digits(int) && digits(f) && !(int.is_empty() && f.is_empty()),
        None => !int.is_empty() && digits(int),
    };
    let exp_ok = exp.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exp_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_resolve_with_the_core_schema() {
        let cases = [
            ("a: 80", json!({"a": 80})),
            ("a: '80'", json!({"a": "80"})),
            ("a: 1.5", json!({"a": 1.5})),
            ("a: true", json!({"a": true})),
            ("a: yes", json!({"a": "yes"})),
            ("a: ~", json!({"a": null})),
            ("a:", json!({"a": null})),
            ("a: !!str 3", json!({"a": "3"})),
            ("a: 0x1f", json!({"a": 31})),
            ("a: ${PORT:-80}", json!({"a": "${PORT:-80}"})),
            ("a: 1.2.3", json!({"a": "1.2.3"})),
        ];
        for (src, want) in cases {
            assert_eq!(parse(src).unwrap()[0].to_json(), want, "{src}");
        }
    }

    #[test]
    fn merge_keys_and_aliases_are_applied() {
        let src = "x-base: &base\n  image: app\n  restart: always\nservices:\n  web:\n    <<: *base\n    restart: no\n";
        let doc = &parse(src).unwrap()[0];
        assert_eq!(
            doc.to_json()["services"]["web"],
            json!({"restart": "no", "image": "app"})
        );
    }

    #[test]
    fn spans_are_byte_offsets_of_the_scalar_including_quotes() {
        let src =
            "# é comment\nservices:\n  web:\n    env_file: \"./a.env\" # note\n    image: b\n";
        let doc = &parse(src).unwrap()[0];
        let node = doc.get("services").unwrap().get("web").unwrap();
        let env = node.get("env_file").unwrap();
        assert_eq!(&src[env.span.clone()], "\"./a.env\"");
        let image = node.get("image").unwrap();
        assert_eq!(&src[image.span.clone()], "b");
        let src = "a: 'it''s' # c\nb: \"q\\\"x\" # d\n";
        let doc = &parse(src).unwrap()[0];
        assert_eq!(&src[doc.get("a").unwrap().span.clone()], "'it''s'");
        assert_eq!(&src[doc.get("b").unwrap().span.clone()], "\"q\\\"x\"");
    }

    #[test]
    fn duplicate_keys_and_bad_syntax_are_errors() {
        assert!(parse("a: 1\na: 2\n").is_err());
        let err = parse("a: [1, 2\n").unwrap_err();
        assert!(err.line >= 1, "{err:?}");
    }

    #[test]
    fn several_documents_are_kept() {
        assert_eq!(parse("a: 1\n---\nb: 2\n").unwrap().len(), 2);
    }
}
