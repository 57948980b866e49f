//! Circles of files: which files only test code reaches, and the sets of files that refer to
//! each other in a circle.

use std::collections::{BTreeMap, BTreeSet};

use super::{child_dir, is_test_attr, module_path, Problem, Refs, CIRCLES_ALLOWED};

/// The files only `#[cfg(test)] mod x;` declarations reach (and the files below them).
pub(super) fn test_only_files(texts: &BTreeMap<String, String>) -> BTreeSet<String> {
    let mut declared: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for (rel, text) in texts {
        let Ok(parsed) = syn::parse_file(text) else {
            continue;
        };
        for item in &parsed.items {
            if let syn::Item::Mod(m) = item {
                if m.content.is_none() {
                    let test = m.attrs.iter().any(is_test_attr);
                    let dir = child_dir(rel);
                    for child in [
                        format!("{dir}{}.rs", m.ident),
                        format!("{dir}{}/mod.rs", m.ident),
                    ] {
                        declared.insert(child, (rel.clone(), test));
                    }
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    for rel in texts.keys() {
        let mut at = rel.clone();
        // Up the declaration chain: a test-only ancestor makes the file test-only.
        for _ in 0..32 {
            match declared.get(&at) {
                Some((_, true)) => {
                    out.insert(rel.clone());
                    break;
                }
                Some((parent, false)) => at = parent.clone(),
                None => break,
            }
        }
    }
    out
}

/// Circles of files: each set of files that reach each other through their paths (a file's
/// own ancestors, whose items its children use by `super::`, aside).
pub(super) fn circles(graph: &BTreeMap<String, Refs>) -> Vec<Problem> {
    let by_path: BTreeMap<Vec<String>, &String> =
        graph.keys().map(|f| (module_path(f), f)).collect();
    let mut edges: BTreeMap<&String, BTreeMap<&String, usize>> = BTreeMap::new();
    for (file, refs) in graph {
        let mine = module_path(file);
        for (path, at) in refs {
            let target = (0..=path.len())
                .rev()
                .find_map(|n| by_path.get(&path[..n]).copied());
            let Some(target) = target else { continue };
            let theirs = module_path(target);
            if target == file || mine.starts_with(&theirs) {
                continue;
            }
            edges.entry(file).or_default().entry(target).or_insert(*at);
        }
    }
    let reach = |from: &String| -> BTreeSet<&String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from];
        while let Some(f) = todo.pop() {
            for next in edges.get(f).into_iter().flat_map(|e| e.keys()) {
                if seen.insert(*next) {
                    todo.push(*next);
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&String, BTreeSet<&String>> =
        graph.keys().map(|f| (f, reach(f))).collect();
    let mut done = BTreeSet::new();
    let mut problems = Vec::new();
    for file in graph.keys() {
        if done.contains(file) || !reachable[file].contains(file) {
            continue;
        }
        let members: Vec<&String> = graph
            .keys()
            .filter(|g| reachable[file].contains(g) && reachable[*g].contains(file))
            .collect();
        done.extend(members.iter().copied());
        let names: Vec<&str> = members.iter().map(|s| s.as_str()).collect();
        if CIRCLES_ALLOWED.contains(&names.as_slice()) {
            continue;
        }
        let uses: Vec<String> = members
            .iter()
            .flat_map(|m| {
                edges
                    .get(m)
                    .into_iter()
                    .flatten()
                    .filter(|(t, _)| members.contains(t))
                    .map(move |(t, at)| format!("{m}:{at} uses {t}"))
            })
            .collect();
        problems.push(Problem {
            file: file.clone(),
            line: 1,
            rule: "file circle",
            detail: format!(
                "{} refer to each other in a circle ({}): move what both need into one of them or a third file",
                names.join(", "),
                uses.join("; ")
            ),
        });
    }
    problems
}
