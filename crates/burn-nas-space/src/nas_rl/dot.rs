//! Graphviz drawing of a NAS-RL architecture.

use std::fmt::Write;

use super::arch::NasRlArch;

pub(crate) fn to_dot(arch: &NasRlArch) -> String {
    let mut out = String::from(
        "digraph nas_rl {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", shape=box];\n  image [label=\"image\", shape=ellipse];\n",
    );
    // Writing into a String cannot fail.
    for (i, l) in arch.layers.iter().enumerate() {
        let _ = writeln!(
            out,
            "  l{i} [label=\"{i}: {}x{}, {} filters, stride {}\"];",
            l.filter_height,
            l.filter_width,
            l.filters,
            l.stride_label()
        );
    }
    let _ = writeln!(
        out,
        "  output [label=\"concat + classifier\", shape=ellipse];"
    );
    for (i, l) in arch.layers.iter().enumerate() {
        if l.inputs.is_empty() {
            let _ = writeln!(out, "  image -> l{i};");
        }
        for j in &l.inputs {
            let _ = writeln!(out, "  l{j} -> l{i};");
        }
    }
    for i in arch.outputs() {
        let _ = writeln!(out, "  l{i} -> output;");
    }
    out.push_str("}\n");
    out
}
