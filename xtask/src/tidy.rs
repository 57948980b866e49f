//! Tidy: the layout rules of `xtask/src`, checked by a plain test (in the style of
//! rust-analyzer's `xtask/src/tidy.rs`). The source is parsed with `syn` (a dev-dependency),
//! not grepped, so spacing, line breaks, groups, globs, aliases and macros do not hide a path.
//!
//! - The module dependency table: which top-level module may refer to which. Every path counts:
//!   `use` trees (groups, globs, renames), paths in code and types, `super::` chains that climb
//!   out of their top-level module, and the `crate::`/`$crate::`/`super::` paths written in
//!   macro bodies (`macro_rules!` and macro calls alike). What cannot be checked is refused: a
//!   glob from the crate root (`use crate::*`), an alias of `crate`/`super`/`self`
//!   (`use crate as root`, `extern crate self as x`), `crate::$name` in a macro, `#[path]`
//!   modules, and `include!`s that leave `src/`.
//! - Printing: only the face (`commands/`, `report/`, `main.rs`) prints (`println!`,
//!   `eprintln!`, `print!`, `eprint!`, `std::io::stdout()`, `std::io::stderr()`); stages report
//!   through `progress::Sink`. `dbg!` is a leftover anywhere.
//! - Size: no source file over [`MAX_LINES`] lines (large test tables go in a sibling
//!   `tests.rs`), and no function over [`MAX_FN_LINES`] lines outside test code.
//! - Circles: no files of the crate that refer to each other in a circle (tests aside).
//!
//! A broken rule fails the test with one line per problem, naming the file, the line and the
//! rule.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use proc_macro2::{Span, TokenStream, TokenTree};

use circles::{circles, test_only_files};
use macros::{flatten, lit_token};
use syn::visit::{self, Visit};

/// The longest a source file may be.
pub const MAX_LINES: usize = 800;

/// The longest a function may be (from `fn` to its closing brace), test code aside.
pub const MAX_FN_LINES: usize = 150;

/// Every top-level module of the crate and what it may refer to. `*`: anything.
///
/// The stages (`builder`, `attest`, `compose`, `publish`) meet only at `oci::layout` and never
/// import each other;
/// both reach registries through `registry`. `registry`, `oci`, `rust_targets` and
/// `yaml_positions` are libraries. `plan` is pure. `facts` feed the `workspace`, which computes
/// the `plan`. Only `commands` sees `cli`.
const DEPENDENCIES: &[(&str, &[&str])] = &[
    ("lib", &["*"]),
    // `src/bin/stevedore.rs`: the same program as `cargo xtask`, under its own name.
    ("bin", &["commands"]),
    ("main", &["commands"]),
    ("cli", &[]),
    ("commands", &["*"]),
    (
        "report",
        &[
            "attest",
            "builder",
            "compose",
            "config",
            "facts",
            "oci",
            "pipeline",
            "plan",
            "problem",
            "progress",
            "publish",
            "registry",
            "workspace",
        ],
    ),
    (
        "pipeline",
        &[
            "attest", "builder", "compose", "oci", "plan", "problem", "progress", "publish",
            "registry",
        ],
    ),
    ("workspace", &["config", "facts", "plan"]),
    // Release policy: dirty trees and untagged publishes refused, the floating-tag judge.
    ("policy", &["facts", "plan", "problem", "publish"]),
    // The tag-rule grammar and engine (metadata-action's rules, the ref context, versions):
    // `config` parses rules with it, `plan` computes tags with it.
    ("tag_rules", &["oci"]),
    ("config", &["oci", "problem", "tag_rules"]),
    ("facts", &["problem"]),
    ("plan", &["config", "oci", "tag_rules"]),
    ("oci", &[]),
    // Rust target triples and their cross linkers: for `builder/cargo.rs` and `ci/`.
    ("rust_targets", &["oci"]),
    // YAML read as events with positions: for `compose/` and `init/`.
    ("yaml_positions", &[]),
    ("problem", &[]),
    ("registry", &["oci", "problem"]),
    ("exec", &["progress"]),
    ("progress", &[]),
    (
        "builder",
        &[
            "config",
            "exec",
            "oci",
            "plan",
            "problem",
            "progress",
            "registry",
            "rust_targets",
        ],
    ),
    (
        "compose",
        &[
            "oci",
            "plan",
            "problem",
            "progress",
            "registry",
            "yaml_positions",
        ],
    ),
    (
        "attest",
        &["exec", "oci", "plan", "problem", "progress", "registry"],
    ),
    (
        "publish",
        &["oci", "plan", "problem", "progress", "registry"],
    ),
    ("tidy", &["*"]),
    // Workflows from the plan: pure text; the Rust targets and cross linkers from
    // `rust_targets`, the credential variable names from `registry`.
    ("ci", &["config", "oci", "plan", "registry", "rust_targets"]),
    // `init` drafts a config: it reads compose files with `yaml_positions`, checks tag rules
    // with `tag_rules`, names with `oci`, and validates the draft with `config`.
    (
        "init",
        &[
            "compose",
            "config",
            "facts",
            "oci",
            "problem",
            "tag_rules",
            "yaml_positions",
        ],
    ),
];

