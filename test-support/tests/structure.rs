//! The structure of nfslab's crates as checked facts, read from their sources:
//! - no module of the harness library, the `nfslab` binary, the workload crate or the
//!   mount-option crate uses a sibling that (directly or through others) uses it back, at
//!   any level of the module tree; a failure lists each cycle with the `file:line` of every
//!   edge;
//! - no function outside tests is longer than 150 lines; a failure lists each with its
//!   length and place.

use std::path::Path;

use nfslab_test_support::layers::Graph;

fn check(krate: &str, root_file: &str, known: &[(&str, &str)], min_modules: usize) {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new(".."));
    let lib = workspace.join(krate).join("src").join(root_file);
    let graph = Graph::read(&lib).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        graph.modules().len() > min_modules,
        "{krate}: only {} modules found from {}",
        graph.modules().len(),
        lib.display()
    );
    // The check sees the layering it guards: the edges every build has are there.
    let edges = graph.sibling_edges();
    let root = edges.get("crate").map(Vec::as_slice).unwrap_or_default();
    for (from, to) in known {
        assert!(
            root.iter().any(|e| e.from == *from && e.to == *to),
            "{krate}: expected the edge {from} -> {to} among {root:#?}"
        );
    }
    let cycles = graph.cycles();
    let text: String = cycles.iter().map(ToString::to_string).collect();
    assert!(cycles.is_empty(), "{krate}:\n{text}");
}

#[test]
fn the_harness_has_no_import_cycle() {
    check(
        "harness",
        "lib.rs",
        &[
            ("report", "model"),
            ("bench", "model"),
            ("cluster", "k8s"),
            ("run", "scenario"),
        ],
        30,
    );
}

#[test]
fn the_workload_crate_has_no_import_cycle() {
    check(
        "workloads",
        "lib.rs",
        &[("cli", "engine"), ("engine", "job"), ("fio", "job")],
        20,
    );
}

#[test]
fn the_mount_option_crate_has_no_import_cycle() {
    check(
        "mount-options",
        "lib.rs",
        &[("list", "option"), ("diff", "list")],
        3,
    );
}

#[test]
fn the_nfslab_binary_has_no_import_cycle() {
    // The CLI's modules (`src/main.rs`, `src/cli/`): commands use the errors module and the
    // shared helpers of `cli`, never each other in a circle.
    check("harness", "main.rs", &[], 10);
}

/// No function outside tests is longer than this many lines (`fn` to closing brace).
const MAX_FUNCTION_LINES: usize = 150;

#[test]
fn no_function_outside_tests_is_over_150_lines() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new(".."));
    let mut long = Vec::new();
    let mut seen = 0;
    for root in [
        "harness/src/lib.rs",
        "harness/src/main.rs",
        "workloads/src/lib.rs",
        "mount-options/src/lib.rs",
    ] {
        let functions = nfslab_test_support::functions::functions(&workspace.join(root))
            .unwrap_or_else(|e| panic!("{e}"));
        seen += functions.len();
        long.extend(
            functions
                .into_iter()
                .filter(|f| f.lines > MAX_FUNCTION_LINES)
                .map(|f| format!("  {} lines: {} ({})", f.lines, f.name, f.at)),
        );
    }
    assert!(seen > 1000, "only {seen} functions found");
    assert!(
        long.is_empty(),
        "functions over {MAX_FUNCTION_LINES} lines (split them into named steps):\n{}",
        long.join("\n")
    );
}
