//! [`MacroNet`]: the ENAS final network of a macro architecture, trained from scratch.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::{Device, Tensor};

use super::kernels::dense;
use super::ops::{
    Bn, Calibration, Classifier, FactorizedReduce, MacroBranch, ReduceKernel, conv, conv_macs,
    strided,
};
use super::{Mode, NetError, NetOutput, Network, check_common, check_probability};
use burn_nas_space::Architecture;
use burn_nas_space::enas_macro::{MacroArch, last_reader, pool_layers};

/// Settings of a [`MacroNet`]. The depth is the architecture's. Default width 96 channels,
/// ENAS's final macro network (24 layers, 96 channels: 21.3M parameters in the paper).
#[derive(Config, Debug)]
pub struct MacroNetConfig {
    /// Number of classes.
    pub classes: usize,
    /// Image channels.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Image height and width (≥ 8).
    #[config(default = 32)]
    pub image_size: usize,
    /// Channels of the first layers (doubled at each pooling).
    #[config(default = 96)]
    pub channels: usize,
    /// Dropout probability before the classifier.
    #[config(default = 0.1)]
    pub dropout: f64,
}

/// One layer of a [`MacroNet`]: the branch and, past layer 0, the merge of its skips.
#[derive(Module, Debug)]
struct FixedLayer {
    branch: MacroBranch,
    merge: Option<Calibration>,
}

/// The ENAS final network of a macro architecture: a 3×3 stem + BN; per layer its branch on the
/// previous layer's output; past layer 0 the selected earlier layers are concatenated with the
/// output and projected back (ReLU → 1×1 conv → BN); after layers `L/3 − 1` and `2L/3 − 1` the
/// channels double and every earlier output still read later goes through a factorized
/// reduction; then ReLU → global pool → dropout → linear.
#[derive(Module, Debug)]
pub struct MacroNet {
    stem: Conv2d,
    stem_bn: Bn,
    layers: Vec<FixedLayer>,
    /// Per pooling point, one reduction per layer output (None where nothing reads it later).
    reductions: Vec<Vec<Option<FactorizedReduce>>>,
    head: Classifier,
    #[module(skip)]
    arch: MacroArch,
    #[module(skip)]
    pools: Vec<usize>,
    macs: u64,
}

impl MacroNetConfig {
    /// Builds the network of `arch`.
    ///
    /// # Errors
    /// [`NetError::Config`] for impossible settings, [`NetError::Arch`] for an invalid arch.
    pub fn init(&self, arch: &MacroArch, device: &Device) -> Result<MacroNet, NetError> {
        check_common(
            self.classes,
            self.in_channels,
            self.image_size,
            self.channels,
        )?;
        check_probability("dropout", self.dropout)?;
        arch.validate()?;
        let pools = pool_layers(arch.layers.len());
        let readers = last_reader(arch);
        let mut c = self.channels;
        let mut h = self.image_size;
        let stem = conv(self.in_channels, c, 3, 1, 1, device);
        let mut macs = conv_macs(&stem, h, h).0;
        let mut layers = Vec::with_capacity(arch.layers.len());
        let mut reductions = Vec::new();
        for (i, layer) in arch.layers.iter().enumerate() {
            let branch = MacroBranch::new(layer.op, c, c, device);
            macs += branch.macs(h, h);
            let merge = (i > 0).then(|| {
                let m = Calibration::new((layer.skips.len() + 1) * c, c, device);
                macs += m.macs(h, h);
                m
            });
            layers.push(FixedLayer { branch, merge });
            if pools.contains(&i) {
                let reduce: Vec<Option<FactorizedReduce>> = (0..=i)
                    .map(|j| {
                        readers[j].is_some_and(|r| r > i).then(|| {
                            let r = FactorizedReduce::new(c, 2 * c, device)
                                .with_kernel(ReduceKernel::Dense);
                            macs += r.macs(h, h).0;
                            r
                        })
                    })
                    .collect();
                reductions.push(reduce);
                c *= 2;
                h = strided(h, 2);
            }
        }
        let head = Classifier::new(c, self.classes, self.dropout, device);
        macs += head.macs();
        Ok(MacroNet {
            stem,
            stem_bn: Bn::new(self.channels, device),
            layers,
            reductions,
            head,
            arch: arch.clone(),
            pools,
            macs,
        })
    }
}

impl Network for MacroNet {
    fn forward_output(&self, images: Tensor<4>, mode: Mode) -> NetOutput {
        let mut x = self.stem_bn.forward(dense(&self.stem, images), mode);
        let mut outputs: Vec<Option<Tensor<4>>> = Vec::with_capacity(self.layers.len());
        let mut pool_index = 0;
        for (i, layer) in self.layers.iter().enumerate() {
            let mut out = layer.branch.forward(x, mode);
            if let Some(merge) = &layer.merge {
                let mut parts: Vec<Tensor<4>> = self.arch.layers[i]
                    .skips
                    .iter()
                    .filter_map(|&s| outputs[s].clone())
                    .collect();
                parts.push(out);
                out = merge.forward(Tensor::cat(parts, 1), mode);
            }
            outputs.push(Some(out.clone()));
            x = out;
            if self.pools.contains(&i) {
                for (j, reduce) in self.reductions[pool_index].iter().enumerate() {
                    outputs[j] = match (reduce, outputs[j].take()) {
                        (Some(r), Some(t)) => Some(r.forward(t, mode)),
                        _ => None,
                    };
                }
                pool_index += 1;
                // The next layer reads the reduced output of this one.
                if let Some(Some(t)) = outputs.get(i) {
                    x = t.clone();
                }
            }
        }
        NetOutput {
            logits: self.head.forward(x, mode),
            aux: None,
        }
    }

    fn macs(&self) -> u64 {
        self.macs
    }
}