/// Modules that may print.
const FACE: &[&str] = &["main", "commands", "report", "tidy"];

/// Macros that print to the terminal.
const PRINTS: &[&str] = &["println", "eprintln", "print", "eprint"];

/// Functions still over [`MAX_FN_LINES`], each with who removes it: `(file, fn)`.
const LONG_FNS_ALLOWED: &[(&str, &str)] = &[];

/// Circles of files still open, each with who breaks it (the files, sorted).
const CIRCLES_ALLOWED: &[&[&str]] = &[];

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Path relative to `xtask/src`.
    pub file: String,
    pub line: usize,
    pub rule: &'static str,
    pub detail: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "xtask/src/{}:{}: [{}] {}",
            self.file, self.line, self.rule, self.detail
        )
    }
}

/// The top-level module a file (path relative to `src`, `/`-separated) belongs to.
fn module_of(file: &str) -> &str {
    let first = file.split('/').next().unwrap_or(file);
    first.strip_suffix(".rs").unwrap_or(first)
}

/// The module path of a file of the library: `lib.rs` `[]`, `plan/mod.rs` `[plan]`,
/// `plan/tags/engine.rs` `[plan, tags, engine]`.
fn module_path(file: &str) -> Vec<String> {
    let stem = file.strip_suffix(".rs").unwrap_or(file);
    let mut parts: Vec<String> = stem.split('/').map(str::to_string).collect();
    if parts.last().is_some_and(|p| p == "mod") || parts == ["lib"] {
        parts.pop();
    }
    parts
}

/// The directory that holds the files of a file's child modules (`mod x;` → `dir/x.rs`).
fn child_dir(file: &str) -> String {
    let stem = file.strip_suffix(".rs").unwrap_or(file);
    match stem.rsplit_once('/') {
        Some((dir, "mod")) => format!("{dir}/"),
        None if matches!(stem, "lib" | "main") => String::new(),
        _ => format!("{stem}/"),
    }
}

/// A file no production code reaches: `tests.rs`, `*_tests.rs`, or declared `#[cfg(test)]`.
fn is_test_name(file: &str) -> bool {
    let name = file.rsplit('/').next().unwrap_or(file);
    name == "tests.rs" || name.ends_with("_tests.rs")
}

fn line(span: Span) -> usize {
    span.start().line.max(1)
}

/// `#[cfg(test)]`, `#[cfg(all(test, …))]` or `#[test]`.
fn is_test_attr(attr: &syn::Attribute) -> bool {
    if attr.path().is_ident("test") {
        return true;
    }
    if !attr.path().is_ident("cfg") {
        return false;
    }
    let syn::Meta::List(list) = &attr.meta else {
        return false;
    };
    let words: Vec<String> = flatten(list.tokens.clone())
        .into_iter()
        .filter_map(|t| match t {
            TokenTree::Ident(i) => Some(i.to_string()),
            _ => None,
        })
        .collect();
    words.iter().any(|w| w == "test") && !words.iter().any(|w| w == "not")
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    use syn::Item::*;
    match item {
        Const(i) => &i.attrs,
        Enum(i) => &i.attrs,
        ExternCrate(i) => &i.attrs,
        Fn(i) => &i.attrs,
        ForeignMod(i) => &i.attrs,
        Impl(i) => &i.attrs,
        Macro(i) => &i.attrs,
        Mod(i) => &i.attrs,
        Static(i) => &i.attrs,
        Struct(i) => &i.attrs,
        Trait(i) => &i.attrs,
        TraitAlias(i) => &i.attrs,
        Type(i) => &i.attrs,
        Union(i) => &i.attrs,
        Use(i) => &i.attrs,
        _ => &[],
    }
}

/// What a file refers to inside the crate, for the circle check: `(absolute module path, line)`.
type Refs = Vec<(Vec<String>, usize)>;

