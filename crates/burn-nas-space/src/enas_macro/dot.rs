//! Graphviz drawing of a macro architecture: the layer chain plus dashed skip edges.

use std::fmt::Write;

use super::arch::MacroArch;

pub(crate) fn to_dot(arch: &MacroArch) -> String {
    let mut out = String::from(
        "digraph enas_macro {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", shape=box];\n  input [label=\"input\", shape=ellipse];\n",
    );
    // Writing into a String cannot fail.
    for (i, layer) in arch.layers.iter().enumerate() {
        let _ = writeln!(out, "  l{i} [label=\"{i}: {}\"];", layer.op);
    }
    let _ = writeln!(out, "  output [label=\"pool + linear\", shape=ellipse];");
    out.push_str("  input -> l0;\n");
    for (i, layer) in arch.layers.iter().enumerate() {
        if i > 0 {
            let _ = writeln!(out, "  l{} -> l{i};", i - 1);
        }
        for s in &layer.skips {
            let _ = writeln!(out, "  l{s} -> l{i} [style=dashed];");
        }
    }
    let _ = writeln!(out, "  l{} -> output;", arch.layers.len().saturating_sub(1));
    out.push_str("}\n");
    out
}
