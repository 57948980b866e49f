//! TOML to the raw config: every unknown key and bad value collected, with its line.

use super::*;

/// The config's raw form and every problem serde finds in it: an unknown key, a bad value or a
/// bad platform does not hide the next one. The first problem comes from parsing the text (with
/// its line and column); the key it names is then removed from a parsed copy and deserializing
/// goes on, so that the following problems are found too. The raw form is what is left once
/// every bad key is removed (`None` when that is not a config), for validation to go on.
pub(super) fn deserialize(text: &str) -> (Option<RawConfig>, Vec<(String, String)>) {
    let de = match toml::Deserializer::parse(text) {
        Ok(de) => de,
        Err(e) => return (None, vec![(String::new(), toml_message(&e, text))]),
    };
    let first = match serde_path_to_error::deserialize::<_, RawConfig>(de) {
        Ok(raw) => return (Some(raw), Vec::new()),
        Err(e) => e,
    };
    let key = |path: &serde_path_to_error::Path| match path.to_string() {
        p if p == "." => String::new(),
        p => p,
    };
    let mut problems = vec![(key(first.path()), toml_message(first.inner(), text))];
    let Ok(mut value) = toml::from_str::<toml::Value>(text) else {
        return (None, problems);
    };
    let mut path = first.path().clone();
    let mut removed = Removed::default();
    for _ in 0..100 {
        if !remove_path(&mut value, &path) {
            break;
        }
        removed.record(&path);
        match serde_path_to_error::deserialize::<_, RawConfig>(value.clone()) {
            Ok(raw) => return (Some(raw), problems),
            Err(e) => {
                // The key as the text numbers it: earlier removals shifted later elements.
                let k = removed.in_text(e.path());
                let msg = e.inner().message().trim().to_string();
                // A value removed above is now missing: that is the same problem again.
                if msg.starts_with("missing field") {
                    break;
                }
                let msg = match line_of(text, &k) {
                    Some(line) => format!("line {line}: {msg}"),
                    None => msg,
                };
                problems.push((k, msg));
                path = e.path().clone();
            }
        }
    }
    (None, problems)
}

/// The array elements removed from the config so far, numbered as in the text: the array's
/// key and the element's index.
#[derive(Default)]
struct Removed(Vec<(String, usize)>);

impl Removed {
    /// `path`, of the config with elements removed, as the text numbers it (`[0]`, `[1]`, …).
    fn in_text(&self, path: &serde_path_to_error::Path) -> String {
        use serde_path_to_error::Segment;
        let mut key = String::new();
        for seg in path.iter() {
            match seg {
                Segment::Seq { index } => {
                    let mut gone: Vec<usize> = self
                        .0
                        .iter()
                        .filter(|(array, _)| *array == key)
                        .map(|(_, i)| *i)
                        .collect();
                    gone.sort_unstable();
                    let mut i = *index;
                    for g in gone {
                        if g <= i {
                            i += 1;
                        }
                    }
                    key.push_str(&format!("[{i}]"));
                }
                other => {
                    if !key.is_empty() {
                        key.push('.');
                    }
                    key.push_str(&other.to_string());
                }
            }
        }
        key
    }

    /// Notes that the value at `path` (of the config with earlier elements removed) is gone.
    fn record(&mut self, path: &serde_path_to_error::Path) {
        use serde_path_to_error::Segment;
        if let Some(Segment::Seq { .. }) = path.iter().next_back() {
            let full = self.in_text(path);
            if let Some((array, index)) = full.rsplit_once('[') {
                let index = index.trim_end_matches(']').parse().unwrap_or(0);
                self.0.push((array.to_string(), index));
            }
        }
    }
}

/// Removes the value at `path` (a key of a table, an element of an array); false when there is
/// nothing there to remove.
pub(super) fn remove_path(value: &mut toml::Value, path: &serde_path_to_error::Path) -> bool {
    use serde_path_to_error::Segment;
    let segments: Vec<&Segment> = path.iter().collect();
    let Some((last, parents)) = segments.split_last() else {
        return false;
    };
    let mut cur = value;
    for seg in parents {
        cur = match (seg, cur) {
            (Segment::Map { key }, toml::Value::Table(t)) => match t.get_mut(key) {
                Some(v) => v,
                None => return false,
            },
            (Segment::Seq { index }, toml::Value::Array(a)) => match a.get_mut(*index) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match (last, cur) {
        (Segment::Map { key }, toml::Value::Table(t)) => t.remove(key).is_some(),
        (Segment::Seq { index }, toml::Value::Array(a)) if *index < a.len() => {
            a.remove(*index);
            true
        }
        _ => false,
    }
}

/// The line of the first `name =` (the last part of a dotted key path) in `text`.
pub(super) fn line_of(text: &str, key: &str) -> Option<usize> {
    let name = key.rsplit('.').next()?.split('[').next()?;
    if name.is_empty() {
        return None;
    }
    text.lines()
        .position(|l| {
            l.match_indices(name).any(|(i, _)| {
                let before = l[..i].chars().next_back();
                let after = l[i + name.len()..].trim_start();
                matches!(before, None | Some(' ' | '{' | ',' | '\t' | '"'))
                    && (after.starts_with('=') || after.starts_with("\" ="))
            })
        })
        .map(|i| i + 1)
}

/// A toml error as one line: `line L, column C: message`.
pub(super) fn toml_message(e: &toml::de::Error, text: &str) -> String {
    let msg = e.message().trim().to_string();
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {col}: {msg}")
        }
        None => msg,
    }
}
