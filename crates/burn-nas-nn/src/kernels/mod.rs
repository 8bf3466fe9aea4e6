//! Faster formulations of the hot ops of the ENAS cells, written so that every backend runs
//! them and autodiff differentiates them.
//!
//! - [`pointwise_conv`]: a stride-1 1×1 convolution as one batched matrix product, whose
//!   gradients are matrix products too (burn's generic convolution backward computes the
//!   weight gradient of a 1×1 convolution as a convolution with an `H × W` "kernel").
//! - [`dense_conv`]: a convolution without groups (the NAS-RL children's and the macro
//!   space's full convolutions, the stems) whose forward and backward passes, on `flex`, are
//!   per-image im2col and matrix products run as a backend extension.
//! - [`depthwise_conv`]: a depthwise convolution whose backward pass, on the `flex` backend
//!   (crate feature `flex`), is a direct per-channel correlation run as a backend extension.
//! - [`pool2d`]: average (padding not counted) and max pooling whose forward and backward
//!   passes, on `flex`, are direct row-wise kernels run as a backend extension.
//! - [`batch_norm_batch_stats`]: training-mode batch norm (batch statistics) whose forward and
//!   backward, on the `flex` backend, are fused per-channel passes run as a backend extension
//!   instead of burn's chain of generic tensor ops.

mod batch_norm;
#[cfg(feature = "flex")]
mod channels_last;
mod dense;
mod depthwise;
#[cfg(feature = "flex")]
mod plane;
mod pointwise;
mod pool;
#[cfg(feature = "flex")]
mod weighted_op;

pub use batch_norm::batch_norm_batch_stats;
pub use dense::{dense, dense_conv};
pub use depthwise::{depthwise, depthwise_conv};
pub use pointwise::{pointwise, pointwise_conv};
pub use pool::{PoolGeometry, PoolKind, pool2d};

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::ops::ConvOptions;

/// Stride and `(begin, end)` padding of a convolution with dilation 1 and no bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Stride `[height, width]`, each at least 1.
    pub stride: [usize; 2],
    /// Padding `[(top, bottom), (left, right)]`.
    pub padding: [(usize, usize); 2],
}

impl ConvGeometry {
    /// Whether a `kernel` (`[kh, kw]`) fits an `input` (`[h, w]`) padded by this geometry, with
    /// every stride at least 1.
    fn fits(&self, [h, w]: [usize; 2], [kh, kw]: [usize; 2]) -> bool {
        self.stride.iter().all(|&s| s > 0)
            && h + self.padding[0].0 + self.padding[0].1 >= kh
            && w + self.padding[1].0 + self.padding[1].1 >= kw
    }

    /// burn's convolution options of this geometry with `groups` groups.
    fn options(&self, groups: usize) -> ConvOptions<2> {
        ConvOptions::new_with_padding(self.stride, self.padding, [1, 1], groups.max(1))
    }
}

/// The `(begin, end)` padding [`Conv2d::forward`] gives `conv` on an `h × w` input ("same"
/// padding puts the odd pixel at the end, as burn does).
fn conv_padding(conv: &Conv2d, h: usize, w: usize) -> [(usize, usize); 2] {
    let [_, _, kh, kw] = conv.weight.dims();
    let same = |k: usize, s: usize, size: usize| {
        let total = ((size.div_ceil(s).max(1) - 1) * s + k).saturating_sub(size);
        (total / 2, total - total / 2)
    };
    match conv.padding {
        PaddingConfig2d::Valid => [(0, 0), (0, 0)],
        PaddingConfig2d::Same => [same(kh, conv.stride[0], h), same(kw, conv.stride[1], w)],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)],
    }
}

/// Largest `|a − b|` relative to the largest `|b|`: how far a kernel is from burn's op.
#[cfg(test)]
pub(crate) fn rel_err<const D: usize>(
    a: burn::tensor::Tensor<D>,
    b: burn::tensor::Tensor<D>,
) -> f32 {
    let scale = b.clone().abs().max().into_scalar::<f32>().max(1e-6);
    (a - b).abs().max().into_scalar::<f32>() / scale
}
