//! Graphviz drawing of a micro architecture: one cluster per cell.

use std::fmt::Write;

use super::arch::{Cell, MicroArch};

fn anchor_label(i: usize) -> String {
    match i {
        0 => "c_{k-2}".to_string(),
        1 => "c_{k-1}".to_string(),
        n => format!("node {}", n - 2),
    }
}

fn write_cell(out: &mut String, id: &str, title: &str, cell: &Cell) {
    // Writing into a String cannot fail.
    let _ = writeln!(out, "  subgraph cluster_{id} {{");
    let _ = writeln!(out, "    label=\"{title}\";");
    for i in 0..cell.anchors() {
        let shape = if i < 2 { "ellipse" } else { "box" };
        let _ = writeln!(
            out,
            "    {id}_x{i} [label=\"{}\", shape={shape}];",
            anchor_label(i)
        );
    }
    let _ = writeln!(
        out,
        "    {id}_out [label=\"c_{{k}} (concat)\", shape=ellipse];"
    );
    for (b, node) in cell.nodes.iter().enumerate() {
        for k in 0..2 {
            let _ = writeln!(
                out,
                "    {id}_x{} -> {id}_x{} [label=\"{}\"];",
                node.inputs[k],
                b + 2,
                node.ops[k]
            );
        }
    }
    for i in cell.loose_ends() {
        let _ = writeln!(out, "    {id}_x{i} -> {id}_out [style=dashed];");
    }
    let _ = writeln!(out, "  }}");
}

pub(crate) fn to_dot(arch: &MicroArch) -> String {
    let mut out = String::from(
        "digraph enas_micro {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n",
    );
    write_cell(&mut out, "normal", "normal cell", &arch.normal);
    write_cell(&mut out, "reduce", "reduction cell", &arch.reduce);
    out.push_str("}\n");
    out
}
