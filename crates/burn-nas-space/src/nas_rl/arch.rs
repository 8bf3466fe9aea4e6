//! [`NasRlArch`]: a Zoph & Le convolutional network, layer by layer, as plain data.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{ArchError, Result};
use crate::skips::check_skips;
use crate::space::Architecture;

fn one() -> usize {
    1
}

/// One convolutional layer (conv + BN + ReLU) and the earlier layers that feed it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NasRlLayer {
    /// Filter height.
    pub filter_height: usize,
    /// Filter width.
    pub filter_width: usize,
    /// Number of filters (output channels).
    pub filters: usize,
    /// Stride (both directions, or the height direction when `stride_width` is set); 1 when
    /// the space has no stride decision.
    #[serde(default = "one")]
    pub stride: usize,
    /// Stride along the width when it differs from `stride` (spaces built
    /// [`with_stride_per_axis`](crate::NasRlSpace::with_stride_per_axis) predict one stride
    /// per axis, as Zoph & Le do); `None`: `stride` in both directions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stride_width: Option<usize>,
    /// Earlier layers whose outputs are concatenated as this layer's input (strictly
    /// increasing); empty means the layer reads the image.
    #[serde(default)]
    pub inputs: Vec<usize>,
}

impl NasRlLayer {
    /// A `size` × `size` convolution with `filters` filters, the same stride on both axes,
    /// reading `inputs` (empty: the image).
    ///
    /// ```
    /// use burn_nas_space::NasRlLayer;
    ///
    /// let layer = NasRlLayer::square(3, 24, 2, vec![0]);
    /// assert_eq!((layer.filter_height, layer.filter_width, layer.strides()), (3, 3, [2, 2]));
    /// ```
    pub fn square(size: usize, filters: usize, stride: usize, inputs: Vec<usize>) -> Self {
        NasRlLayer {
            filter_height: size,
            filter_width: size,
            filters,
            stride,
            stride_width: None,
            inputs,
        }
    }

    /// `[height, width]` strides.
    pub fn strides(&self) -> [usize; 2] {
        [self.stride, self.stride_width.unwrap_or(self.stride)]
    }

    /// `"2"`, or `"2x1"` when the strides differ by axis.
    pub(crate) fn stride_label(&self) -> String {
        match self.strides() {
            [h, w] if h == w => h.to_string(),
            [h, w] => format!("{h}x{w}"),
        }
    }
}

/// A NAS-RL architecture (Zoph & Le 2017).
///
/// Wiring rules: a layer's inputs are concatenated along channels (smaller ones zero-padded to
/// the largest spatial size); a layer without inputs reads the image; every layer no other
/// layer reads is concatenated before the classifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NasRlArch {
    /// The layers in order.
    pub layers: Vec<NasRlLayer>,
}

impl NasRlArch {
    /// Layers no other layer reads: their outputs feed the classifier.
    pub fn outputs(&self) -> Vec<usize> {
        let mut used = vec![false; self.layers.len()];
        for layer in &self.layers {
            for &i in &layer.inputs {
                if let Some(u) = used.get_mut(i) {
                    *u = true;
                }
            }
        }
        (0..self.layers.len()).filter(|&i| !used[i]).collect()
    }
}

impl Architecture for NasRlArch {
    const SPACE: &'static str = "nas_rl";

    fn validate(&self) -> Result<()> {
        if self.layers.is_empty() {
            return Err(ArchError::WrongLength {
                what: "layers".into(),
                expected: "at least 1".into(),
                found: 0,
            });
        }
        for (i, layer) in self.layers.iter().enumerate() {
            for (field, value) in [
                ("filter_height", layer.filter_height),
                ("filter_width", layer.filter_width),
                ("filters", layer.filters),
                ("stride", layer.stride),
                ("stride_width", layer.stride_width.unwrap_or(1)),
            ] {
                if value == 0 {
                    return Err(ArchError::OutOfRange {
                        location: format!("layer {i}"),
                        field: field.into(),
                        value,
                        allowed: "1..".into(),
                    });
                }
            }
            check_skips(i, "inputs", &layer.inputs)?;
        }
        Ok(())
    }

    fn to_dot(&self) -> String {
        super::dot::to_dot(self)
    }
}

impl fmt::Display for NasRlArch {
    /// One line per layer: `layer 2: 5x3 conv, 48 filters, stride 1, inputs [0, 1]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, l) in self.layers.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(
                f,
                "layer {i}: {}x{} conv, {} filters, stride {}, ",
                l.filter_height,
                l.filter_width,
                l.filters,
                l.stride_label()
            )?;
            if l.inputs.is_empty() {
                f.write_str("input image")?;
            } else {
                write!(f, "inputs {:?}", l.inputs)?;
            }
        }
        Ok(())
    }
}
