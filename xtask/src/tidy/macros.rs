//! Paths, prints and includes written inside macros and attributes, which `syn` leaves as
//! tokens: `macro_rules!` bodies, macro call arguments, `#[serde(with = "crate::…")]` strings.

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};

use super::{line, Checker};

impl Checker<'_> {
    /// `include!`-like macros must name a literal file inside `src/`.
    pub(super) fn include(&mut self, name: &str, args: &TokenStream, at: usize) {
        let lit = args.clone().into_iter().next().and_then(|t| match t {
            TokenTree::Literal(l) => syn::parse_str::<syn::LitStr>(&l.to_string()).ok(),
            _ => None,
        });
        let inside = lit.map(|l| {
            // Relative to the including file's directory: count the climbs out of `src/`.
            let mut depth = self.file.matches('/').count() as i64;
            let mut ok = !l.value().starts_with('/');
            for part in l.value().split('/') {
                match part {
                    ".." => depth -= 1,
                    "." | "" => {}
                    _ => depth += 1,
                }
                ok &= depth >= 0;
            }
            ok
        });
        if inside != Some(true) {
            self.problem(
                at,
                "module files",
                format!(
                    "`{name}!` of a file outside src/ (or not a plain literal path): tidy cannot check it; make it a module under src/"
                ),
            );
        }
    }

    /// The tokens of a macro (its body, for `macro_rules!`; its arguments for a call) or of an
    /// attribute: paths, prints and includes written in them.
    pub(super) fn tokens(&mut self, stream: TokenStream, attribute: bool) {
        let toks = flatten(stream);
        let ident = |i: usize| match toks.get(i) {
            Some(TokenTree::Ident(x)) => Some(x.to_string()),
            _ => None,
        };
        let punct = |i: usize, c: char| matches!(toks.get(i), Some(TokenTree::Punct(p)) if p.as_char() == c);
        let colons = |i: usize| {
            matches!(toks.get(i), Some(TokenTree::Punct(p)) if p.as_char() == ':' && p.spacing() == Spacing::Joint)
                && punct(i + 1, ':')
        };
        let mut i = 0;
        while i < toks.len() {
            let at = line(toks[i].span());
            let word = ident(i);
            let after_dot = i > 0 && punct(i - 1, '.');
            match word.as_deref() {
                // `name!(…)`: a macro called inside a macro.
                Some(name) if punct(i + 1, '!') && !after_dot => {
                    let args = match toks.get(i + 2) {
                        Some(TokenTree::Group(g)) => g.stream(),
                        _ => TokenStream::new(),
                    };
                    self.macro_call(name, &args, at);
                }
                Some("stdout" | "stderr")
                    if !after_dot
                        && matches!(toks.get(i + 1), Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis) =>
                {
                    self.printed(&format!("{}()", word.as_deref().unwrap_or("")), at);
                }
                Some("path")
                    if i > 0
                        && matches!(toks.get(i - 1), Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Bracket)
                        && punct(i + 1, '=') =>
                {
                    self.problem(
                        at,
                        "module files",
                        "`#[path]` moves a module out of its place: name it after its file"
                            .to_string(),
                    );
                }
                Some(kw @ ("crate" | "super" | "self" | "xtask")) => {
                    let dollar = i > 0 && punct(i - 1, '$');
                    let after_colons = i >= 2 && punct(i - 1, ':') && punct(i - 2, ':');
                    if after_colons && kw != "super" {
                        i += 1;
                        continue;
                    }
                    if ident(i + 1).as_deref() == Some("as") {
                        self.problem(
                            at,
                            "module dependencies",
                            format!("`{kw} as …` in a macro: an alias of `crate`/`super`/`self` hides which module a path names"),
                        );
                    }
                    // Collect `kw :: a :: b …`.
                    let mut segs = vec![if dollar && kw == "crate" {
                        "$crate".to_string()
                    } else {
                        kw.to_string()
                    }];
                    let mut j = i + 1;
                    while colons(j) {
                        j += 2;
                        if let Some(s) = ident(j) {
                            segs.push(s);
                            j += 1;
                        } else if punct(j, '$') && kw != "self" {
                            self.problem(
                                at,
                                "module dependencies",
                                format!("`{}::$…` in a macro builds the module name at expansion: name the module", segs.join("::")),
                            );
                            break;
                        } else if punct(j, '*') && segs.len() == 1 && segs[0].ends_with("crate") {
                            self.problem(
                                at,
                                "module dependencies",
                                "`use crate::*` imports every module at once: name the modules"
                                    .to_string(),
                            );
                            break;
                        } else if let Some(TokenTree::Group(g)) = toks.get(j) {
                            if g.delimiter() == Delimiter::Brace {
                                if let Ok(tree) =
                                    syn::parse2::<syn::UseTree>(TokenTree::Group(g.clone()).into())
                                {
                                    self.use_tree(&mut segs.clone(), &tree);
                                }
                            }
                            break;
                        } else {
                            break;
                        }
                    }
                    if segs.len() > 1 && (kw != "xtask" || matches!(self.module, "main" | "bin")) {
                        self.path(&segs, at);
                    }
                    i = j.max(i + 1);
                    continue;
                }
                _ => {}
            }
            // Strings in attributes (`#[serde(with = "crate::…")]`) name paths too.
            if let (true, TokenTree::Literal(l)) = (attribute, &toks[i]) {
                if let Ok(s) = syn::parse_str::<syn::LitStr>(&l.to_string()) {
                    let v = s.value();
                    if let Some(rest) = v.strip_prefix("crate::") {
                        let segs: Vec<String> = std::iter::once("crate".to_string())
                            .chain(rest.split("::").map(str::to_string))
                            .collect();
                        self.path(&segs, at);
                    }
                }
            }
            i += 1;
        }
    }
}

/// Every token of a stream, groups opened (a group's delimiters are kept as the group itself
/// before its contents, so that `stdout ()` still sees the parenthesis).
pub(super) fn flatten(stream: TokenStream) -> Vec<TokenTree> {
    let mut out = Vec::new();
    for tt in stream {
        if let TokenTree::Group(g) = &tt {
            let inner = g.stream();
            out.push(tt.clone());
            out.extend(flatten(inner));
        } else {
            out.push(tt);
        }
    }
    out
}

pub(super) fn lit_token(lit: &syn::Lit) -> proc_macro2::Literal {
    match lit {
        syn::Lit::Str(s) => {
            let mut l = proc_macro2::Literal::string(&s.value());
            l.set_span(s.span());
            l
        }
        _ => proc_macro2::Literal::string(""),
    }
}
