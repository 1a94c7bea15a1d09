//! The import graph between a crate's modules, read from its sources with `syn`, and its
//! cycles.
//!
//! Every module of the crate is found from `lib.rs` by following `mod` items the way the
//! compiler does (`name.rs`, `name/mod.rs`, `#[path]`, inline modules); `#[cfg(test)]` items
//! and modules are left out, since tests may reach anywhere. A module *uses* another when
//! its code names it through `crate::`, `super::` or `self::` paths: in `use` items, in
//! types and expressions, and inside macro calls (`format!("{}", crate::x::f())`). Each such
//! reference becomes an edge between the two siblings under their closest common ancestor
//! (`crate::bench::runner` naming `crate::model::plan` is `bench -> model` at the root;
//! `crate::bench::runner` naming `crate::bench::progress` is `runner -> progress` inside
//! `bench`); a module naming its own ancestor or descendant is no edge. [`Graph::cycles`] then lists
//! every strongly connected set of siblings, with where each edge comes from.
//!
//! Written here rather than taken from `cargo modules`: that tool needs a nightly-sized
//! rust-analyzer build and reports whole-item dependencies without the file:line evidence a
//! failing check should print, while this needs only the parser the compiler's own macros use.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

/// A module path inside the crate (`["bench", "runner"]`; empty for the crate root).
pub type ModPath = Vec<String>;

/// One reference from a module to a path of the crate, with where it was written.
#[derive(Clone, Debug)]
struct Reference {
    from: ModPath,
    /// The referenced path, resolved to start at the crate root.
    to: Vec<String>,
    at: String,
}

/// The modules of a crate and the references between them.
#[derive(Debug, Default)]
pub struct Graph {
    modules: BTreeSet<ModPath>,
    references: Vec<Reference>,
    files: Vec<PathBuf>,
}

/// An edge between two sibling modules, with the places that make it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    /// The using module (a child of the cycle's parent).
    pub from: String,
    /// The used module.
    pub to: String,
    /// `file:line` of each reference (at most three are kept).
    pub at: Vec<String>,
}

/// Sibling modules that use each other, directly or through one another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cycle {
    /// Their parent module (`crate` for the root).
    pub parent: String,
    /// The modules in the cycle, sorted.
    pub members: Vec<String>,
    /// The edges between them.
    pub edges: Vec<Edge>,
}

impl fmt::Display for Cycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "import cycle in `{}` between {}:",
            self.parent,
            self.members.join(", ")
        )?;
        for e in &self.edges {
            writeln!(f, "  {} -> {}  ({})", e.from, e.to, e.at.join(", "))?;
        }
        Ok(())
    }
}

impl Graph {
    /// Reads the crate whose root file is `lib`.
    ///
    /// # Errors
    /// A module file that cannot be read or parsed, named with its path.
    pub fn read(lib: &Path) -> Result<Self, String> {
        let mut graph = Self::default();
        let dir = lib.parent().unwrap_or(Path::new(".")).to_path_buf();
        graph.read_file(lib, &dir, Vec::new())?;
        Ok(graph)
    }

    /// Every module found, as `a::b` paths.
    #[must_use]
    pub fn modules(&self) -> Vec<String> {
        self.modules.iter().map(|m| m.join("::")).collect()
    }

    fn read_file(&mut self, file: &Path, child_dir: &Path, path: ModPath) -> Result<(), String> {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        self.files.push(file.to_path_buf());
        let parsed = syn::parse_file(&text).map_err(|e| {
            let at = e.span().start();
            format!("{}:{}:{}: {e}", file.display(), at.line, at.column + 1)
        })?;
        self.read_items(&parsed.items, file, child_dir, path)
    }

    fn read_items(
        &mut self,
        items: &[syn::Item],
        file: &Path,
        child_dir: &Path,
        path: ModPath,
    ) -> Result<(), String> {
        self.modules.insert(path.clone());
        let mut collector = Collector {
            module: &path,
            file,
            found: Vec::new(),
        };
        for item in items {
            if is_test_only(item_attrs(item)) {
                continue;
            }
            if let syn::Item::Mod(m) = item {
                let mut child = path.clone();
                child.push(m.ident.to_string());
                let attr_path = path_attr(&m.attrs);
                if let Some((_, inline)) = &m.content {
                    let dir = match &attr_path {
                        Some(p) => child_dir.join(p),
                        None => child_dir.join(m.ident.to_string()),
                    };
                    self.read_items(inline, file, &dir, child)?;
                } else {
                    let (child_file, dir) =
                        module_file(child_dir, &m.ident.to_string(), attr_path)?;
                    self.read_file(&child_file, &dir, child)?;
                }
                continue;
            }
            collector.visit_item(item);
        }
        self.references.extend(collector.found);
        Ok(())
    }

