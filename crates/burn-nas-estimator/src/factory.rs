//! [`ChildFactory`]: how an estimator builds the trainable network of an architecture.

use burn::tensor::Device;
use burn_nas_nn::{
    MacroNet, MacroNetConfig, MicroNet, MicroNetConfig, NasRlNet, NasRlNetConfig, NetError,
    Network, ParamValues,
};
use burn_nas_space::enas_macro::MacroMorphism;
use burn_nas_space::enas_micro::MicroMorphism;
use burn_nas_space::nas_rl::NasRlMorphism;
use burn_nas_space::{MacroArch, MicroArch, NasRlArch};
use serde::{Deserialize, Serialize};

/// Shape of the task's images and labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageShape {
    /// Image channels.
    pub channels: usize,
    /// Image height and width.
    pub size: usize,
    /// Number of classes.
    pub classes: usize,
}

/// Builds the fixed network of an architecture, scaled for low-fidelity estimates.
pub trait ChildFactory<A> {
    /// The network type.
    type Net: Network;

    /// The network of `arch` for images of `shape`, with channels multiplied by
    /// `channel_scale` and depth (cells / layers) by `depth_scale`, on `device`.
    ///
    /// # Errors
    /// The network's settings or the architecture are invalid.
    fn build(
        &self,
        arch: &A,
        shape: ImageShape,
        channel_scale: f64,
        depth_scale: f64,
        device: &Device,
    ) -> Result<Self::Net, NetError>;

    /// The trained parameters of `parent`'s network (built by this factory with the same
    /// settings) carried over to `child`'s network so that it computes the same function, when
    /// the factory knows how (function-preserving network morphism); `seed` draws any random
    /// choice the transfer makes. `None`, the default, leaves weight inheritance to copy the
    /// tensors whose path and shape match.
    fn transfer(
        &self,
        parent: &A,
        child: &A,
        params: &ParamValues,
        shape: ImageShape,
        channel_scale: f64,
        seed: u64,
    ) -> Option<ParamValues> {
        let _ = (parent, child, params, shape, channel_scale, seed);
        None
    }
}

fn scaled(value: usize, scale: f64, min: usize) -> usize {
    ((value as f64 * scale).round() as usize).max(min)
}

/// Builds [`MicroNet`]s: `config` gives the full-fidelity settings (its class count and image
/// shape are replaced by the task's).
#[derive(Debug, Clone)]
pub struct MicroChild(pub MicroNetConfig);

impl ChildFactory<MicroArch> for MicroChild {
    type Net = MicroNet;

    fn build(
        &self,
        arch: &MicroArch,
        shape: ImageShape,
        cs: f64,
        ds: f64,
        device: &Device,
    ) -> Result<MicroNet, NetError> {
        let c = &self.0;
        MicroNetConfig {
            classes: shape.classes,
            in_channels: shape.channels,
            image_size: shape.size,
            layers: scaled(c.layers, ds, 0),
            channels: scaled(c.channels, cs, 2),
            ..c.clone()
        }
        .init(arch, device)
    }

    /// Network morphism ([`MicroMorphism::transfer`]: larger separable kernels) when `child`
    /// is a morphism of `parent`.
    fn transfer(
        &self,
        parent: &MicroArch,
        child: &MicroArch,
        params: &ParamValues,
        _shape: ImageShape,
        _cs: f64,
        _seed: u64,
    ) -> Option<ParamValues> {
        MicroMorphism::transfer(parent, child, params)
            .map_err(|e| log::debug!("no morphism from the parent: {e}"))
            .ok()
    }
}

/// Builds [`MacroNet`]s (depth is the architecture's; `depth_scale` does not apply).
#[derive(Debug, Clone)]
pub struct MacroChild(pub MacroNetConfig);

impl ChildFactory<MacroArch> for MacroChild {
    type Net = MacroNet;

    fn build(
        &self,
        arch: &MacroArch,
        shape: ImageShape,
        cs: f64,
        _ds: f64,
        device: &Device,
    ) -> Result<MacroNet, NetError> {
        MacroNetConfig {
            classes: shape.classes,
            in_channels: shape.channels,
            image_size: shape.size,
            channels: scaled(self.0.channels, cs, 2),
            ..self.0.clone()
        }
        .init(arch, device)
    }

    /// Network morphism ([`MacroMorphism::transfer`]) when `child` is a morphism of `parent`.
    fn transfer(
        &self,
        parent: &MacroArch,
        child: &MacroArch,
        params: &ParamValues,
        _shape: ImageShape,
        _cs: f64,
        seed: u64,
    ) -> Option<ParamValues> {
        MacroMorphism::transfer(parent, child, params, seed)
            .map_err(|e| log::debug!("no morphism from the parent: {e}"))
            .ok()
    }
}

/// Builds [`NasRlNet`]s (filter counts scale with `channel_scale`; depth is the architecture's).
#[derive(Debug, Clone)]
pub struct NasRlChild(pub NasRlNetConfig);

impl ChildFactory<NasRlArch> for NasRlChild {
    type Net = NasRlNet;

    fn build(
        &self,
        arch: &NasRlArch,
        shape: ImageShape,
        cs: f64,
        _ds: f64,
        device: &Device,
    ) -> Result<NasRlNet, NetError> {
        NasRlNetConfig {
            classes: shape.classes,
            in_channels: shape.channels,
            image_size: shape.size,
            filter_scale: self.0.filter_scale * cs,
            ..self.0.clone()
        }
        .init(arch, device)
    }

    /// Network morphism ([`NasRlMorphism::transfer`]) when `child` is a morphism of
    /// `parent` (widened layers, larger filters, added skips, at most one new identity layer).
    fn transfer(
        &self,
        parent: &NasRlArch,
        child: &NasRlArch,
        params: &ParamValues,
        shape: ImageShape,
        cs: f64,
        seed: u64,
    ) -> Option<ParamValues> {
        let scale = self.0.filter_scale * cs;
        NasRlMorphism::transfer(parent, child, params, shape.size, scale, seed)
            .map_err(|e| log::debug!("no morphism from the parent: {e}"))
            .ok()
    }
}
