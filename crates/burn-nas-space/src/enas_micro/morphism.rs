//! Function-preserving network morphisms of ENAS micro networks ([`MicroNet`](https://docs.rs/burn-nas-nn/latest/burn_nas_nn/struct.MicroNet.html)).
//!
//! A micro architecture fixes every node's two inputs and ops, and a node sums its two ops'
//! outputs; the network's width and cell count are settings of the network, not of the
//! architecture. Of the space's op changes only one can keep a trained cell's function:
//!
//! | operator | architecture | parameters |
//! |---|---|---|
//! | [`EnlargeKernel`](MicroMorphism::EnlargeKernel) | a node input's `sep_conv_3x3` → `sep_conv_5x5` | both depthwise 3×3 kernels in the centre of 5×5 ones, zeros around them, in every cell of that kind |
//!
//! Why the others cannot: a separable convolution starts with a ReLU, so it cannot reproduce
//! an identity, a pool or a sum on inputs that may be negative; average pooling here excludes
//! the padding; max pooling is not linear; a node always has exactly two inputs, so no op can
//! be added beside one. The stride-2 first stack of a reduction cell keeps its window centred
//! too: "same" padding grows by one pixel on each side with the kernel.
//!
//! ```
//! use burn_nas_space::enas_micro::MicroMorphism;
//! use burn_nas_space::{CellKind, MicroArch, MicroOp, MicroSpace, SearchSpace};
//! use rand::SeedableRng;
//!
//! let space = MicroSpace::default();
//! let parent = space.sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(1))?;
//! for m in MicroMorphism::neighbours(&space, &parent) {
//!     let child = m.apply(&parent)?;
//!     let MicroMorphism::EnlargeKernel { cell, node, input } = m;
//!     assert_eq!(child.cell(cell).nodes[node].ops[input], MicroOp::SepConv5x5);
//!     assert_eq!(MicroMorphism::between(&parent, &child)?, vec![m]);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::{Deserialize, Serialize};

use super::reduction_cells;
use super::{CellKind, MicroArch, MicroOp, MicroSpace};
use crate::morphism::{MorphError, MorphResult, dims4, embed_centre, not_applicable, param};
use crate::params::ParamValues;

type Result<T> = MorphResult<T>;

/// One function-preserving change of an ENAS micro architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MicroMorphism {
    /// The `sep_conv_3x3` on input `input` (0 or 1) of node `node` of cell `cell` becomes a
    /// `sep_conv_5x5`.
    EnlargeKernel {
        /// Which cell.
        cell: CellKind,
        /// The node.
        node: usize,
        /// The node's input (0 or 1).
        input: usize,
    },
}

const KINDS: [CellKind; 2] = [CellKind::Normal, CellKind::Reduction];

impl MicroMorphism {
    /// The architecture after this operator.
    ///
    /// # Errors
    /// [`MorphError::NotApplicable`] when the operator does not fit `arch`.
    pub fn apply(self, arch: &MicroArch) -> Result<MicroArch> {
        let MicroMorphism::EnlargeKernel { cell, node, input } = self;
        let mut out = arch.clone();
        let nodes = out.cell(cell).nodes.len();
        let cells = match cell {
            CellKind::Normal => &mut out.normal,
            CellKind::Reduction => &mut out.reduce,
        };
        let Some(op) = cells.nodes.get_mut(node).and_then(|n| n.ops.get_mut(input)) else {
            return not_applicable(
                self,
                format!("the {} has {nodes} nodes of 2 inputs", cell.label()),
            );
        };
        if *op != MicroOp::SepConv3x3 {
            return not_applicable(self, format!("the op is `{op}`, not `sep_conv_3x3`"));
        }
        *op = MicroOp::SepConv5x5;
        Ok(out)
    }