    /// The module a resolved path names: its longest prefix that is a module.
    fn module_of(&self, to: &[String]) -> ModPath {
        (0..=to.len())
            .rev()
            .map(|n| to[..n].to_vec())
            .find(|p| self.modules.contains(p))
            .unwrap_or_default()
    }

    /// Edges between sibling modules, keyed by their parent.
    #[must_use]
    pub fn sibling_edges(&self) -> BTreeMap<String, Vec<Edge>> {
        let mut by_parent: BTreeMap<String, BTreeMap<(String, String), Vec<String>>> =
            BTreeMap::new();
        for r in &self.references {
            let to = self.module_of(&r.to);
            let common = r.from.iter().zip(&to).take_while(|(a, b)| a == b).count();
            if common == r.from.len() || common == to.len() {
                continue; // the same module, an ancestor or a descendant
            }
            let parent = if common == 0 {
                "crate".to_owned()
            } else {
                r.from[..common].join("::")
            };
            let places = by_parent
                .entry(parent)
                .or_default()
                .entry((r.from[common].clone(), to[common].clone()))
                .or_default();
            if places.len() < 3 && !places.contains(&r.at) {
                places.push(r.at.clone());
            }
        }
        by_parent
            .into_iter()
            .map(|(parent, edges)| {
                let edges = edges
                    .into_iter()
                    .map(|((from, to), at)| Edge { from, to, at })
                    .collect();
                (parent, edges)
            })
            .collect()
    }

    /// Every cycle between sibling modules, at every level.
    #[must_use]
    pub fn cycles(&self) -> Vec<Cycle> {
        let mut cycles = Vec::new();
        for (parent, edges) in self.sibling_edges() {
            for members in strongly_connected(&edges) {
                let inside = edges
                    .iter()
                    .filter(|e| members.contains(&e.from) && members.contains(&e.to))
                    .cloned()
                    .collect();
                cycles.push(Cycle {
                    parent: parent.clone(),
                    members: members.into_iter().collect(),
                    edges: inside,
                });
            }
        }
        cycles
    }
}

/// Sets of two or more nodes that reach each other (Tarjan's algorithm).
fn strongly_connected(edges: &[Edge]) -> Vec<BTreeSet<String>> {
    struct State<'a> {
        next: BTreeMap<&'a str, Vec<&'a str>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<BTreeSet<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.next.get(v).cloned().unwrap_or_default() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low[v];
                s.low.insert(v, lv.min(lw));
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low[v];
                s.low.insert(v, lv.min(iw));
            }
        }
        if s.low[v] == s.index[v] {
            let mut set = BTreeSet::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                set.insert(w.to_owned());
                if w == v {
                    break;
                }
            }
            if set.len() > 1 {
                s.found.push(set);
            }
        }
    }
    let mut state = State {
        next: BTreeMap::new(),
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for e in edges {
        state.next.entry(&e.from).or_default().push(&e.to);
    }
    let nodes: Vec<&str> = state.next.keys().copied().collect();
    for v in nodes {
        if !state.index.contains_key(v) {
            visit(&mut state, v);
        }
    }
    state.found
}

/// Every file of the crate's non-test module tree, the root first.
///
/// # Errors
/// As [`Graph::read`].
pub fn module_files(lib: &Path) -> Result<Vec<PathBuf>, String> {
    Ok(Graph::read(lib)?.files)
}

/// The file of an out-of-line module and the directory its own children live in.
fn module_file(
    dir: &Path,
    name: &str,
    attr_path: Option<String>,
) -> Result<(PathBuf, PathBuf), String> {
    if let Some(p) = attr_path {
        let file = dir.join(p);
        let child_dir = file.parent().unwrap_or(dir).join(name);
        return Ok((file, child_dir));
    }
    let flat = dir.join(format!("{name}.rs"));
    if flat.is_file() {
        return Ok((flat, dir.join(name)));
    }
    let nested = dir.join(name).join("mod.rs");
    if nested.is_file() {
        return Ok((nested, dir.join(name)));
    }
    Err(format!(
        "module `{name}`: neither {} nor {} exists",
        flat.display(),
        nested.display()
    ))
}

pub(crate) fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    match item {
        syn::Item::Const(i) => &i.attrs,
        syn::Item::Enum(i) => &i.attrs,
        syn::Item::ExternCrate(i) => &i.attrs,
        syn::Item::Fn(i) => &i.attrs,
        syn::Item::ForeignMod(i) => &i.attrs,
        syn::Item::Impl(i) => &i.attrs,
        syn::Item::Macro(i) => &i.attrs,
        syn::Item::Mod(i) => &i.attrs,
        syn::Item::Static(i) => &i.attrs,
        syn::Item::Struct(i) => &i.attrs,
        syn::Item::Trait(i) => &i.attrs,
        syn::Item::TraitAlias(i) => &i.attrs,
        syn::Item::Type(i) => &i.attrs,
        syn::Item::Union(i) => &i.attrs,
        syn::Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

/// Whether the attributes make an item exist only in test builds (`#[cfg(test)]`).
pub(crate) fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Ident>()
                .is_ok_and(|ident| ident == "test")
    })
}

