//! The layering of `handshake-core`, checked on its sources: which top-level module may use which
//! (`crate::<module>` paths), that the module graph has no cycle, and that only the consent gate
//! mints a gate pass. docs/architecture.md draws the same picture.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The code of a file without its comments (line comments and doc comments).
fn code(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules each top-level module refers to with `crate::<module>`.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = src();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(&root) {
        let relative = file.strip_prefix(&root).unwrap();
        let first = relative.components().next().unwrap().as_os_str();
        let module = first.to_string_lossy().trim_end_matches(".rs").to_owned();
        if module == "lib" {
            continue;
        }
        let uses = graph.entry(module.clone()).or_default();
        let text = code(&file);
        for (at, _) in text.match_indices("crate::") {
            let rest = &text[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name != module && name.chars().all(|c| !c.is_uppercase()) {
                uses.insert(name);
            }
        }
    }
    graph
}

#[test]
fn the_vocabulary_imports_nothing_of_the_core() {
    let graph = module_graph();
    assert!(graph["vocab"].is_empty(), "vocab uses {:?}", graph["vocab"]);
}

#[test]
fn adapters_know_no_configuration_and_no_governance() {
    let graph = module_graph();
    for (module, forbidden) in [
        (
            "llm",
            &["registry", "consent", "profiles", "recorder", "facade"][..],
        ),
        (
            "egress",
            &["registry", "llm", "consent", "profiles", "facade"][..],
        ),
    ] {
        let found: Vec<&&str> = forbidden
            .iter()
            .filter(|f| graph[module].contains(**f))
            .collect();
        assert!(found.is_empty(), "{module} uses {found:?}");
    }
}

#[test]
fn the_module_graph_has_no_cycle() {
    let graph = module_graph();
    // Depth-first search with colours; a grey node met again closes a cycle.
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<&'a str, bool>,
        path: &mut Vec<&'a str>,
    ) {
        match state.get(node) {
            Some(true) => return,
            Some(false) => panic!("module cycle: {} -> {node}", path.join(" -> ")),
            None => {}
        }
        state.insert(node, false);
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, state, path);
        }
        path.pop();
        state.insert(node, true);
    }
    let mut state = BTreeMap::new();
    for module in graph.keys() {
        visit(module, &graph, &mut state, &mut Vec::new());
    }
}

#[test]
fn only_the_consent_gate_mints_a_gate_pass() {
    let root = src();
    let files_naming = |needle: &str| {
        let mut files: Vec<String> = rust_files(&root)
            .into_iter()
            .filter(|f| code(f).contains(needle))
            .map(|f| f.strip_prefix(&root).unwrap().display().to_string())
            .collect();
        files.sort();
        files
    };
    // cloud_pass.rs defines the pass (its own tests mint passes to test the check); the gate is
    // the only other file that may even name the type, so no alias can mint one elsewhere.
    assert_eq!(
        files_naming("GatePass"),
        ["consent/gate.rs", "llm/cloud_pass.rs"]
    );
    assert_eq!(
        files_naming("GatePass::mint("),
        ["consent/gate.rs", "llm/cloud_pass.rs"]
    );
    assert_eq!(files_naming("GATE_PASS"), ["llm/cloud_pass.rs"]);
}

#[test]
fn the_graph_is_read_from_the_sources() {
    // Guards the checks above against a parser that finds nothing.
    let graph = module_graph();
    assert!(graph["facade"].contains("registry"));
    assert!(graph["consent"].contains("llm"));
    assert!(graph.len() >= 12, "{:?}", graph.keys());
}