    /// Every one-step morphism of `arch` that stays in `space` (none when the space has no
    /// `sep_conv_5x5`).
    pub fn neighbours(space: &MicroSpace, arch: &MicroArch) -> Vec<Self> {
        if !space.ops().contains(&MicroOp::SepConv5x5) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for cell in KINDS {
            for (node, n) in arch.cell(cell).nodes.iter().enumerate() {
                for input in 0..2 {
                    if n.ops[input] == MicroOp::SepConv3x3 {
                        out.push(MicroMorphism::EnlargeKernel { cell, node, input });
                    }
                }
            }
        }
        out
    }

    /// The operators that turn `parent` into `child`, normal cell first.
    ///
    /// # Errors
    /// [`MorphError::NotAMorphism`] when the cells differ other than by larger separable
    /// convolutions.
    pub fn between(parent: &MicroArch, child: &MicroArch) -> Result<Vec<Self>> {
        let mut out = Vec::new();
        for cell in KINDS {
            let (p, c) = (&parent.cell(cell).nodes, &child.cell(cell).nodes);
            if p.len() != c.len() {
                return Err(MorphError::NotAMorphism(format!(
                    "the {} has {} nodes, then {}",
                    cell.label(),
                    p.len(),
                    c.len()
                )));
            }
            for (node, (a, b)) in p.iter().zip(c).enumerate() {
                if a.inputs != b.inputs {
                    return Err(MorphError::NotAMorphism(format!(
                        "node {node} of the {} reads other inputs",
                        cell.label()
                    )));
                }
                for input in 0..2 {
                    match (a.ops[input], b.ops[input]) {
                        (x, y) if x == y => {}
                        (MicroOp::SepConv3x3, MicroOp::SepConv5x5) => {
                            out.push(MicroMorphism::EnlargeKernel { cell, node, input })
                        }
                        (x, y) => {
                            return Err(MorphError::NotAMorphism(format!(
                                "node {node} of the {}: `{x}` → `{y}`",
                                cell.label()
                            )));
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// The parent's parameters (a trained [`MicroNet`](https://docs.rs/burn-nas-nn/latest/burn_nas_nn/struct.MicroNet.html)'s
    /// [`export_params`](https://docs.rs/burn-nas-nn/latest/burn_nas_nn/fn.export_params.html)) carried over to `child` so that the
    /// child's network computes the same function (eval mode).
    ///
    /// # Errors
    /// [`MorphError::NotAMorphism`] (see [`between`](Self::between)), or
    /// [`MorphError::Params`] when `params` are not of a network of `parent`.
    pub fn transfer(
        parent: &MicroArch,
        child: &MicroArch,
        params: &ParamValues,
    ) -> Result<ParamValues> {
        let ops = Self::between(parent, child)?;
        // The network's cells: every `cells.{i}.` index; reductions sit where `MicroNet` puts them.
        let cells = params
            .keys()
            .filter_map(|k| {
                k.strip_prefix("cells.")?
                    .split_once('.')?
                    .0
                    .parse::<usize>()
                    .ok()
            })
            .max()
            .map_or(0, |i| i + 1);
        if cells < 2 {
            return Err(MorphError::Params {
                key: "cells".into(),
                reason: format!("{cells} cells; a micro network has at least 2"),
            });
        }
        let reductions = reduction_cells(cells - 2);
        let mut out = params.clone();
        for op in ops {
            let MicroMorphism::EnlargeKernel { cell, node, input } = op;
            for i in 0..cells {
                let kind = if reductions.contains(&i) {
                    CellKind::Reduction
                } else {
                    CellKind::Normal
                };
                if kind != cell {
                    continue;
                }
                for stack in ["first", "second"] {
                    let key = format!(
                        "cells.{i}.ops.{}.Sep.{stack}.depthwise.weight",
                        2 * node + input
                    );
                    let [c, one, h, w] = dims4(&out, &key)?;
                    if [one, h, w] != [1, 3, 3] {
                        return Err(MorphError::Params {
                            key,
                            reason: format!(
                                "shape {:?} is not a 3×3 depthwise kernel",
                                [c, one, h, w]
                            ),
                        });
                    }
                    let weight = embed_centre(param(&out, &key, None)?, 5, 5);
                    out.insert(key, weight);
                }
            }
        }
        Ok(out)
    }
}
