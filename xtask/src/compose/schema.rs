//! Validation against compose-spec's JSON schema, the way compose-go does it.
//!
//! compose-go (v2.9.1, `loader/loader.go`) validates a file *after* interpolating it and casting
//! the values at a fixed list of paths (`loader/interpolate.go`) to integers, floats and
//! booleans. Here the file is interpolated with its own defaults only (see [`super::interp`]),
//! cast at the same paths, then validated with the vendored schema. An error on a value that
//! holds a variable without a default is not reported: only the user's environment at `up` time
//! decides it. Like compose-go (`schema/schema.go`), each failure is reported by its most specific
//! cause.

use std::collections::BTreeSet;

use boon::{Compiler, ErrorKind as Kw, InstanceToken, SchemaIndex, Schemas, ValidationError};
use serde_json::Value;

use super::interp;

/// compose-spec's schema: compose-spec/compose-go `schema/compose-spec.json` at tag v2.9.1, the
/// version Docker Compose v2.40.3 builds with.
pub const COMPOSE_SPEC_SCHEMA: &str = include_str!("compose-spec.json");

/// One schema failure: where (`services.web.ports[0]`) and what.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SchemaError {
    pub path: String,
    pub message: String,
}

/// The compiled schema.
pub struct Validator {
    schemas: Schemas,
    index: SchemaIndex,
}

impl Validator {
    pub fn new() -> Self {
        let schema: Value =
            serde_json::from_str(COMPOSE_SPEC_SCHEMA).expect("the vendored schema is JSON");
        let mut compiler = Compiler::new();
        let mut schemas = Schemas::new();
        compiler
            .add_resource("compose-spec.json", schema)
            .expect("the vendored schema is added once");
        let index = compiler
            .compile("compose-spec.json", &mut schemas)
            .expect("the vendored schema compiles");
        Validator { schemas, index }
    }

    /// Validates one document as compose does, after interpolation with defaults and casting.
    pub fn validate(&self, doc: &Value) -> Vec<SchemaError> {
        let mut doc = doc.clone();
        let mut unresolved = BTreeSet::new();
        let mut cast_errors = vec![];
        prepare(&mut doc, &mut vec![], &mut unresolved, &mut cast_errors);
        let mut errors = cast_errors;
        if let Err(e) = self.schemas.validate(&doc, self.index) {
            let roots: Vec<&ValidationError> = if e.causes.is_empty() {
                vec![&e]
            } else {
                e.causes.iter().collect()
            };
            for root in roots {
                let leaf = most_specific(root);
                let path = path_of(leaf);
                if unresolved.iter().any(|u: &String| u == &path) {
                    continue;
                }
                errors.push(SchemaError {
                    message: message(leaf),
                    path,
                });
            }
        }
        errors.sort();
        errors.dedup();
        errors
    }
}

impl Default for Validator {
    fn default() -> Self {
        Validator::new()
    }
}

#[derive(Clone, Copy)]
enum Cast {
    Int,
    Float,
    Bool,
}

