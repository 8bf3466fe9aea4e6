//! [`MacroSpace`]: the ENAS macro search space with configurable depth and op set.

use super::arch::{MacroArch, MacroLayer};
use super::op::MacroOp;
use crate::decision::{Decision, DecisionGroup, Decisions, GroupId, HeadId, Token};
use crate::error::{ArchError, Result};
use crate::skips::{from_bits, to_bits};
use crate::space::{Architecture, SearchSpace};

/// Name of the controller head shared by all op decisions of this space.
pub const MACRO_OP_HEAD: HeadId = HeadId::from_static("macro_op");

/// The ENAS macro search space: `L` layers (default 12), per layer one op and a skip set over
/// all earlier layers. Decisions per layer: op, then the skip set (empty for layer 0).
///
/// ```
/// use burn_nas_space::{MacroSpace, SearchSpace};
/// let space = MacroSpace::default();
/// // 6^12 · 2^66 ≈ 1.6e29, the figure of the ENAS paper.
/// assert!((space.size().log10 - 29.2).abs() < 0.05);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MacroSpace {
    layers: usize,
    ops: Vec<MacroOp>,
    decisions: Decisions,
}

impl Default for MacroSpace {
    /// ENAS's search setting: 12 layers, all six ops.
    fn default() -> Self {
        // The default settings are valid by construction.
        MacroSpace::new(12, &MacroOp::ALL).unwrap_or_else(|e| unreachable!("{e}"))
    }
}

impl MacroSpace {
    /// The space's one decision group, all layers (`layers`).
    pub const LAYERS: GroupId = GroupId::from_static("layers");

    /// A space of `layers` layers with the given ops (in token order).
    ///
    /// # Errors
    /// [`ArchError::InvalidSpace`] for zero layers, an empty op list or a repeated op.
    pub fn new(layers: usize, ops: &[MacroOp]) -> Result<Self> {
        if layers == 0 {
            return Err(ArchError::InvalidSpace {
                field: "layers".into(),
                reason: "at least 1 layer is needed".into(),
            });
        }
        if ops.is_empty() {
            return Err(ArchError::InvalidSpace {
                field: "ops".into(),
                reason: "at least one op is needed".into(),
            });
        }
        if let Some((i, op)) = ops
            .iter()
            .enumerate()
            .find(|(i, op)| ops[..*i].contains(op))
        {
            return Err(ArchError::InvalidSpace {
                field: "ops".into(),
                reason: format!("`{op}` is listed twice (position {i})"),
            });
        }
        let decisions = Decisions::new(vec![DecisionGroup {
            name: Self::LAYERS,
            initial_anchors: 0,
            blocks: (0..layers)
                .map(|i| {
                    vec![
                        Decision::categorical(ops.len(), MACRO_OP_HEAD),
                        Decision::SkipSet { among: i },
                    ]
                })
                .collect(),
        }])?;
        Ok(MacroSpace {
            layers,
            ops: ops.to_vec(),
            decisions,
        })
    }

    /// Number of layers (`L`).
    pub fn layers(&self) -> usize {
        self.layers
    }

    /// The ops, in token order.
    pub fn ops(&self) -> &[MacroOp] {
        &self.ops
    }
}

impl SearchSpace for MacroSpace {
    type Arch = MacroArch;

    fn name(&self) -> &str {
        MacroArch::SPACE
    }

    fn decisions(&self) -> &Decisions {
        &self.decisions
    }

    fn decode(&self, tokens: &[Token]) -> Result<MacroArch> {
        self.decisions.check(tokens)?;
        let layers = tokens
            .chunks_exact(2)
            .map(|t| MacroLayer {
                // Checked above: a choice in range, then a subset.
                op: self.ops[t[0].choice().unwrap_or_default()],
                skips: from_bits(t[1].subset().unwrap_or_default()),
            })
            .collect();
        Ok(MacroArch { layers })
    }

    fn encode(&self, arch: &MacroArch) -> Result<Vec<Token>> {
        if arch.layers.len() != self.layers {
            return Err(ArchError::WrongLength {
                what: "layers".into(),
                expected: self.layers.to_string(),
                found: arch.layers.len(),
            });
        }
        arch.validate()?;
        let mut tokens = Vec::with_capacity(2 * self.layers);
        for (i, layer) in arch.layers.iter().enumerate() {
            let op = self
                .ops
                .iter()
                .position(|&o| o == layer.op)
                .ok_or_else(|| ArchError::OpNotAllowed {
                    location: format!("layer {i}"),
                    field: "op".into(),
                    op: layer.op.name().to_string(),
                    allowed: self.ops.iter().map(|o| o.name().to_string()).collect(),
                })?;
            tokens.push(Token::Choice(op));
            tokens.push(Token::Subset(to_bits(i, &layer.skips)));
        }
        Ok(tokens)
    }
}