/// Walks one parsed file.
struct Checker<'a> {
    file: &'a str,
    module: &'a str,
    allowed: Option<&'static [&'static str]>,
    may_print: bool,
    /// The module path of the scope being walked (the file's, plus inline modules).
    here: Vec<String>,
    /// The child modules declared in each open scope.
    children: Vec<BTreeSet<String>>,
    /// Inside `#[cfg(test)]`/`#[test]` code (or a test-only file): no length or circle rule.
    tests: usize,
    /// The `impl` blocks around the function being walked (their self type), for names.
    impls: Vec<String>,
    problems: Vec<Problem>,
    refs: Refs,
}

impl<'a> Checker<'a> {
    fn problem(&mut self, line: usize, rule: &'static str, detail: String) {
        self.problems.push(Problem {
            file: self.file.to_string(),
            line,
            rule,
            detail,
        });
    }

    /// A path written from this scope: `crate::…`, `super::…`, `self::…`, a child module's, or
    /// something outside the crate (ignored).
    fn path(&mut self, segs: &[String], line: usize) {
        let Some(first) = segs.first() else { return };
        let root_alias = matches!(self.module, "main" | "bin") && first == "xtask";
        let absolute: Vec<String> = if first == "crate" || first == "$crate" || root_alias {
            segs[1..].to_vec()
        } else if first == "super" {
            let climb = segs.iter().take_while(|s| *s == "super").count();
            if climb >= self.here.len() && self.module != "lib" {
                self.problem(
                    line,
                    "module dependencies",
                    format!(
                        "`super::` climbs out of `{}`: name other modules as `crate::…` so the table can check them",
                        self.module
                    ),
                );
                return;
            }
            let base = &self.here[..self.here.len().saturating_sub(climb)];
            base.iter().cloned().chain(segs[climb..].to_vec()).collect()
        } else if first == "self" {
            self.here
                .iter()
                .cloned()
                .chain(segs[1..].to_vec())
                .collect()
        } else if self.children.last().is_some_and(|c| c.contains(first)) {
            self.here.iter().cloned().chain(segs.to_vec()).collect()
        } else {
            return;
        };
        if let Some(target) = absolute.first() {
            self.dependency(target, line);
        }
        if self.tests == 0 {
            self.refs.push((absolute, line));
        }
    }

    fn dependency(&mut self, target: &str, line: usize) {
        let Some(allowed) = self.allowed else { return };
        if allowed.contains(&"*") || target == self.module {
            return;
        }
        if !allowed.contains(&target) {
            let may = if allowed.is_empty() {
                "nothing of the crate".to_string()
            } else {
                allowed.join(", ")
            };
            self.problem(
                line,
                "module dependencies",
                format!(
                    "`{}` may not use `crate::{target}` (it may use: {may})",
                    self.module
                ),
            );
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let full = joined(prefix, &n.ident);
                self.printing_path(&full, line(n.ident.span()));
                self.path(&full, line(n.ident.span()));
            }
            syn::UseTree::Rename(r) => {
                let full = joined(prefix, &r.ident);
                let at = line(r.ident.span());
                if !full.is_empty() && full.iter().all(|s| is_keyword(s)) {
                    self.problem(
                        at,
                        "module dependencies",
                        format!(
                            "`use {} as {}`: an alias of `crate`/`super`/`self` hides which module a path names; write `crate::module::…`",
                            full.join("::"),
                            r.rename
                        ),
                    );
                    return;
                }
                self.printing_path(&full, at);
                self.path(&full, at);
            }
            syn::UseTree::Glob(g) => {
                let at = line(g.star_token.span);
                if prefix.len() == 1 && (prefix[0] == "crate" || prefix[0] == "$crate") {
                    self.problem(
                        at,
                        "module dependencies",
                        "`use crate::*` imports every module at once: name the modules".to_string(),
                    );
                    return;
                }
                let p = prefix.clone();
                self.path(&p, at);
            }
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }

    /// `std::io::stdout` / `io::stderr` named anywhere (a call, a use, a function value).
    fn printing_path(&mut self, segs: &[String], line: usize) {
        let named = segs
            .windows(2)
            .any(|w| w[0] == "io" && (w[1] == "stdout" || w[1] == "stderr"));
        if named {
            let what = format!("{}()", segs.join("::"));
            self.printed(&what, line);
        }
    }

    fn printed(&mut self, what: &str, line: usize) {
        if !self.may_print {
            self.problem(
                line,
                "printing",
                format!(
                    "`{what}` outside the face: only commands/ and report/ print; hand the stage a progress::Sink and write to it"
                ),
            );
        }
    }

