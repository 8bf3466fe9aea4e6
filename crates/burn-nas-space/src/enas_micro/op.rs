//! The five ops of the ENAS micro (cell) space.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::ArchError;

/// An op on one input of an ENAS micro cell node. The integer ids are those of the official
/// ENAS code and of its architecture strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum MicroOp {
    /// Separable convolution 3×3 (ReLU → depthwise → pointwise → BN, twice). ENAS id 0.
    #[serde(rename = "sep_conv_3x3")]
    SepConv3x3,
    /// Separable convolution 5×5. ENAS id 1.
    #[serde(rename = "sep_conv_5x5")]
    SepConv5x5,
    /// 3×3 average pooling, stride 1 (padding not counted). ENAS id 2.
    #[serde(rename = "avg_pool_3x3")]
    AvgPool3x3,
    /// 3×3 max pooling, stride 1. ENAS id 3.
    #[serde(rename = "max_pool_3x3")]
    MaxPool3x3,
    /// The input unchanged. ENAS id 4.
    #[serde(rename = "identity")]
    Identity,
}

impl MicroOp {
    /// All ops, in ENAS id order.
    pub const ALL: [MicroOp; 5] = [
        MicroOp::SepConv3x3,
        MicroOp::SepConv5x5,
        MicroOp::AvgPool3x3,
        MicroOp::MaxPool3x3,
        MicroOp::Identity,
    ];

    /// The op's name as written in JSON, e.g. `"sep_conv_3x3"`.
    pub fn name(self) -> &'static str {
        match self {
            MicroOp::SepConv3x3 => "sep_conv_3x3",
            MicroOp::SepConv5x5 => "sep_conv_5x5",
            MicroOp::AvgPool3x3 => "avg_pool_3x3",
            MicroOp::MaxPool3x3 => "max_pool_3x3",
            MicroOp::Identity => "identity",
        }
    }

    /// The op's id in the official ENAS code (0..=4).
    pub fn enas_id(self) -> usize {
        self as usize
    }

    /// The op with ENAS id `id`, if there is one.
    pub fn from_enas_id(id: usize) -> Option<MicroOp> {
        MicroOp::ALL.get(id).copied()
    }
}

impl fmt::Display for MicroOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for MicroOp {
    type Err = ArchError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MicroOp::ALL
            .into_iter()
            .find(|op| op.name() == s)
            .ok_or_else(|| ArchError::UnknownOp {
                family: "ENAS micro",
                name: s.to_string(),
                expected: MicroOp::ALL.iter().map(|op| op.name()).collect(),
            })
    }
}