/// compose-go's `interpolateTypeCastMapping`: `*` is any key, `[]` any list item.
const CASTS: &[(&str, Cast)] = &[
    ("services.*.cpu_count", Cast::Int),
    ("services.*.cpu_percent", Cast::Float),
    ("services.*.cpu_period", Cast::Int),
    ("services.*.cpu_quota", Cast::Int),
    ("services.*.cpu_rt_period", Cast::Int),
    ("services.*.cpu_rt_runtime", Cast::Int),
    ("services.*.cpus", Cast::Float),
    ("services.*.cpu_shares", Cast::Int),
    ("services.*.init", Cast::Bool),
    ("services.*.deploy.replicas", Cast::Int),
    ("services.*.deploy.update_config.parallelism", Cast::Int),
    (
        "services.*.deploy.update_config.max_failure_ratio",
        Cast::Float,
    ),
    ("services.*.deploy.rollback_config.parallelism", Cast::Int),
    (
        "services.*.deploy.rollback_config.max_failure_ratio",
        Cast::Float,
    ),
    ("services.*.deploy.restart_policy.max_attempts", Cast::Int),
    (
        "services.*.deploy.placement.max_replicas_per_node",
        Cast::Int,
    ),
    ("services.*.healthcheck.retries", Cast::Int),
    ("services.*.healthcheck.disable", Cast::Bool),
    ("services.*.oom_kill_disable", Cast::Bool),
    ("services.*.oom_score_adj", Cast::Int),
    ("services.*.pids_limit", Cast::Int),
    ("services.*.ports.[].target", Cast::Int),
    ("services.*.privileged", Cast::Bool),
    ("services.*.read_only", Cast::Bool),
    ("services.*.scale", Cast::Int),
    ("services.*.stdin_open", Cast::Bool),
    ("services.*.tty", Cast::Bool),
    ("services.*.ulimits.*", Cast::Int),
    ("services.*.ulimits.*.hard", Cast::Int),
    ("services.*.ulimits.*.soft", Cast::Int),
    ("services.*.volumes.[].read_only", Cast::Bool),
    ("services.*.volumes.[].volume.nocopy", Cast::Bool),
    ("networks.*.external", Cast::Bool),
    ("networks.*.internal", Cast::Bool),
    ("networks.*.attachable", Cast::Bool),
    ("networks.*.enable_ipv4", Cast::Bool),
    ("networks.*.enable_ipv6", Cast::Bool),
    ("volumes.*.external", Cast::Bool),
    ("secrets.*.external", Cast::Bool),
    ("configs.*.external", Cast::Bool),
];

/// A path segment: a key, or `None` for a list item.
type Seg = Option<String>;

fn matches(pattern: &str, path: &[Seg]) -> bool {
    let parts: Vec<&str> = pattern.split('.').collect();
    parts.len() == path.len()
        && parts.iter().zip(path).all(|(p, s)| match (p, s) {
            (&"[]", None) => true,
            (&"*", Some(_)) => true,
            (p, Some(k)) => p == k,
            _ => false,
        })
}

fn display_path(path: &[Seg], indices: &[usize]) -> String {
    let mut out = String::new();
    let mut idx = indices.iter();
    for seg in path {
        match seg {
            Some(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            None => out.push_str(&format!("[{}]", idx.next().copied().unwrap_or(0))),
        }
    }
    out
}

/// Interpolates every string value with its defaults and casts at compose-go's paths.
fn prepare(
    v: &mut Value,
    path: &mut Vec<(Seg, usize)>,
    unresolved: &mut BTreeSet<String>,
    cast_errors: &mut Vec<SchemaError>,
) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                path.push((Some(k.clone()), 0));
                prepare(child, path, unresolved, cast_errors);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter_mut().enumerate() {
                path.push((None, i));
                prepare(child, path, unresolved, cast_errors);
                path.pop();
            }
        }
        Value::String(s) => {
            let segs: Vec<Seg> = path.iter().map(|(s, _)| s.clone()).collect();
            let indices: Vec<usize> = path
                .iter()
                .filter(|(s, _)| s.is_none())
                .map(|(_, i)| *i)
                .collect();
            let shown = display_path(&segs, &indices);
            let resolved = interp::with_defaults(s);
            if !resolved.unresolved.is_empty() {
                unresolved.insert(shown);
                return;
            }
            let text = resolved.text;
            match CASTS.iter().find(|(p, _)| matches(p, &segs)) {
                Some((_, cast)) => match cast_value(&text, *cast) {
                    Some(casted) => *v = casted,
                    None => cast_errors.push(SchemaError {
                        path: shown,
                        message: format!("{text:?} is not a valid {}", cast_name(*cast)),
                    }),
                },
                None => *v = Value::String(text),
            }
        }
        _ => {}
    }
}

fn cast_name(cast: Cast) -> &'static str {
    match cast {
        Cast::Int => "integer",
        Cast::Float => "number",
        Cast::Bool => "boolean",
    }
}

fn cast_value(s: &str, cast: Cast) -> Option<Value> {
    match cast {
        Cast::Int => s.parse::<i64>().ok().map(Value::from),
        Cast::Float => s
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
        Cast::Bool => match s.to_ascii_lowercase().as_str() {
            "true" | "y" | "yes" | "on" => Some(Value::Bool(true)),
            "false" | "n" | "no" | "off" => Some(Value::Bool(false)),
            _ => None,
        },
    }
}