fn path_attr(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|a| {
        let syn::Meta::NameValue(nv) = &a.meta else {
            return None;
        };
        if !nv.path.is_ident("path") {
            return None;
        }
        match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        }
    })
}

/// Collects the crate paths one module's code names.
struct Collector<'a> {
    module: &'a ModPath,
    file: &'a Path,
    found: Vec<Reference>,
}

impl Collector<'_> {
    /// Records `segments` (as written) when they start at `crate`, `super` or `self`.
    fn record(&mut self, segments: &[String], line: usize) {
        let Some(first) = segments.first() else {
            return;
        };
        let mut base: Vec<String> = match first.as_str() {
            "crate" => Vec::new(),
            "self" | "super" => self.module.clone(),
            _ => return,
        };
        let mut rest = &segments[1..];
        if first == "super" {
            base.pop();
        }
        while rest.first().is_some_and(|s| s == "super") {
            base.pop();
            rest = &rest[1..];
        }
        base.extend(rest.iter().cloned());
        self.found.push(Reference {
            from: self.module.clone(),
            to: base,
            at: format!("{}:{line}", self.file.display()),
        });
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree, line: usize) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree, line);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let mut full = prefix.clone();
                if n.ident != "self" {
                    full.push(n.ident.to_string());
                }
                self.record(&full, line);
            }
            syn::UseTree::Rename(r) => {
                let mut full = prefix.clone();
                if r.ident != "self" {
                    full.push(r.ident.to_string());
                }
                self.record(&full, line);
            }
            syn::UseTree::Glob(_) => {
                let full = prefix.clone();
                self.record(&full, line);
            }
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t, line);
                }
            }
        }
    }

    /// Paths inside macro input: `crate :: a :: b` token runs.
    fn tokens(&mut self, tokens: TokenStream) {
        let flat: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < flat.len() {
            match &flat[i] {
                TokenTree::Group(g) => self.tokens(g.stream()),
                TokenTree::Ident(id) if id == "crate" || id == "super" => {
                    let line = id.span().start().line;
                    let mut segments = vec![id.to_string()];
                    let mut j = i + 1;
                    loop {
                        let colons = matches!(
                            (flat.get(j), flat.get(j + 1)),
                            (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)))
                                if a.as_char() == ':' && b.as_char() == ':'
                        );
                        match (colons, flat.get(j + 2)) {
                            (true, Some(TokenTree::Ident(next))) => {
                                segments.push(next.to_string());
                                j += 3;
                            }
                            _ => break,
                        }
                    }
                    if segments.len() > 1 {
                        self.record(&segments, line);
                    }
                    i = j;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
    }
}

