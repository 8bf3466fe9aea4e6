//! [`MicroArch`]: an ENAS normal cell and reduction cell as plain data.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::op::MicroOp;
use crate::error::{ArchError, Result, range_upto};
use crate::space::Architecture;

/// Which of the two cells of a [`MicroArch`] (`"normal"` / `"reduction"` in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CellKind {
    /// The normal cell (keeps the spatial size).
    Normal,
    /// The reduction cell (halves the spatial size, doubles channels).
    Reduction,
}

impl CellKind {
    /// `"normal cell"` / `"reduction cell"`, as used in messages.
    pub fn label(self) -> &'static str {
        match self {
            CellKind::Normal => "normal cell",
            CellKind::Reduction => "reduction cell",
        }
    }
}

/// One node of a cell: two inputs, one op on each, summed.
///
/// Inputs index the cell's *anchors*: 0 and 1 are the outputs of the two previous cells,
/// `2 + b` is node `b` of this cell. Node `b` may use inputs `0..=b+1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Node {
    /// The two inputs (`input 1`, `input 2` in messages).
    pub inputs: [usize; 2],
    /// The op applied to each input.
    pub ops: [MicroOp; 2],
}

/// A cell: `B` nodes in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cell {
    /// The nodes; node `b` may read the two cell inputs and nodes `0..b`.
    pub nodes: Vec<Node>,
}

impl Cell {
    /// Number of anchors (`2 + B`): two cell inputs plus one per node.
    pub fn anchors(&self) -> usize {
        self.nodes.len() + 2
    }

    /// For each anchor, whether some node of the cell reads it.
    pub fn used(&self) -> Vec<bool> {
        let mut used = vec![false; self.anchors()];
        for node in &self.nodes {
            for &i in &node.inputs {
                if let Some(u) = used.get_mut(i) {
                    *u = true;
                }
            }
        }
        used
    }

    /// The anchors no node reads, in order: the cell's output concatenates exactly these (the
    /// two cell inputs included when unused, as in ENAS).
    pub fn loose_ends(&self) -> Vec<usize> {
        self.used()
            .iter()
            .enumerate()
            .filter(|(_, u)| !**u)
            .map(|(i, _)| i)
            .collect()
    }

    /// Checks that every input points to an earlier anchor.
    ///
    /// # Errors
    /// [`ArchError::OutOfRange`] naming the cell, node and input, or [`ArchError::WrongLength`]
    /// for a cell without nodes.
    pub fn validate(&self, kind: CellKind) -> Result<()> {
        if self.nodes.is_empty() {
            return Err(ArchError::WrongLength {
                what: format!("{} nodes", kind.label()),
                expected: "at least 1".into(),
                found: 0,
            });
        }
        for (b, node) in self.nodes.iter().enumerate() {
            for (k, &input) in node.inputs.iter().enumerate() {
                if input > b + 1 {
                    return Err(ArchError::OutOfRange {
                        location: format!("{}, node {b}", kind.label()),
                        field: format!("input {}", k + 1),
                        value: input,
                        allowed: range_upto(b + 2),
                    });
                }
            }
        }
        Ok(())
    }
}

/// An ENAS micro architecture: a normal cell and a reduction cell with the same node count.
///
/// ```
/// use burn_nas_space::{Architecture, MicroArch};
/// let arch = MicroArch::from_enas_string(
///     "0 2 0 0 0 4 0 1 0 4 1 1 1 0 0 1 0 2 1 1 \
///      1 0 1 0 0 3 0 2 1 1 3 1 1 0 0 4 0 3 1 1",
/// )?;
/// assert_eq!(arch.normal.nodes.len(), 5);
/// assert_eq!(MicroArch::from_json(&arch.to_json())?, arch);
/// # Ok::<(), burn_nas_space::ArchError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MicroArch {
    /// The normal cell.
    pub normal: Cell,
    /// The reduction cell.
    pub reduce: Cell,
}

impl MicroArch {
    /// The cell of the given kind.
    pub fn cell(&self, kind: CellKind) -> &Cell {
        match kind {
            CellKind::Normal => &self.normal,
            CellKind::Reduction => &self.reduce,
        }
    }

    /// Number of nodes per cell (`B`).
    pub fn nodes_per_cell(&self) -> usize {
        self.normal.nodes.len()
    }
}

impl Architecture for MicroArch {
    const SPACE: &'static str = "enas_micro";

    fn validate(&self) -> Result<()> {
        self.normal.validate(CellKind::Normal)?;
        self.reduce.validate(CellKind::Reduction)?;
        if self.reduce.nodes.len() != self.normal.nodes.len() {
            return Err(ArchError::WrongLength {
                what: "reduction cell nodes".into(),
                expected: format!("{} (as many as the normal cell)", self.normal.nodes.len()),
                found: self.reduce.nodes.len(),
            });
        }
        Ok(())
    }

    fn to_dot(&self) -> String {
        super::dot::to_dot(self)
    }
}

fn fmt_cell(f: &mut fmt::Formatter<'_>, cell: &Cell) -> fmt::Result {
    for (b, node) in cell.nodes.iter().enumerate() {
        if b > 0 {
            f.write_str("; ")?;
        }
        write!(
            f,
            "x{} = {}(x{}) + {}(x{})",
            b + 2,
            node.ops[0],
            node.inputs[0],
            node.ops[1],
            node.inputs[1]
        )?;
    }
    Ok(())
}

impl fmt::Display for MicroArch {
    /// Two lines, one per cell: `x2 = sep_conv_3x3(x0) + identity(x1); ...`, where x0 and x1
    /// are the previous cells' outputs and `x{b+2}` is node `b`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("normal: ")?;
        fmt_cell(f, &self.normal)?;
        f.write_str("\nreduce: ")?;
        fmt_cell(f, &self.reduce)
    }
}

/// Indices (in `0..L+2`) of the two reduction cells for `L` normal layers: after `⌊L/3⌋` and
/// `⌊2L/3⌋` normal cells. For the paper's `L = 6` and `L = 15` this is ENAS's `[L/3, 2·(L/3)+1]`;
/// where they differ (`L ≡ 2 mod 3`) ENAS's formula leaves the middle stage short (`L = 2`: two
/// reductions in a row and no normal cell before them), this one spreads the normal cells
/// evenly (as the PyTorch reference of `shared/bench` does); measured on the fast preset's
/// supernet (`L = 2`), random cells learn faster with it (docs/results.md).
pub fn reduction_cells(layers: usize) -> [usize; 2] {
    [layers / 3, 2 * layers / 3 + 1]
}
