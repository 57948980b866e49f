//! A YAML document tree with byte spans, built from `saphyr-parser` events.
//!
//! Compose files are read for two things: their data (schema validation, checks, image pinning)
//! and the exact place of a few scalars (`env_file`, `extends.file`), which are rewritten in the
//! raw bytes the way compose does. Anchors and aliases are expanded; merge keys (`<<`) are applied
//! when reading a mapping, as compose's YAML decoder does.
//!
//! Every file read here is hostile input, so the tree is bounded: the text at [`MAX_BYTES`], the
//! nesting at [`MAX_DEPTH`] (aliases included), and alias expansion by go-yaml's rule (the one
//! compose's decoder applies, `decode.go` `allowedAliasRatio`): once a document has more than
//! 1,000 nodes and more than 100 of them come from aliases, the share that comes from aliases may
//! not exceed 99% (up to 400,000 nodes), falling linearly to 10% (from 4,000,000 nodes). A
//! "billion laughs" file of a few hundred bytes is refused after a few thousand nodes instead of
//! growing to gigabytes.

use std::collections::{HashMap, HashSet};
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

/// The largest YAML text read (compose files and workflows are a few KiB).
pub const MAX_BYTES: usize = 1 << 20;
/// The deepest nesting of sequences and mappings, aliases expanded.
pub const MAX_DEPTH: usize = 200;

/// A syntax error, or a document over a bound: 1-based line and column (0: the document as a
/// whole), and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// Whether a bound was hit ([`MAX_BYTES`], [`MAX_DEPTH`], excessive aliasing) rather than
    /// the syntax being wrong: such a file is refused, not skipped.
    pub limit: bool,
}

impl SyntaxError {
    fn limit(line: usize, message: String) -> SyntaxError {
        SyntaxError {
            line,
            column: 0,
            message,
            limit: true,
        }
    }

    /// What to do about it.
    pub fn fix(&self) -> &'static str {
        if self.limit {
            "write the repeated parts out instead of nesting aliases of aliases, and keep the file \
             under 1 MiB and 200 levels deep"
        } else {
            "fix the YAML syntax"
        }
    }
}

/// Reads a YAML (or bake) file as text, refusing more than [`MAX_BYTES`] (without reading them).
pub fn read_file(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_BYTES as u64 + 1)
        .read_to_string(&mut text)?;
    if text.len() > MAX_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {} MiB, the most stevedore reads of a compose, workflow or bake file",
            MAX_BYTES >> 20
        )));
    }
    Ok(text)
}

/// go-yaml's share of nodes that may come from alias expansion in a document of `decoded`
/// nodes (`decode.go` `allowedAliasRatio`).
fn allowed_alias_ratio(decoded: usize) -> f64 {
    const LOW: usize = 400_000;
    const HIGH: usize = 4_000_000;
    if decoded <= LOW {
        0.99
    } else if decoded >= HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((decoded - LOW) as f64 / (HIGH - LOW) as f64)
    }
}

/// go-yaml's "excessive aliasing": more than 100 aliased nodes in more than 1,000, and too
/// large a share of them.
fn excessive_aliasing(decoded: usize, aliased: usize) -> bool {
    aliased > 100
        && decoded > 1000
        && aliased as f64 / decoded as f64 > allowed_alias_ratio(decoded)
}

/// Parses every document of `text`, within the bounds above.
pub fn parse(text: &str) -> Result<Vec<Node>, SyntaxError> {
    if text.len() > MAX_BYTES {
        return Err(SyntaxError::limit(
            0,
            format!(
                "the file is {} bytes, more than the {} MiB a YAML file may have",
                text.len(),
                MAX_BYTES >> 20
            ),
        ));
    }
    // Only the anchors some alias names are kept (a copy each), so a first pass finds them.
    let referenced: HashSet<usize> = Parser::new_from_str(text)
        .map_while(Result::ok)
        .filter_map(|(event, _)| match event {
            Event::Alias(id) => Some(id),
            _ => None,
        })
        .collect();
    let offsets = CharOffsets::new(text);
    let mut builder = Builder {
        text,
        docs: vec![],
        stack: vec![],
        referenced,
        anchors: HashMap::new(),
        decoded: 0,
        aliased: 0,
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| SyntaxError {
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: e.info().to_string(),
            limit: false,
        })?;
        let line = span.start.line();
        builder
            .on_event(event, offsets.range(span))
            .map_err(|mut e| {
                if e.line == 0 {
                    e.line = line;
                }
                e
            })?;
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

enum Shape {
    Seq,
    Map,
}

/// A sequence or mapping being read: where it starts, its anchor, its items so far, and the
/// size (nodes, itself included) and height (levels, itself included) of its subtree.
struct Open {
    shape: Shape,
    start: Range<usize>,
    anchor: usize,
    items: Vec<Node>,
    /// A mapping's keys so far (duplicates are refused).
    keys: HashSet<String>,
    size: usize,
    height: usize,
}

struct Builder<'t> {
    text: &'t str,
    docs: Vec<Node>,
    stack: Vec<Open>,
    /// The anchors an alias names.
    referenced: HashSet<usize>,
    /// Anchored nodes an alias names, with their subtree's size and height.
    anchors: HashMap<usize, (Node, usize, usize)>,
    /// Nodes in the tree so far, and how many of them come from aliases.
    decoded: usize,
    aliased: usize,
}