fn specificity(e: &ValidationError) -> usize {
    let extra = usize::from(matches!(e.kind, Kw::AdditionalProperties { .. }));
    e.instance_location.tokens.len() + extra
}

/// compose-go's `getMostSpecificError`: the deepest cause, first found on ties.
fn most_specific<'a, 's, 'v>(e: &'a ValidationError<'s, 'v>) -> &'a ValidationError<'s, 'v> {
    let mut best: Option<&ValidationError> = None;
    for cause in &e.causes {
        let c = most_specific(cause);
        if best.is_none_or(|b| specificity(c) > specificity(b)) {
            best = Some(c);
        }
    }
    best.unwrap_or(e)
}

fn path_of(e: &ValidationError) -> String {
    let mut out = String::new();
    for t in &e.instance_location.tokens {
        match t {
            InstanceToken::Prop(p) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(p);
            }
            InstanceToken::Item(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn message(e: &ValidationError) -> String {
    match &e.kind {
        Kw::Type { want, .. } => {
            let mut names: Vec<String> = want
                .iter()
                .map(|t| match t.to_string().as_str() {
                    "object" => "mapping".to_string(),
                    other => other.to_string(),
                })
                .collect();
            names.sort();
            match names.split_last() {
                Some((last, rest)) if !rest.is_empty() => {
                    format!("must be a {} or {last}", rest.join(", "))
                }
                _ => format!("must be a {}", names.join("")),
            }
        }
        Kw::Minimum { want, .. } => format!("must be greater than or equal to {want}"),
        Kw::Maximum { want, .. } => format!("must be less than or equal to {want}"),
        kind => kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(doc: Value) -> Vec<SchemaError> {
        Validator::new().validate(&doc)
    }

    #[test]
    fn valid_files_pass_including_interpolated_typed_values() {
        let docs = [
            json!({"services": {"web": {"image": "nginx", "ports": ["80:80"]}}}),
            json!({"services": {"web": {"image": "nginx", "ports": [{"target": "${PORT:-80}"}]}}}),
            json!({"services": {"web": {"image": "x", "privileged": "${PRIV:-false}"}}}),
            json!({"services": {"web": {"image": "x", "ports": [{"target": "${PORT}"}]}}}),
            json!({"services": {"web": {"image": "x"}}, "x-anything": {"a": 1}}),
            json!({"services": {"web": {"image": "x", "use_api_socket": "${SOCK}"}}}),
        ];
        for doc in docs {
            assert_eq!(errors(doc.clone()), vec![], "{doc}");
        }
    }

    #[test]
    fn invalid_files_name_the_path_and_the_problem() {
        let cases = [
            (
                json!({"services": {"web": {"image": "x", "ports": [{"target": []}]}}}),
                "services.web.ports[0].target",
                "must be a",
            ),
            (
                json!({"services": {"web": {"image": "x", "imagee": "y"}}}),
                "services.web",
                "imagee",
            ),
            (
                json!({"services": {"web": {"image": "x", "use_api_socket": "${S:-true}"}}}),
                "services.web.use_api_socket",
                "must be a boolean",
            ),
            (
                json!({"services": {"web": {"image": "x", "privileged": "${P:-maybe}"}}}),
                "services.web.privileged",
                "not a valid boolean",
            ),
            (json!({"servicez": {}}), "", "servicez"),
        ];
        for (doc, path, text) in cases {
            let got = errors(doc.clone());
            assert!(
                got.iter()
                    .any(|e| e.path == path && e.message.contains(text)),
                "{doc}: {got:?}"
            );
        }
    }

    #[test]
    fn cast_patterns_match_keys_and_list_items() {
        let p = |s: &[&str]| -> Vec<Seg> {
            s.iter()
                .map(|x| {
                    if *x == "[]" {
                        None
                    } else {
                        Some(x.to_string())
                    }
                })
                .collect()
        };
        assert!(matches(
            "services.*.ports.[].target",
            &p(&["services", "web", "ports", "[]", "target"])
        ));
        assert!(!matches(
            "services.*.ports.[].target",
            &p(&["services", "web", "ports", "target"])
        ));
        assert!(matches(
            "services.*.ulimits.*",
            &p(&["services", "web", "ulimits", "nofile"])
        ));
    }
}
