//! [`MicroSpace`]: the ENAS micro search space with configurable node count and op set.

use super::arch::{Cell, CellKind, MicroArch, Node};
use super::op::MicroOp;
use crate::decision::{Decision, DecisionGroup, Decisions, GroupId, HeadId, Token};
use crate::error::{ArchError, Result};
use crate::space::{Architecture, SearchSpace};

/// The controller head shared by all op decisions of this space (`micro_op`).
pub const MICRO_OP_HEAD: HeadId = HeadId::from_static("micro_op");

/// The ENAS micro (cell) search space: `B` nodes per cell (default 5), normal and reduction
/// cell, per node two inputs among the earlier anchors and two ops.
///
/// Decisions per node, in the order of the ENAS controller: input 1, input 2, op 1, op 2.
///
/// ```
/// use burn_nas_space::{MicroOp, MicroSpace, SearchSpace};
/// // Only convolutions and identity, 4 nodes per cell.
/// let space = MicroSpace::new(4, &[MicroOp::SepConv3x3, MicroOp::SepConv5x5, MicroOp::Identity])?;
/// let arch = space.sample(&mut rand::rng())?;
/// assert_eq!(arch.nodes_per_cell(), 4);
/// # Ok::<(), burn_nas_space::ArchError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MicroSpace {
    nodes: usize,
    ops: Vec<MicroOp>,
    decisions: Decisions,
}

impl Default for MicroSpace {
    /// ENAS's setting: 5 nodes per cell, all five ops.
    fn default() -> Self {
        // The default settings are valid by construction.
        MicroSpace::new(5, &MicroOp::ALL).unwrap_or_else(|e| unreachable!("{e}"))
    }
}

impl MicroSpace {
    /// The normal cell's decision group (`normal`).
    pub const NORMAL_CELL: GroupId = GroupId::from_static("normal");

    /// The reduction cell's decision group (`reduce`).
    pub const REDUCTION_CELL: GroupId = GroupId::from_static("reduce");

    /// A space with `nodes` nodes per cell and the given ops (in token order).
    ///
    /// # Errors
    /// [`ArchError::InvalidSpace`] for zero nodes, an empty op list or a repeated op.
    pub fn new(nodes: usize, ops: &[MicroOp]) -> Result<Self> {
        if nodes == 0 {
            return Err(ArchError::InvalidSpace {
                field: "nodes".into(),
                reason: "a cell needs at least 1 node".into(),
            });
        }
        check_ops(ops)?;
        let cell = |name: GroupId| DecisionGroup {
            name,
            initial_anchors: 2,
            blocks: (0..nodes)
                .map(|b| {
                    vec![
                        Decision::SelectInput { among: b + 2 },
                        Decision::SelectInput { among: b + 2 },
                        Decision::categorical(ops.len(), MICRO_OP_HEAD),
                        Decision::categorical(ops.len(), MICRO_OP_HEAD),
                    ]
                })
                .collect(),
        };
        let decisions = Decisions::new(vec![cell(Self::NORMAL_CELL), cell(Self::REDUCTION_CELL)])?;
        Ok(MicroSpace {
            nodes,
            ops: ops.to_vec(),
            decisions,
        })
    }

    /// Nodes per cell (`B`).
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// The ops, in token order.
    pub fn ops(&self) -> &[MicroOp] {
        &self.ops
    }

    fn op_token(&self, kind: CellKind, b: usize, k: usize, op: MicroOp) -> Result<Token> {
        self.ops
            .iter()
            .position(|&o| o == op)
            .map(Token::Choice)
            .ok_or_else(|| ArchError::OpNotAllowed {
                location: format!("{}, node {b}", kind.label()),
                field: format!("op {k}"),
                op: op.name().to_string(),
                allowed: self.ops.iter().map(|o| o.name().to_string()).collect(),
            })
    }
}

fn check_ops(ops: &[MicroOp]) -> Result<()> {
    if ops.is_empty() {
        return Err(ArchError::InvalidSpace {
            field: "ops".into(),
            reason: "at least one op is needed".into(),
        });
    }
    for (i, op) in ops.iter().enumerate() {
        if ops[..i].contains(op) {
            return Err(ArchError::InvalidSpace {
                field: "ops".into(),
                reason: format!("`{op}` is listed twice"),
            });
        }
    }
    Ok(())
}

impl SearchSpace for MicroSpace {
    type Arch = MicroArch;

    fn name(&self) -> &str {
        MicroArch::SPACE
    }

    fn decisions(&self) -> &Decisions {
        &self.decisions
    }

    fn decode(&self, tokens: &[Token]) -> Result<MicroArch> {
        self.decisions.check(tokens)?;
        // Checked above: every token is a choice within range.
        let choice = |t: &Token| t.choice().unwrap_or_default();
        let mut cells = tokens.chunks_exact(4 * self.nodes).map(|cell| Cell {
            nodes: cell
                .chunks_exact(4)
                .map(|t| Node {
                    inputs: [choice(&t[0]), choice(&t[1])],
                    ops: [self.ops[choice(&t[2])], self.ops[choice(&t[3])]],
                })
                .collect(),
        });
        let (Some(normal), Some(reduce)) = (cells.next(), cells.next()) else {
            return Err(ArchError::WrongLength {
                what: "tokens".into(),
                expected: self.decisions.len().to_string(),
                found: tokens.len(),
            });
        };
        Ok(MicroArch { normal, reduce })
    }

    fn encode(&self, arch: &MicroArch) -> Result<Vec<Token>> {
        for kind in [CellKind::Normal, CellKind::Reduction] {
            let found = arch.cell(kind).nodes.len();
            if found != self.nodes {
                return Err(ArchError::WrongLength {
                    what: format!("{} nodes", kind.label()),
                    expected: self.nodes.to_string(),
                    found,
                });
            }
        }
        arch.validate()?;
        let mut tokens = Vec::with_capacity(self.decisions.len());
        for kind in [CellKind::Normal, CellKind::Reduction] {
            for (b, node) in arch.cell(kind).nodes.iter().enumerate() {
                tokens.push(Token::Choice(node.inputs[0]));
                tokens.push(Token::Choice(node.inputs[1]));
                tokens.push(self.op_token(kind, b, 1, node.ops[0])?);
                tokens.push(self.op_token(kind, b, 2, node.ops[1])?);
            }
        }
        Ok(tokens)
    }
}
