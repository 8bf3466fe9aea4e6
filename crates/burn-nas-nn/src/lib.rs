//! Architectures as burn networks: the ENAS ops, a fixed (trainable from scratch) network for
//! every space, and the ENAS weight-sharing supernets.
//!
//! | architecture | fixed child     | supernet          |
//! |--------------|-----------------|-------------------|
//! | [`MicroArch`](burn_nas_space::MicroArch) | [`MicroNet`]    | [`MicroSupernet`] |
//! | [`MacroArch`](burn_nas_space::MacroArch) | [`MacroNet`]    | [`MacroSupernet`] |
//! | [`NasRlArch`](burn_nas_space::NasRlArch) | [`NasRlNet`]    | —                 |
//!
//! All networks take `[N, channels, size, size]` images (any channel count, size ≥ 8, any
//! class count), return logits `[N, classes]`, and report their parameter count
//! ([`burn::module::Module::num_params`]) and multiply-accumulates per image ([`Network::macs`]).
//! Forward passes take a [`Mode`] that says how batch norm, dropout and drop path behave.
//!
//! The architectures themselves are plain data in `burn-nas-space` (no burn); this crate
//! turns them into burn modules, reads parameters out of modules and back by path
//! ([`export_params`], [`import_params`]), and keeps burn optimizer state
//! ([`OptimizerSnapshot`]).
//!
//! ## Cargo features
#![doc = document_features::document_features!()]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

// Direct flex kernels: used by the networks and profiled by the bench crate; not part of the
// documented API.
#[doc(hidden)]
pub mod kernels;
mod macro_net;
mod macro_supernet;
mod micro_net;
mod micro_supernet;
mod mode;
mod nas_rl_net;
pub mod ops;
mod param_path;
mod params;

use burn::tensor::Tensor;
use thiserror::Error;

use burn_nas_space::ArchError;

pub use macro_net::{MacroNet, MacroNetConfig};
pub use macro_supernet::{MacroSupernet, MacroSupernetConfig};
pub use micro_net::{CellStyle, MicroNet, MicroNetConfig};
pub use micro_supernet::{MicroSupernet, MicroSupernetConfig};
pub use mode::Mode;
pub use nas_rl_net::{NasRlNet, NasRlNetConfig};
pub use ops::ConvInit;
pub use param_path::{ParamPath, PathMapper, PathVisitor, map_with_paths, visit_with_paths};
pub use params::{
    ImportReport, OptimizerSnapshot, OptimizerStateError, ParamValues, TensorValues, WeightsError,
    WeightsSnapshot, export_params, import_params, materialize_params, module_from_bytes,
    module_to_bytes, move_to_device, param_ids, tensor_values, values_tensor, with_param_ids,
};

/// Why a network could not be built or run.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum NetError {
    /// A setting of the network's config is impossible.
    #[error("invalid network setting `{field}` = {value}: {reason}")]
    Config {
        /// The setting's name.
        field: &'static str,
        /// Its value, printed.
        value: String,
        /// Why it is impossible.
        reason: String,
    },
    /// The architecture is invalid or does not fit this network (supernets: its space).
    #[error(transparent)]
    Arch(#[from] ArchError),
}

pub(crate) fn check_common(
    classes: usize,
    in_channels: usize,
    image_size: usize,
    channels: usize,
) -> Result<(), NetError> {
    let bad = |field, value: usize, reason: &str| {
        Err(NetError::Config {
            field,
            value: value.to_string(),
            reason: reason.to_string(),
        })
    };
    if classes < 2 {
        return bad("classes", classes, "a classifier needs at least 2 classes");
    }
    if in_channels == 0 {
        return bad("in_channels", in_channels, "images need at least 1 channel");
    }
    if image_size < 8 {
        return bad("image_size", image_size, "images must be at least 8×8");
    }
    if channels < 2 {
        return bad("channels", channels, "at least 2 channels are needed");
    }
    Ok(())
}

pub(crate) fn check_probability(field: &'static str, p: f64) -> Result<(), NetError> {
    if (0.0..1.0).contains(&p) {
        Ok(())
    } else {
        Err(NetError::Config {
            field,
            value: p.to_string(),
            reason: "must be in [0, 1)".into(),
        })
    }
}

/// What a network returns: the logits, and the auxiliary head's logits with their loss weight
/// when the network has one and the pass trains.
#[derive(Debug, Clone)]
pub struct NetOutput {
    /// Logits `[N, classes]`.
    pub logits: Tensor<2>,
    /// Auxiliary logits `[N, classes]` and their loss weight (ENAS: 0.4).
    pub aux: Option<(Tensor<2>, f64)>,
}

/// A fixed network built from one architecture, trainable from scratch.
pub trait Network: burn::module::Module + Sized {
    /// Runs the network; auxiliary logits come back only in training modes.
    fn forward_output(&self, images: Tensor<4>, mode: Mode) -> NetOutput;

    /// Logits `[N, classes]`.
    fn forward(&self, images: Tensor<4>, mode: Mode) -> Tensor<2> {
        self.forward_output(images, mode).logits
    }

    /// Multiply-accumulates of one forward pass on one image (convolutions and linear layers;
    /// FLOPs ≈ 2 × this).
    fn macs(&self) -> u64;

    /// Number of trainable scalars (batch-norm running statistics excluded).
    fn param_count(&self) -> usize {
        trainable_params(self)
    }
}

struct TrainableCounter(usize);

impl PathVisitor for TrainableCounter {
    fn visit<const D: usize>(&mut self, path: &ParamPath, param: &burn::module::Param<Tensor<D>>) {
        if !path.is_running_stat() {
            self.0 += param.shape().num_elements();
        }
    }
}

/// Number of trainable scalars of any module: [`burn::module::Module::num_params`] without the
/// batch-norm running statistics (which burn counts too).
pub fn trainable_params<M: burn::module::Module>(module: &M) -> usize {
    let mut counter = TrainableCounter(0);
    visit_with_paths(module, &mut counter);
    counter.0
}
