//! The layering of nfslab's crates is a checked fact: no module of the harness or of the
//! workload crate uses a sibling that (directly or through others) uses it back, at any
//! level of the module tree. A failure lists each cycle with the `file:line` of every edge.

use std::path::Path;

use nfslab_test_support::layers::Graph;

fn check(krate: &str, known: &[(&str, &str)]) {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new(".."));
    let lib = workspace.join(krate).join("src/lib.rs");
    let graph = Graph::read(&lib).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        graph.modules().len() > 10,
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
        &[
            ("report", "model"),
            ("bench", "model"),
            ("cluster", "k8s"),
            ("run", "scenario"),
        ],
    );
}
#[test]
fn the_workload_crate_has_no_import_cycle() {
    check(
        "workloads",
        &[("cli", "engine"), ("engine", "job"), ("fio", "job")],
    );
}
