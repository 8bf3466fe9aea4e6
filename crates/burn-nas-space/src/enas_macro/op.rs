//! The six ops of the ENAS macro space.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::ArchError;

/// The op of one ENAS macro layer. The integer ids are those of the official ENAS code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum MacroOp {
    /// 1×1 conv+BN+ReLU, then 3×3 conv+BN+ReLU. ENAS id 0.
    #[serde(rename = "conv_3x3")]
    Conv3x3,
    /// 1×1 conv+BN+ReLU, then separable 3×3 conv+BN+ReLU. ENAS id 1.
    #[serde(rename = "sep_conv_3x3")]
    SepConv3x3,
    /// 1×1 conv+BN+ReLU, then 5×5 conv+BN+ReLU. ENAS id 2.
    #[serde(rename = "conv_5x5")]
    Conv5x5,
    /// 1×1 conv+BN+ReLU, then separable 5×5 conv+BN+ReLU. ENAS id 3.
    #[serde(rename = "sep_conv_5x5")]
    SepConv5x5,
    /// 1×1 conv+BN+ReLU, then 3×3 average pooling. ENAS id 4.
    #[serde(rename = "avg_pool_3x3")]
    AvgPool3x3,
    /// 1×1 conv+BN+ReLU, then 3×3 max pooling. ENAS id 5.
    #[serde(rename = "max_pool_3x3")]
    MaxPool3x3,
}

impl MacroOp {
    /// All ops, in ENAS id order.
    pub const ALL: [MacroOp; 6] = [
        MacroOp::Conv3x3,
        MacroOp::SepConv3x3,
        MacroOp::Conv5x5,
        MacroOp::SepConv5x5,
        MacroOp::AvgPool3x3,
        MacroOp::MaxPool3x3,
    ];

    /// The op's name as written in JSON, e.g. `"conv_3x3"`.
    pub fn name(self) -> &'static str {
        match self {
            MacroOp::Conv3x3 => "conv_3x3",
            MacroOp::SepConv3x3 => "sep_conv_3x3",
            MacroOp::Conv5x5 => "conv_5x5",
            MacroOp::SepConv5x5 => "sep_conv_5x5",
            MacroOp::AvgPool3x3 => "avg_pool_3x3",
            MacroOp::MaxPool3x3 => "max_pool_3x3",
        }
    }

    /// The op's id in the official ENAS code (0..=5).
    pub fn enas_id(self) -> usize {
        self as usize
    }

    /// The op with ENAS id `id`, if there is one.
    pub fn from_enas_id(id: usize) -> Option<MacroOp> {
        MacroOp::ALL.get(id).copied()
    }
}

impl fmt::Display for MacroOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for MacroOp {
    type Err = ArchError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MacroOp::ALL
            .into_iter()
            .find(|op| op.name() == s)
            .ok_or_else(|| ArchError::UnknownOp {
                family: "ENAS macro",
                name: s.to_string(),
                expected: MacroOp::ALL.iter().map(|op| op.name()).collect(),
            })
    }
}
