//! [`NasRlNet`]: the network of a NAS-RL architecture (Zoph & Le 2017).

use burn::config::Config;
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::ops::PadMode;
use burn::tensor::{Device, Tensor, activation::relu};

use super::kernels::dense;
use super::ops::{Bn, Classifier, conv_macs};
use super::{Mode, NetError, NetOutput, Network, check_common, check_probability};
use burn_nas_space::Architecture;
use burn_nas_space::nas_rl::NasRlArch;

/// Settings of a [`NasRlNet`]. Filter counts come from the architecture; `filter_scale`
/// multiplies them (low-fidelity estimates use a fraction).
#[derive(Config, Debug)]
pub struct NasRlNetConfig {
    /// Number of classes.
    pub classes: usize,
    /// Image channels.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Image height and width (≥ 8).
    #[config(default = 32)]
    pub image_size: usize,
    /// Multiplier of every layer's filter count (rounded, at least 1 filter).
    #[config(default = 1.0)]
    pub filter_scale: f64,
    /// Dropout probability before the classifier.
    #[config(default = 0.0)]
    pub dropout: f64,
}

/// One layer: conv (h × w, a stride per axis, "same" padding) + BN + ReLU.
#[derive(Module, Debug)]
struct NasRlConv {
    conv: Conv2d,
    bn: Bn,
}

/// The network of a NAS-RL architecture, following Zoph & Le's wiring rules: a layer's inputs
/// are concatenated along channels, smaller ones zero-padded (bottom and right) to the largest
/// height and the largest width;
/// a layer without inputs reads the image; each layer is conv + BN + ReLU; every layer no
/// other layer reads is concatenated (padded likewise) before global pooling and the classifier.
#[derive(Module, Debug)]
pub struct NasRlNet {
    layers: Vec<NasRlConv>,
    head: Classifier,
    #[module(skip)]
    arch: NasRlArch,
    #[module(skip)]
    sizes: Vec<[usize; 2]>,
    macs: u64,
}

impl NasRlNetConfig {
    /// Builds the network of `arch`.
    ///
    /// # Errors
    /// [`NetError::Config`] for impossible settings, [`NetError::Arch`] for an invalid arch.
    pub fn init(&self, arch: &NasRlArch, device: &Device) -> Result<NasRlNet, NetError> {
        check_common(self.classes, self.in_channels, self.image_size, 2)?;
        check_probability("dropout", self.dropout)?;
        if !(self.filter_scale.is_finite() && self.filter_scale > 0.0) {
            return Err(NetError::Config {
                field: "filter_scale",
                value: self.filter_scale.to_string(),
                reason: "must be a positive number".into(),
            });
        }
        arch.validate()?;
        let mut channels: Vec<usize> = Vec::with_capacity(arch.layers.len());
        let mut sizes: Vec<[usize; 2]> = Vec::with_capacity(arch.layers.len());
        let mut layers = Vec::with_capacity(arch.layers.len());
        let mut macs = 0;
        for l in &arch.layers {
            let (cin, [h_in, w_in]) = if l.inputs.is_empty() {
                (self.in_channels, [self.image_size; 2])
            } else {
                let largest = |axis: usize| {
                    l.inputs
                        .iter()
                        .map(|&j| sizes[j][axis])
                        .max()
                        .unwrap_or(self.image_size)
                };
                (
                    l.inputs.iter().map(|&j| channels[j]).sum(),
                    [largest(0), largest(1)],
                )
            };
            let filters = ((l.filters as f64 * self.filter_scale).round() as usize).max(1);
            let conv = Conv2dConfig::new([cin, filters], [l.filter_height, l.filter_width])
                .with_stride(l.strides())
                .with_padding(PaddingConfig2d::Same)
                .with_bias(false)
                .init(device);
            let (layer_macs, h_out, w_out) = conv_macs(&conv, h_in, w_in);
            macs += layer_macs;
            layers.push(NasRlConv {
                conv,
                bn: Bn::new(filters, device),
            });
            channels.push(filters);
            sizes.push([h_out, w_out]);
        }
        let out_channels = arch.outputs().iter().map(|&i| channels[i]).sum();
        let head = Classifier::new(out_channels, self.classes, self.dropout, device);
        macs += head.macs();
        Ok(NasRlNet {
            layers,
            head,
            arch: arch.clone(),
            sizes,
            macs,
        })
    }
}

/// Concatenates feature maps along channels, zero-padding smaller ones to the largest height
/// and the largest width.
fn concat_padded(parts: Vec<Tensor<4>>) -> Tensor<4> {
    let height = parts.iter().map(|t| t.dims()[2]).max().unwrap_or(0);
    let width = parts.iter().map(|t| t.dims()[3]).max().unwrap_or(0);
    let padded = parts
        .into_iter()
        .map(|t| {
            let [_, _, h, w] = t.dims();
            if h == height && w == width {
                t
            } else {
                t.pad((0, width - w, 0, height - h), PadMode::Constant(0.0))
            }
        })
        .collect();
    Tensor::cat(padded, 1)
}

impl Network for NasRlNet {
    fn forward_output(&self, images: Tensor<4>, mode: Mode) -> NetOutput {
        let mut outputs: Vec<Tensor<4>> = Vec::with_capacity(self.layers.len());
        for (layer, spec) in self.layers.iter().zip(&self.arch.layers) {
            let input = if spec.inputs.is_empty() {
                images.clone()
            } else {
                concat_padded(spec.inputs.iter().map(|&j| outputs[j].clone()).collect())
            };
            let y = relu(layer.bn.forward(dense(&layer.conv, input), mode));
            outputs.push(y);
        }
        let loose = self
            .arch
            .outputs()
            .into_iter()
            .map(|i| outputs[i].clone())
            .collect();
        NetOutput {
            logits: self.head.forward(concat_padded(loose), mode),
            aux: None,
        }
    }

    fn macs(&self) -> u64 {
        self.macs
    }
}

impl NasRlNet {
    /// `[height, width]` of each layer's output.
    pub fn sizes(&self) -> &[[usize; 2]] {
        &self.sizes
    }
}
