//! Faster formulations of the hot ops of the ENAS cells, written so that every backend runs
//! them and autodiff differentiates them.
//!
//! - [`pointwise_conv`]: a stride-1 1×1 convolution as one batched matrix product, whose
//!   gradients are matrix products too (burn's generic convolution backward computes the
//!   weight gradient of a 1×1 convolution as a convolution with an `H × W` "kernel").
//! - [`depthwise_conv`]: a depthwise convolution whose backward pass, on the `flex` backend
//!   (crate feature `flex`), is a direct per-channel correlation run as a backend extension.
//! - [`pool2d`]: average (padding not counted) and max pooling whose forward and backward
//!   passes, on `flex`, are direct row-wise kernels run as a backend extension.
//! - [`batch_norm_batch_stats`]: training-mode batch norm (batch statistics) whose forward and
//!   backward, on the `flex` backend, are fused per-channel passes run as a backend extension
//!   instead of burn's chain of generic tensor ops.

mod batch_norm;
mod depthwise;
#[cfg(feature = "flex")]
mod plane;
mod pointwise;
mod pool;

pub use batch_norm::batch_norm_batch_stats;
pub use depthwise::{DepthwiseGeometry, depthwise, depthwise_conv};
pub use pointwise::{pointwise, pointwise_conv};
pub use pool::{PoolGeometry, PoolKind, pool2d};

/// Largest `|a − b|` relative to the largest `|b|`: how far a kernel is from burn's op.
#[cfg(test)]
fn rel_err<const D: usize>(a: burn::tensor::Tensor<D>, b: burn::tensor::Tensor<D>) -> f32 {
    let scale = b.clone().abs().max().into_scalar::<f32>().max(1e-6);
    (a - b).abs().max().into_scalar::<f32>() / scale
}