    /// A macro call by name: printing, `dbg!`, `include!`.
    fn macro_call(&mut self, name: &str, args: &TokenStream, at: usize) {
        if PRINTS.contains(&name) {
            self.printed(&format!("{name}!"), at);
        } else if name == "dbg" {
            self.problem(
                at,
                "printing",
                "`dbg!` is a debugging leftover: remove it (stages report through progress::Sink)"
                    .to_string(),
            );
        } else if matches!(name, "include" | "include_str" | "include_bytes") {
            self.include(name, args, at);
        }
    }

    fn function(&mut self, name: &str, fn_token: Span, close: Span) {
        let lines = line(close) + 1 - line(fn_token).min(line(close));
        if self.tests > 0 || lines <= MAX_FN_LINES {
            return;
        }
        let name = match self.impls.last() {
            Some(ty) => format!("{ty}::{name}"),
            None => name.to_string(),
        };
        if LONG_FNS_ALLOWED.contains(&(self.file, name.rsplit("::").next().unwrap_or(&name))) {
            return;
        }
        self.problem(
            line(fn_token),
            "function length",
            format!("fn `{name}` is {lines} lines, more than {MAX_FN_LINES}: split it into steps named after what they do"),
        );
    }
}

fn is_keyword(s: &str) -> bool {
    matches!(s, "crate" | "$crate" | "super" | "self")
}

fn joined(prefix: &[String], last: &syn::Ident) -> Vec<String> {
    let mut full = prefix.to_vec();
    if last != "self" {
        full.push(last.to_string());
    }
    full
}

fn path_line(p: &syn::Path) -> usize {
    p.segments.first().map_or(1, |s| line(s.ident.span()))
}

fn path_segs(p: &syn::Path) -> Vec<String> {
    p.segments.iter().map(|s| s.ident.to_string()).collect()
}

impl<'ast> Visit<'ast> for Checker<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let test = item_attrs(item).iter().any(is_test_attr);
        self.tests += usize::from(test);
        visit::visit_item(self, item);
        self.tests -= usize::from(test);
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        for attr in &m.attrs {
            if attr.path().is_ident("path") {
                self.problem(
                    line(attr.pound_token.span),
                    "module files",
                    format!("`#[path]` on `mod {}` moves a module out of its place: name the file after the module", m.ident),
                );
            }
        }
        if let Some(c) = self.children.last_mut() {
            c.insert(m.ident.to_string());
        }
        if let Some((_, items)) = &m.content {
            self.here.push(m.ident.to_string());
            self.children.push(child_mods(items));
            for item in items {
                self.visit_item(item);
            }
            self.children.pop();
            self.here.pop();
        }
    }

    fn visit_item_extern_crate(&mut self, e: &'ast syn::ItemExternCrate) {
        if e.ident == "self" {
            self.problem(
                line(e.extern_token.span),
                "module dependencies",
                "`extern crate self as …`: an alias of the crate hides which module a path names"
                    .to_string(),
            );
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &u.tree);
    }

    fn visit_item_impl(&mut self, i: &'ast syn::ItemImpl) {
        let ty = match &*i.self_ty {
            syn::Type::Path(p) => p
                .path
                .segments
                .last()
                .map(|s| s.ident.to_string())
                .unwrap_or_default(),
            _ => "impl".to_string(),
        };
        self.impls.push(ty);
        visit::visit_item_impl(self, i);
        self.impls.pop();
    }

    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        let outer = std::mem::take(&mut self.impls);
        self.function(
            &f.sig.ident.to_string(),
            f.sig.fn_token.span,
            f.block.brace_token.span.close(),
        );
        visit::visit_item_fn(self, f);
        self.impls = outer;
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        let test = f.attrs.iter().any(is_test_attr);
        self.tests += usize::from(test);
        self.function(
            &f.sig.ident.to_string(),
            f.sig.fn_token.span,
            f.block.brace_token.span.close(),
        );
        visit::visit_impl_item_fn(self, f);
        self.tests -= usize::from(test);
    }

    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        if let Some(block) = &f.default {
            self.function(
                &f.sig.ident.to_string(),
                f.sig.fn_token.span,
                block.brace_token.span.close(),
            );
        }
        visit::visit_trait_item_fn(self, f);
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segs = path_segs(p);
        let at = path_line(p);
        self.printing_path(&segs, at);
        if p.leading_colon.is_none() && segs.len() > 1 {
            self.path(&segs, at);
        }
        visit::visit_path(self, p);
    }

    fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
        if let syn::Expr::Path(p) = &*c.func {
            let segs = path_segs(&p.path);
            if segs.len() == 1 && matches!(segs[0].as_str(), "stdout" | "stderr") {
                self.printed(&format!("{}()", segs[0]), path_line(&p.path));
            }
        }
        visit::visit_expr_call(self, c);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        let name = m
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        let at = path_line(&m.path);
        self.macro_call(&name, &m.tokens, at);
        self.tokens(m.tokens.clone(), false);
        visit::visit_macro(self, m);
    }

    fn visit_attribute(&mut self, a: &'ast syn::Attribute) {
        if let syn::Meta::List(l) = &a.meta {
            self.tokens(l.tokens.clone(), true);
        } else if let syn::Meta::NameValue(nv) = &a.meta {
            if !a.path().is_ident("doc") {
                if let syn::Expr::Lit(lit) = &nv.value {
                    self.tokens(TokenTree::Literal(lit_token(&lit.lit)).into(), true);
                }
            }
        }
    }
}

