//! The official ENAS integer strings for micro architectures.
//!
//! Four integers per node, `input_1 op_1 input_2 op_2`, the normal cell's nodes first and then
//! the reduction cell's: 40 integers for `B = 5`. Op ids are ENAS's (see [`MicroOp`]).

use super::arch::{Cell, CellKind, MicroArch, Node};
use super::op::MicroOp;
use crate::enas_ints::parse_ints;
use crate::error::{ArchError, Result, range_upto};
use crate::space::Architecture;

fn cell_from_ints(kind: CellKind, ints: &[usize]) -> Result<Cell> {
    let nodes = ints
        .chunks_exact(4)
        .enumerate()
        .map(|(b, c)| {
            let op = |k: usize, id: usize| {
                MicroOp::from_enas_id(id).ok_or_else(|| ArchError::OutOfRange {
                    location: format!("{}, node {b}", kind.label()),
                    field: format!("op {k}"),
                    value: id,
                    allowed: range_upto(MicroOp::ALL.len()),
                })
            };
            Ok(Node {
                inputs: [c[0], c[2]],
                ops: [op(1, c[1])?, op(2, c[3])?],
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Cell { nodes })
}

fn cell_to_ints(cell: &Cell, out: &mut Vec<usize>) {
    for node in &cell.nodes {
        out.extend([
            node.inputs[0],
            node.ops[0].enas_id(),
            node.inputs[1],
            node.ops[1].enas_id(),
        ]);
    }
}

impl MicroArch {
    /// Parses an official ENAS micro string (normal cell then reduction cell, 4 integers per
    /// node; any whitespace between integers, so the two-line form works too).
    ///
    /// # Errors
    /// [`ArchError::NotAnInteger`] for a bad word, [`ArchError::WrongLength`] when the count is
    /// not a positive multiple of 8, [`ArchError::OutOfRange`] for an op id or input index out
    /// of range.
    pub fn from_enas_string(text: &str) -> Result<MicroArch> {
        let ints = parse_ints("micro", text)?;
        if ints.is_empty() || ints.len() % 8 != 0 {
            return Err(ArchError::WrongLength {
                what: "ENAS micro string integers".into(),
                expected: "a positive multiple of 8 (4 per node, normal cell then reduction cell)"
                    .into(),
                found: ints.len(),
            });
        }
        let (normal, reduce) = ints.split_at(ints.len() / 2);
        let arch = MicroArch {
            normal: cell_from_ints(CellKind::Normal, normal)?,
            reduce: cell_from_ints(CellKind::Reduction, reduce)?,
        };
        arch.validate()?;
        Ok(arch)
    }

    /// The official ENAS micro string: normal cell then reduction cell, single spaces.
    pub fn to_enas_string(&self) -> String {
        let mut ints = Vec::with_capacity(8 * self.normal.nodes.len());
        cell_to_ints(&self.normal, &mut ints);
        cell_to_ints(&self.reduce, &mut ints);
        ints.iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    }
}
