//! [`MacroSupernet`]: ENAS macro weight sharing — every layer holds all branches, a forward
//! pass runs only the sampled op of each layer.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::{Device, Tensor};

use super::kernels::dense;
use super::ops::{Bn, Classifier, FactorizedReduce, MacroBranch, ReduceKernel, conv};
use super::{Mode, NetError, check_common, check_probability};
use burn_nas_space::SearchSpace;
use burn_nas_space::enas_macro::{MacroArch, MacroOp, MacroSpace};
use burn_nas_space::enas_macro::{last_reader, pool_layers};

/// Settings of a [`MacroSupernet`]. Defaults are ENAS's macro search: 36 channels; the depth is
/// the space's (12 by default).
#[derive(Config, Debug)]
pub struct MacroSupernetConfig {
    /// Number of classes.
    pub classes: usize,
    /// Image channels.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Image height and width (≥ 8).
    #[config(default = 32)]
    pub image_size: usize,
    /// Channels of the first layers (doubled at each pooling).
    #[config(default = 36)]
    pub channels: usize,
    /// Dropout probability before the classifier.
    #[config(default = 0.1)]
    pub dropout: f64,
}

/// One layer: a branch per op of the space (in [`MacroOp::ALL`] order; `None` where the space
/// lacks the op) and the batch norm of the skip sum.
#[derive(Module, Debug)]
struct SharedLayer {
    branches: Vec<Option<MacroBranch>>,
    skip_bn: Option<Bn>,
}

/// The ENAS macro supernet: 3×3 stem + BN; per layer all six branches of which the sampled one
/// runs on the previous output; past layer 0 the selected earlier outputs are **added** to it
/// and batch-normalised (ENAS search); after layers `L/3 − 1` and `2L/3 − 1` the channels double
/// and the outputs still read later are reduced (one factorized reduction per layer and pooling
/// point); ReLU → global pool → dropout → linear.
#[derive(Module, Debug)]
pub struct MacroSupernet {
    stem: Conv2d,
    stem_bn: Bn,
    layers: Vec<SharedLayer>,
    reductions: Vec<Vec<FactorizedReduce>>,
    head: Classifier,
    #[module(skip)]
    space: MacroSpace,
    #[module(skip)]
    pools: Vec<usize>,
}

impl MacroSupernetConfig {
    /// Builds the supernet of every architecture in `space`.
    ///
    /// # Errors
    /// [`NetError::Config`] for impossible settings.
    pub fn init(&self, space: &MacroSpace, device: &Device) -> Result<MacroSupernet, NetError> {
        check_common(
            self.classes,
            self.in_channels,
            self.image_size,
            self.channels,
        )?;
        check_probability("dropout", self.dropout)?;
        let pools = pool_layers(space.layers());
        let mut c = self.channels;
        let mut layers = Vec::with_capacity(space.layers());
        let mut reductions = Vec::new();
        for i in 0..space.layers() {
            let branches = MacroOp::ALL
                .iter()
                .map(|&op| {
                    space
                        .ops()
                        .contains(&op)
                        .then(|| MacroBranch::new(op, c, c, device))
                })
                .collect();
            layers.push(SharedLayer {
                branches,
                skip_bn: (i > 0).then(|| Bn::new(c, device)),
            });
            if pools.contains(&i) {
                reductions.push(
                    (0..=i)
                        .map(|_| {
                            FactorizedReduce::new(c, 2 * c, device).with_kernel(ReduceKernel::Dense)
                        })
                        .collect(),
                );
                c *= 2;
            }
        }
        Ok(MacroSupernet {
            stem: conv(self.in_channels, self.channels, 3, 1, 1, device),
            stem_bn: Bn::new(self.channels, device),
            layers,
            reductions,
            head: Classifier::new(c, self.classes, self.dropout, device),
            space: space.clone(),
            pools,
        })
    }
}

impl MacroSupernet {
    /// The space whose architectures this supernet runs.
    pub fn space(&self) -> &MacroSpace {
        &self.space
    }

    /// Logits `[N, classes]` of `arch`'s path.
    ///
    /// # Errors
    /// [`NetError::Arch`] when `arch` is not in the supernet's space.
    pub fn forward(
        &self,
        images: Tensor<4>,
        arch: &MacroArch,
        mode: Mode,
    ) -> Result<Tensor<2>, NetError> {
        self.space.validate(arch)?;
        let readers = last_reader(arch);
        let mut x = self.stem_bn.forward(dense(&self.stem, images), mode);
        let mut outputs: Vec<Option<Tensor<4>>> = Vec::with_capacity(self.layers.len());
        let mut pool_index = 0;
        for (i, (layer, spec)) in self.layers.iter().zip(&arch.layers).enumerate() {
            // The space check above guarantees the branch exists.
            let Some(branch) = &layer.branches[spec.op.enas_id()] else {
                unreachable!("op checked against the space")
            };
            let mut out = branch.forward(x, mode);
            if let Some(bn) = &layer.skip_bn {
                for &s in &spec.skips {
                    if let Some(t) = &outputs[s] {
                        out = out + t.clone();
                    }
                }
                out = bn.forward(out, mode);
            }
            outputs.push(Some(out.clone()));
            x = out;
            if self.pools.contains(&i) {
                for (j, reduce) in self.reductions[pool_index].iter().enumerate() {
                    let needed = readers[j].is_some_and(|r| r > i);
                    outputs[j] = match (needed, outputs[j].take()) {
                        (true, Some(t)) => Some(reduce.forward(t, mode)),
                        _ => None,
                    };
                }
                pool_index += 1;
                if let Some(Some(t)) = outputs.get(i) {
                    x = t.clone();
                }
            }
        }
        Ok(self.head.forward(x, mode))
    }
}