impl<'ast> Visit<'ast> for Collector<'_> {
    fn visit_item_use(&mut self, node: &'ast syn::ItemUse) {
        let line = node.use_token.span.start().line;
        self.use_tree(&mut Vec::new(), &node.tree, line);
    }

    fn visit_path(&mut self, node: &'ast syn::Path) {
        if node.segments.len() > 1 {
            let segments: Vec<String> = node.segments.iter().map(|s| s.ident.to_string()).collect();
            let line = node
                .segments
                .first()
                .map_or(0, |s| s.ident.span().start().line);
            self.record(&segments, line);
        }
        syn::visit::visit_path(self, node);
    }

    fn visit_macro(&mut self, node: &'ast syn::Macro) {
        self.tokens(node.tokens.clone());
        syn::visit::visit_macro(self, node);
    }

    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {
        // Doc links and attributes are no use of a module.
    }

    fn visit_item_mod(&mut self, _: &'ast syn::ItemMod) {
        // Nested modules are read on their own (see `Graph::read_items`).
    }

    fn visit_item(&mut self, node: &'ast syn::Item) {
        if !is_test_only(item_attrs(node)) {
            syn::visit::visit_item(self, node);
        }
    }

    fn visit_impl_item_fn(&mut self, node: &'ast syn::ImplItemFn) {
        if !is_test_only(&node.attrs) {
            syn::visit::visit_impl_item_fn(self, node);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, files: &[(&str, &str)]) {
        for (name, text) in files {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).unwrap();
            }
            std::fs::write(path, text).unwrap();
        }
    }

    fn cycles_of(files: &[(&str, &str)]) -> Vec<Cycle> {
        let dir = std::env::temp_dir().join(format!(
            "nfslab-layers-{}-{}",
            std::process::id(),
            files.iter().map(|f| f.1.len()).sum::<usize>()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        write(&dir, files);
        let graph = Graph::read(&dir.join("lib.rs")).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        graph.cycles()
    }

    #[test]
    fn a_use_in_each_direction_is_a_cycle_with_its_places() {
        let cycles = cycles_of(&[
            ("lib.rs", "pub mod a;\npub mod b;\n"),
            ("a.rs", "use crate::b::B;\npub struct A;\n"),
            (
                "b.rs",
                "pub struct B;\n\npub fn f() -> crate::a::A { crate::a::A }\n",
            ),
        ]);
        assert_eq!(cycles.len(), 1, "{cycles:?}");
        assert_eq!(cycles[0].parent, "crate");
        assert_eq!(cycles[0].members, ["a", "b"]);
        let text = cycles[0].to_string();
        assert!(text.contains("a -> b") && text.contains("a.rs:1"), "{text}");
        assert!(text.contains("b -> a") && text.contains("b.rs:3"), "{text}");
    }

    #[test]
    fn one_direction_is_a_layer_not_a_cycle() {
        let cycles = cycles_of(&[
            ("lib.rs", "pub mod a;\npub mod b;\n"),
            ("a.rs", "use crate::b::B;\n"),
            ("b.rs", "pub struct B;\n"),
        ]);
        assert!(cycles.is_empty(), "{cycles:?}");
    }

    #[test]
    fn test_only_code_is_left_out() {
        let cycles = cycles_of(&[
            ("lib.rs", "pub mod a;\npub mod b;\n"),
            ("a.rs", "use crate::b::B;\npub struct A;\n"),
            (
                "b.rs",
                "pub struct B;\n#[cfg(test)]\nmod tests { use crate::a::A; }\n\
                 #[cfg(test)]\nfn helper() -> crate::a::A { crate::a::A }\n",
            ),
        ]);
        assert!(cycles.is_empty(), "{cycles:?}");
    }

    #[test]
    fn paths_inside_macros_and_super_count() {
        let cycles = cycles_of(&[
            ("lib.rs", "pub mod outer;\n"),
            ("outer/mod.rs", "pub mod a;\npub mod b;\n"),
            (
                "outer/a.rs",
                "pub fn f() { println!(\"{}\", super::b::g()); }\n",
            ),
            (
                "outer/b.rs",
                "pub fn g() -> u8 { format!(\"{}\", crate::outer::a::f()).len() as u8 }\n",
            ),
        ]);
        assert_eq!(cycles.len(), 1, "{cycles:?}");
        assert_eq!(cycles[0].parent, "outer");
        assert_eq!(cycles[0].members, ["a", "b"]);
    }

    #[test]
    fn a_parent_and_its_children_are_no_cycle_and_deep_paths_meet_at_their_common_parent() {
        let cycles = cycles_of(&[
            ("lib.rs", "pub mod x;\npub mod y;\n"),
            (
                "x/mod.rs",
                "pub mod inner;\npub use inner::I;\npub struct X;\n",
            ),
            (
                "x/inner.rs",
                "pub struct I(pub super::X);\npub fn f() -> crate::y::deep::D { todo!() }\n",
            ),
            ("y/mod.rs", "pub mod deep;\n"),
            ("y/deep.rs", "pub struct D;\npub fn g(_: crate::x::X) {}\n"),
        ]);
        assert_eq!(cycles.len(), 1, "{cycles:?}");
        assert_eq!(cycles[0].parent, "crate");
        assert_eq!(cycles[0].members, ["x", "y"]);
    }

    #[test]
    fn path_attributes_and_inline_modules_are_followed() {
        let dir = std::env::temp_dir().join(format!("nfslab-layers-path-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        write(
            &dir,
            &[
                (
                    "lib.rs",
                    "pub mod a;\npub mod b { pub mod c; }\n#[path = \"elsewhere.rs\"]\npub mod d;\n",
                ),
                ("a.rs", ""),
                ("b/c.rs", ""),
                ("elsewhere.rs", ""),
            ],
        );
        let graph = Graph::read(&dir.join("lib.rs")).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(graph.modules(), ["", "a", "b", "b::c", "d"]);
    }

    #[test]
    fn a_missing_module_file_is_named() {
        let dir =
            std::env::temp_dir().join(format!("nfslab-layers-missing-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        write(&dir, &[("lib.rs", "pub mod gone;\n")]);
        let err = Graph::read(&dir.join("lib.rs")).unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            err.contains("gone.rs") && err.contains("gone/mod.rs"),
            "{err}"
        );
    }
}
