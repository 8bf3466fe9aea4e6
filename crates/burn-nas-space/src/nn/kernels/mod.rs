//! Faster formulations of the hot convolutions of the ENAS ops, written so that every backend
//! runs them and autodiff differentiates them.
//!
//! - [`pointwise_conv`]: a stride-1 1×1 convolution as one batched matrix product, whose
//!   gradients are matrix products too (burn's generic convolution backward computes the
//!   weight gradient of a 1×1 convolution as a convolution with an `H × W` "kernel").

mod pointwise;

pub use pointwise::{pointwise, pointwise_conv};
