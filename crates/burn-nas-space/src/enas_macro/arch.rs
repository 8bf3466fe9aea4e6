//! [`MacroArch`]: a whole ENAS macro network, layer by layer, as plain data.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::op::MacroOp;
use crate::error::{ArchError, Result};
use crate::skips::check_skips;
use crate::space::Architecture;

/// One layer: its op and the earlier layers whose outputs it also receives.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MacroLayer {
    /// The layer's op, applied to the previous layer's output.
    pub op: MacroOp,
    /// Earlier layers (strictly increasing, each `< index`) added / concatenated to the output.
    #[serde(default)]
    pub skips: Vec<usize>,
}

/// An ENAS macro architecture: `L` layers, each with an op and a skip set.
///
/// ```
/// use burn_nas_space::{MacroArch, MacroOp};
/// // 3 layers: conv_3x3; sep_conv_5x5 with a skip from layer 0; max_pool_3x3.
/// let arch = MacroArch::from_enas_string("0 3 1 5 0 0")?;
/// assert_eq!(arch.layers[1].op, MacroOp::SepConv5x5);
/// assert_eq!(arch.layers[1].skips, vec![0]);
/// assert_eq!(arch.to_enas_string(), "0 3 1 5 0 0");
/// # Ok::<(), burn_nas_space::ArchError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MacroArch {
    /// The layers in order.
    pub layers: Vec<MacroLayer>,
}

impl Architecture for MacroArch {
    const SPACE: &'static str = "enas_macro";

    fn validate(&self) -> Result<()> {
        if self.layers.is_empty() {
            return Err(ArchError::WrongLength {
                what: "layers".into(),
                expected: "at least 1".into(),
                found: 0,
            });
        }
        for (i, layer) in self.layers.iter().enumerate() {
            check_skips(i, "skips", &layer.skips)?;
        }
        Ok(())
    }

    fn to_dot(&self) -> String {
        super::dot::to_dot(self)
    }
}

impl fmt::Display for MacroArch {
    /// One line per layer: `layer 3: sep_conv_5x5, skips [0, 2]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, layer) in self.layers.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "layer {i}: {}", layer.op)?;
            if !layer.skips.is_empty() {
                write!(f, ", skips {:?}", layer.skips)?;
            }
        }
        Ok(())
    }
}

/// Layers after which ENAS macro networks pool (`L/3 − 1` and `2L/3 − 1`; none below 3 layers).
pub fn pool_layers(layers: usize) -> Vec<usize> {
    let d = layers / 3;
    if d == 0 {
        Vec::new()
    } else {
        vec![d - 1, 2 * d - 1]
    }
}

/// For each layer `j`, the last layer that reads it (its successor or a skip), if any.
pub fn last_reader(arch: &MacroArch) -> Vec<Option<usize>> {
    let n = arch.layers.len();
    let mut last = vec![None; n];
    for (i, layer) in arch.layers.iter().enumerate() {
        if i > 0 {
            last[i - 1] = Some(i);
        }
        for &s in &layer.skips {
            last[s] = Some(i);
        }
    }
    last
}