impl Builder<'_> {
    fn on_event(&mut self, event: Event<'_>, span: Range<usize>) -> Result<(), SyntaxError> {
        match event {
            Event::SequenceStart(anchor, _) => self.open(Shape::Seq, span, anchor)?,
            Event::MappingStart(anchor, _) => self.open(Shape::Map, span, anchor)?,
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(open) = self.stack.pop() else {
                    return Ok(());
                };
                let kind = match open.shape {
                    Shape::Seq => Kind::Seq(open.items),
                    Shape::Map => {
                        let mut pairs = Vec::with_capacity(open.items.len() / 2);
                        let mut it = open.items.into_iter();
                        while let (Some(k), Some(v)) = (it.next(), it.next()) {
                            pairs.push((k, v));
                        }
                        Kind::Map(pairs)
                    }
                };
                let node = Node {
                    span: open.start.start..span.end.max(open.start.end),
                    kind,
                };
                self.push(node, open.anchor, open.size, open.height)?;
            }
            Event::Scalar(text, style, anchor, tag) => {
                self.decoded += 1;
                let node = Node {
                    span: quoted_span(self.text, span, style),
                    kind: Kind::Scalar {
                        text: text.into_owned(),
                        style,
                        tag: tag.map(|t| t.suffix.clone()),
                    },
                };
                self.push(node, anchor, 1, 1)?;
            }
            Event::Alias(id) => {
                let (size, height) = match self.anchors.get(&id) {
                    Some((_, size, height)) => (*size, *height),
                    None => {
                        return Err(SyntaxError {
                            line: 0,
                            column: 0,
                            message: "alias to an unknown anchor".into(),
                            limit: false,
                        })
                    }
                };
                self.check_depth(self.stack.len() + height)?;
                // Counted before the copy is made: the copy is what would exhaust memory.
                self.charge_aliases(size)?;
                let node = self.anchors[&id].0.clone();
                self.push(node, 0, size, height)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn open(
        &mut self,
        shape: Shape,
        start: Range<usize>,
        anchor: usize,
    ) -> Result<(), SyntaxError> {
        self.check_depth(self.stack.len() + 1)?;
        self.decoded += 1;
        self.stack.push(Open {
            shape,
            start,
            anchor,
            items: vec![],
            keys: HashSet::new(),
            size: 1,
            height: 1,
        });
        Ok(())
    }

    /// Counts `size` more nodes that come from aliases (go-yaml's rule). The copy of an
    /// anchored node kept for its aliases is counted the same way: it is what the aliases cost,
    /// and nested anchors would otherwise copy the same nodes once per level.
    fn charge_aliases(&mut self, size: usize) -> Result<(), SyntaxError> {
        let decoded = self.decoded.saturating_add(size);
        let aliased = self.aliased.saturating_add(size);
        if excessive_aliasing(decoded, aliased) {
            return Err(SyntaxError::limit(
                0,
                format!(
                    "the document contains excessive aliasing: its aliases would expand to \
                     {aliased} of {decoded} nodes, more than the {:.0}% go-yaml (compose's YAML \
                     decoder) allows",
                    allowed_alias_ratio(decoded) * 100.0
                ),
            ));
        }
        self.decoded = decoded;
        self.aliased = aliased;
        Ok(())
    }

    fn check_depth(&self, depth: usize) -> Result<(), SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(SyntaxError::limit(
                0,
                format!("the document nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn push(
        &mut self,
        node: Node,
        anchor: usize,
        size: usize,
        height: usize,
    ) -> Result<(), SyntaxError> {
        if anchor != 0 && self.referenced.contains(&anchor) {
            self.charge_aliases(size)?;
            self.anchors.insert(anchor, (node.clone(), size, height));
        }
        let Some(open) = self.stack.last_mut() else {
            self.docs.push(node);
            return Ok(());
        };
        open.size = open.size.saturating_add(size);
        open.height = open.height.max(height + 1);
        if matches!(open.shape, Shape::Map) && open.items.len() % 2 == 0 {
            if let Some(key) = node.as_str() {
                let dup = !open.keys.insert(key.to_string());
                if dup && key != "<<" {
                    return Err(SyntaxError {
                        line: 0,
                        column: 0,
                        message: format!("mapping key {key:?} already defined"),
                        limit: false,
                    });
                }
            }
        }
        open.items.push(node);
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
        if merged.is_empty() {
            return out;
        }
        let mut seen: HashSet<&str> = out.iter().map(|(k, _)| *k).collect();
        for source in merged {
            for (key, v) in source.entries() {
                if seen.insert(key) {
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

    /// `levels` anchors, each a sequence of `fan` aliases of the one before (9 × 9: 446 bytes,
    /// 9^9 nodes expanded).
    pub fn alias_bomb(levels: usize, fan: usize) -> String {
        let mut text = String::from("a0: &a0 [\"lol\"]\n");
        for i in 1..=levels {
            let items = vec![format!("*a{}", i - 1); fan].join(",");
            text.push_str(&format!("a{i}: &a{i} [{items}]\n"));
        }
        text
    }

    #[test]
    fn alias_bombs_are_refused_as_go_yaml_refuses_them() {
        let bomb = alias_bomb(9, 9);
        let start = std::time::Instant::now();
        let err = parse(&bomb).unwrap_err();
        assert!(err.limit, "{err:?}");
        assert!(err.message.contains("excessive aliasing"), "{err:?}");
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        // Nested anchors, each copied for its alias: the copies count too.
        let mut nested = String::from("x: ");
        for i in 0..150 {
            nested.push_str(&format!("&n{i} ["));
        }
        nested.push_str(&vec!["1"; 2000].join(","));
        nested.push_str(&"]".repeat(150));
        nested.push_str("\ny: [");
        nested.push_str(
            &(0..150)
                .map(|i| format!("*n{i}"))
                .collect::<Vec<_>>()
                .join(","),
        );
        nested.push_str("]\n");
        assert!(parse(&nested)
            .unwrap_err()
            .message
            .contains("excessive aliasing"));
        // What compose files do with anchors is far below the limit.
        let mut services = String::from("x-base: &base\n  restart: always\n  environment: &env\n");
        for i in 0..50 {
            services.push_str(&format!("    V{i}: x\n"));
        }
        services.push_str("services:\n");
        for i in 0..200 {
            services.push_str(&format!("  s{i}:\n    <<: *base\n    labels: *env\n"));
        }
        let doc = &parse(&services).unwrap()[0];
        assert_eq!(doc.get("services").unwrap().entries().len(), 200);
        assert_eq!(parse(&alias_bomb(3, 3)).unwrap().len(), 1);
    }

    #[test]
    fn the_allowed_alias_share_follows_go_yaml() {
        let cases = [
            (1_000, 0.99),
            (400_000, 0.99),
            (2_200_000, 0.545),
            (4_000_000, 0.10),
            (9_000_000, 0.10),
        ];
        for (decoded, want) in cases {
            let got = allowed_alias_ratio(decoded);
            assert!((got - want).abs() < 1e-9, "{decoded}: {got}");
        }
        assert!(
            !excessive_aliasing(1000, 999),
            "needs more than 1,000 nodes"
        );
        assert!(
            !excessive_aliasing(100_000, 100),
            "needs more than 100 aliased"
        );
        assert!(excessive_aliasing(1001, 1000));
        assert!(!excessive_aliasing(1001, 990));
    }

    #[test]
    fn deep_and_large_documents_are_refused() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let err = parse(&deep).unwrap_err();
        assert!(err.limit && err.message.contains("deeper"), "{err:?}");
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
        // An alias makes the tree deeper than it is written.
        let half = MAX_DEPTH / 2 + 1;
        let via_alias = format!(
            "a: &a {}{}\nb: {}*a{}\n",
            "[".repeat(half),
            "]".repeat(half),
            "[".repeat(half),
            "]".repeat(half)
        );
        assert!(parse(&via_alias).unwrap_err().message.contains("deeper"));
        let large = format!("a: \"{}\"\n", "x".repeat(MAX_BYTES));
        let err = parse(&large).unwrap_err();
        assert!(err.limit && err.message.contains("1 MiB"), "{err:?}");
        let err = parse("a: [1, 2\n").unwrap_err();
        assert!(!err.limit);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("compose.yaml");
        std::fs::write(&file, &large).unwrap();
        let err = read_file(&file).unwrap_err().to_string();
        assert!(err.contains("larger than 1 MiB"), "{err}");
        std::fs::write(&file, "a: 1\n").unwrap();
        assert_eq!(read_file(&file).unwrap(), "a: 1\n");
    }

    #[test]
    fn several_documents_are_kept() {
        assert_eq!(parse("a: 1\n---\nb: 2\n").unwrap().len(), 2);
    }
}