fn child_mods(items: &[syn::Item]) -> BTreeSet<String> {
    items
        .iter()
        .filter_map(|i| match i {
            syn::Item::Mod(m) => Some(m.ident.to_string()),
            _ => None,
        })
        .collect()
}

/// What checking one file found: its problems and what it refers to in the crate.
struct Scan {
    problems: Vec<Problem>,
    refs: Refs,
}

fn scan(file: &str, text: &str, test_only: bool) -> Scan {
    let module = module_of(file);
    let allowed: Option<&'static [&'static str]> = DEPENDENCIES
        .iter()
        .find(|(m, _)| *m == module)
        .map(|(_, a)| *a);
    let mut problems = Vec::new();
    let lines = text.lines().count();
    if lines > MAX_LINES {
        problems.push(Problem {
            file: file.to_string(),
            line: lines,
            rule: "file size",
            detail: format!(
                "{lines} lines, more than {MAX_LINES}: split it by job (test tables go in a sibling tests.rs)"
            ),
        });
    }
    if allowed.is_none() {
        problems.push(Problem {
            file: file.to_string(),
            line: 1,
            rule: "module table",
            detail: format!(
                "top-level module `{module}` is not in tidy's dependency table: add it with what it may use"
            ),
        });
    }
    let parsed = match syn::parse_file(text) {
        Ok(f) => f,
        Err(e) => {
            problems.push(Problem {
                file: file.to_string(),
                line: line(e.span()),
                rule: "parse",
                detail: format!("tidy cannot parse the file: {e}"),
            });
            return Scan {
                problems,
                refs: Vec::new(),
            };
        }
    };
    let here = if matches!(module, "main" | "bin") {
        Vec::new()
    } else {
        module_path(file)
    };
    let mut checker = Checker {
        file,
        module,
        allowed,
        may_print: FACE.contains(&module),
        here,
        children: vec![child_mods(&parsed.items)],
        tests: usize::from(test_only || is_test_name(file)),
        impls: Vec::new(),
        problems,
        refs: Vec::new(),
    };
    checker.visit_file(&parsed);
    Scan {
        problems: checker.problems,
        refs: checker.refs,
    }
}

/// Checks one file's text; `file` is its path relative to `src`, `/`-separated.
pub fn check_file(file: &str, text: &str) -> Vec<Problem> {
    scan(file, text, false).problems
}

/// Checks every `.rs` file under `src`, and the circles among them.
pub fn check_tree(src: &Path) -> Vec<Problem> {
    let mut files = Vec::new();
    collect(src, src, &mut files);
    files.sort();
    let texts: BTreeMap<String, String> = files
        .iter()
        .map(|(rel, path)| {
            let text = std::fs::read_to_string(path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            (rel.clone(), text)
        })
        .collect();
    let test_only = test_only_files(&texts);
    let mut problems = Vec::new();
    let mut graph: BTreeMap<String, Refs> = BTreeMap::new();
    for (rel, text) in &texts {
        let found = scan(rel, text, test_only.contains(rel));
        problems.extend(found.problems);
        if !matches!(module_of(rel), "main" | "bin") {
            graph.insert(rel.clone(), found.refs);
        }
    }
    problems.extend(circles(&graph));
    problems
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, std::path::PathBuf)>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path
                .strip_prefix(root)
                .expect("under the root")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push((rel, path));
        }
    }
}

mod circles;
mod macros;
#[cfg(test)]
mod tests;
