//! Function lengths, read from a crate's sources with `syn`: every non-test function (free
//! functions, methods and provided trait methods, in every module reachable from the crate
//! root, `#[cfg(test)]` items and modules left out), measured from its `fn` line to its
//! closing brace, blank and comment lines included, as a reader scrolls it.

use std::path::Path;

use syn::spanned::Spanned as _;
use syn::visit::Visit;

use crate::layers::{is_test_only, item_attrs, module_files};

/// A function and its length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    /// `file:line` of its `fn`.
    pub at: String,
    /// Its name.
    pub name: String,
    /// Lines from `fn` to the closing brace.
    pub lines: usize,
}

/// Every non-test function of the crate whose root file is `lib`, longest first.
///
/// # Errors
/// A module file that cannot be read or parsed, named with its path.
pub fn functions(lib: &Path) -> Result<Vec<Function>, String> {
    let mut found = Vec::new();
    for file in module_files(lib)? {
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let parsed = syn::parse_file(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        let mut lengths = Lengths {
            file: &file,
            found: &mut found,
        };
        for item in &parsed.items {
            if !is_test_only(item_attrs(item)) {
                lengths.visit_item(item);
            }
        }
    }
    found.sort_by(|a, b| b.lines.cmp(&a.lines).then_with(|| a.at.cmp(&b.at)));
    Ok(found)
}

struct Lengths<'a> {
    file: &'a Path,
    found: &'a mut Vec<Function>,
}

impl Lengths<'_> {
    fn record(&mut self, name: String, start: usize, end: usize) {
        self.found.push(Function {
            at: format!("{}:{start}", self.file.display()),
            name,
            lines: end.saturating_sub(start) + 1,
        });
    }
}

impl<'ast> Visit<'ast> for Lengths<'_> {
    fn visit_item(&mut self, node: &'ast syn::Item) {
        // Inline `#[cfg(test)]` items and every module are handled by the caller (modules
        // in their own files are read on their own; inline ones are walked here).
        if !is_test_only(item_attrs(node)) {
            syn::visit::visit_item(self, node);
        }
    }

    fn visit_item_mod(&mut self, node: &'ast syn::ItemMod) {
        if let Some((_, items)) = &node.content {
            for item in items {
                self.visit_item(item);
            }
        }
    }

    fn visit_item_fn(&mut self, node: &'ast syn::ItemFn) {
        let start = node.sig.fn_token.span.start().line;
        let end = node.block.span().end().line;
        self.record(node.sig.ident.to_string(), start, end);
        syn::visit::visit_item_fn(self, node);
    }

    fn visit_trait_item_fn(&mut self, node: &'ast syn::TraitItemFn) {
        // A provided method has a body to measure; a required one has none.
        if let Some(block) = &node.default
            && !is_test_only(&node.attrs)
        {
            let start = node.sig.fn_token.span.start().line;
            self.record(node.sig.ident.to_string(), start, block.span().end().line);
        }
        syn::visit::visit_trait_item_fn(self, node);
    }

    fn visit_impl_item_fn(&mut self, node: &'ast syn::ImplItemFn) {
        if is_test_only(&node.attrs) {
            return;
        }
        let start = node.sig.fn_token.span.start().line;
        let end = node.block.span().end().line;
        self.record(node.sig.ident.to_string(), start, end);
        syn::visit::visit_impl_item_fn(self, node);
    }
}
