//! A search space defined outside the library, end to end: its decisions, its architecture as
//! plain data, the fixed child network a search trains from scratch, and the supernet that
//! shares weights among all its architectures. `examples/custom_space.rs` searches it;
//! `tests/end_to_end/custom_space.rs` includes this same file.
//!
//! The space: a chain of `layers` layers at a fixed width; each layer picks an operation
//! (3×3 or 5×5 convolution, 3×3 max pooling, identity) and whether to add its input back
//! (a residual connection). The spatial size halves after the first and second third of the
//! layers (fixed 3×3 max pooling), as in ENAS's macro space.

#![allow(dead_code)] // The example and the test each use part of this module.

use std::fmt;

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use burn_nas::estimator::{ChildFactory, ImageShape, Supernet};
use burn_nas::nn::ops::{Bn, Classifier, Pool};
use burn_nas::nn::{Mode, NetError, NetOutput, Network};
use burn_nas::space::{
    ArchError, Architecture, Decision, DecisionGroup, Decisions, SearchSpace, Token,
};
use serde::{Deserialize, Serialize};

/// What one layer computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChainOp {
    /// 3×3 convolution, batch norm, ReLU.
    Conv3x3,
    /// 5×5 convolution, batch norm, ReLU.
    Conv5x5,
    /// 3×3 max pooling, stride 1.
    MaxPool3x3,
    /// The input unchanged.
    Identity,
}

impl ChainOp {
    /// Every op, in decision order.
    pub const ALL: [ChainOp; 4] = [
        ChainOp::Conv3x3,
        ChainOp::Conv5x5,
        ChainOp::MaxPool3x3,
        ChainOp::Identity,
    ];

    fn name(self) -> &'static str {
        match self {
            ChainOp::Conv3x3 => "conv3x3",
            ChainOp::Conv5x5 => "conv5x5",
            ChainOp::MaxPool3x3 => "maxpool3x3",
            ChainOp::Identity => "identity",
        }
    }
}

/// One layer of a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainLayer {
    /// The operation.
    pub op: ChainOp,
    /// Add the layer's input to its output.
    pub residual: bool,
}

/// An architecture of the chain space: plain data, no tensors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainArch {
    /// The layers, input first.
    pub layers: Vec<ChainLayer>,
}

impl fmt::Display for ChainArch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let layers: Vec<String> = self
            .layers
            .iter()
            .map(|l| format!("{}{}", l.op.name(), if l.residual { "+res" } else { "" }))
            .collect();
        write!(f, "chain[{}]", layers.join(" → "))
    }
}

impl Architecture for ChainArch {
    const SPACE: &'static str = "chain";

    fn validate(&self) -> Result<(), ArchError> {
        if self.layers.is_empty() {
            return Err(ArchError::Custom("a chain needs at least one layer".into()));
        }
        Ok(())
    }

    fn to_dot(&self) -> String {
        let mut dot = String::from("digraph chain {\n  rankdir=LR;\n  input [shape=box];\n");
        let mut previous = "input".to_string();
        for (i, layer) in self.layers.iter().enumerate() {
            let node = format!("l{i}");
            dot.push_str(&format!("  {node} [label=\"{}\"];\n", layer.op.name()));
            dot.push_str(&format!("  {previous} -> {node};\n"));
            if layer.residual {
                dot.push_str(&format!(
                    "  {previous} -> {node} [style=dashed, label=\"+\"];\n"
                ));
            }
            previous = node;
        }
        dot.push_str(&format!(
            "  output [shape=box];\n  {previous} -> output;\n}}\n"
        ));
        dot
    }
}

/// The chain space of `layers` layers: per layer an op and a residual bit.
#[derive(Debug, Clone)]
pub struct ChainSpace {
    decisions: Decisions,
}

impl ChainSpace {
    /// The space of `layers`-layer chains.
    ///
    /// # Errors
    /// Zero layers.
    pub fn new(layers: usize) -> Result<Self, ArchError> {
        if layers == 0 {
            return Err(ArchError::InvalidSpace {
                field: "layers".into(),
                reason: "must be at least 1".into(),
            });
        }
        let block = vec![
            Decision::categorical(ChainOp::ALL.len(), "op"),
            Decision::categorical(2, "residual"),
        ];
        let decisions = Decisions::new(vec![DecisionGroup {
            name: "layers".into(),
            initial_anchors: 0,
            blocks: vec![block; layers],
        }])?;
        Ok(ChainSpace { decisions })
    }
}

impl SearchSpace for ChainSpace {
    type Arch = ChainArch;

    fn name(&self) -> &str {
        ChainArch::SPACE
    }

    fn decisions(&self) -> &Decisions {
        &self.decisions
    }

    fn decode(&self, tokens: &[Token]) -> Result<ChainArch, ArchError> {
        self.decisions.check(tokens)?;
        // `check` guarantees one choice per decision, in range.
        let choice = |t: &Token| t.choice().unwrap_or(0);
        let layers = tokens
            .chunks(2)
            .map(|pair| ChainLayer {
                op: ChainOp::ALL[choice(&pair[0])],
                residual: choice(&pair[1]) == 1,
            })
            .collect();
        Ok(ChainArch { layers })
    }

    fn encode(&self, arch: &ChainArch) -> Result<Vec<Token>, ArchError> {
        let mut tokens = Vec::with_capacity(arch.layers.len() * 2);
        for layer in &arch.layers {
            let op = ChainOp::ALL
                .iter()
                .position(|&o| o == layer.op)
                .unwrap_or_default();
            tokens.push(Token::Choice(op));
            tokens.push(Token::Choice(usize::from(layer.residual)));
        }
        self.decisions.check(&tokens)?;
        Ok(tokens)
    }
}

/// Layers after which the spatial size halves: after the first and the second third.
fn reductions(layers: usize) -> Vec<usize> {
    let mut at: Vec<usize> = [layers / 3, 2 * layers / 3]
        .into_iter()
        .filter(|&i| i > 0 && i < layers)
        .map(|i| i - 1)
        .collect();
    at.dedup();
    at
}

fn conv(cin: usize, cout: usize, kernel: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [kernel, kernel])
        .with_padding(PaddingConfig2d::Same)
        .with_bias(false)
        .init(device)
}

fn conv_macs(conv: &Conv2d, h: usize) -> u64 {
    let [cout, cin, kh, kw] = conv.weight.dims();
    (h * h * cout * cin * kh * kw) as u64
}

/// A convolution with its batch norm and ReLU.
#[derive(Module, Debug)]
pub struct ConvBnRelu {
    conv: Conv2d,
    bn: Bn,
}

impl ConvBnRelu {
    fn new(cin: usize, cout: usize, kernel: usize, device: &Device) -> Self {
        ConvBnRelu {
            conv: conv(cin, cout, kernel, device),
            bn: Bn::new(cout, device),
        }
    }

    fn forward(&self, x: Tensor<4>, mode: Mode) -> Tensor<4> {
        relu(self.bn.forward(self.conv.forward(x), mode))
    }
}

/// One layer of a fixed child: the conv it needs, if any.
#[derive(Module, Debug)]
pub struct ChildLayer {
    conv: Option<ConvBnRelu>,
    max_pool: bool,
    residual: bool,
}

/// The fixed network of one chain architecture, trained from scratch.
#[derive(Module, Debug)]
pub struct ChainNet {
    stem: ConvBnRelu,
    layers: Vec<ChildLayer>,
    reductions: Vec<usize>,
    classifier: Classifier,
    image_size: usize,
}

impl Network for ChainNet {
    fn forward_output(&self, images: Tensor<4>, mode: Mode) -> NetOutput {
        let mut x = self.stem.forward(images, mode);
        for (i, layer) in self.layers.iter().enumerate() {
            let out = match (&layer.conv, layer.max_pool) {
                (Some(conv), _) => conv.forward(x.clone(), mode),
                (None, true) => Pool::max(1).forward(x.clone()),
                (None, false) => x.clone(),
            };
            x = if layer.residual { out + x } else { out };
            if self.reductions.contains(&i) {
                x = Pool::max(2).forward(x);
            }
        }
        NetOutput {
            logits: self.classifier.forward(x, mode),
            aux: None,
        }
    }

    fn macs(&self) -> u64 {
        let mut h = self.image_size;
        let mut macs = conv_macs(&self.stem.conv, h);
        for (i, layer) in self.layers.iter().enumerate() {
            if let Some(conv) = &layer.conv {
                macs += conv_macs(&conv.conv, h);
            }
            if self.reductions.contains(&i) {
                h = h.div_ceil(2);
            }
        }
        macs + self.classifier.macs()
    }
}

/// Builds [`ChainNet`]s of `channels` channels (scaled for low-fidelity estimates).
#[derive(Debug, Clone)]
pub struct ChainChild {
    /// Channels of every layer at full fidelity.
    pub channels: usize,
}

impl ChildFactory<ChainArch> for ChainChild {
    type Net = ChainNet;

    fn build(
        &self,
        arch: &ChainArch,
        shape: ImageShape,
        channel_scale: f64,
        _depth_scale: f64,
        device: &Device,
    ) -> Result<ChainNet, NetError> {
        arch.validate()?;
        let c = ((self.channels as f64 * channel_scale).round() as usize).max(1);
        let layers = arch
            .layers
            .iter()
            .map(|l| ChildLayer {
                conv: match l.op {
                    ChainOp::Conv3x3 => Some(ConvBnRelu::new(c, c, 3, device)),
                    ChainOp::Conv5x5 => Some(ConvBnRelu::new(c, c, 5, device)),
                    ChainOp::MaxPool3x3 | ChainOp::Identity => None,
                },
                max_pool: l.op == ChainOp::MaxPool3x3,
                residual: l.residual,
            })
            .collect();
        Ok(ChainNet {
            stem: ConvBnRelu::new(shape.channels, c, 3, device),
            layers,
            reductions: reductions(arch.layers.len()),
            classifier: Classifier::new(c, shape.classes, 0.0, device),
            image_size: shape.size,
        })
    }
}

/// The shared weights of one layer: one conv per conv op.
#[derive(Module, Debug)]
pub struct SharedLayer {
    conv3: ConvBnRelu,
    conv5: ConvBnRelu,
}

/// Every architecture of the space in one network: each layer holds every op's weights, and an
/// architecture runs the path it picks.
#[derive(Module, Debug)]
pub struct ChainSupernet {
    stem: ConvBnRelu,
    layers: Vec<SharedLayer>,
    reductions: Vec<usize>,
    classifier: Classifier,
}

impl ChainSupernet {
    /// The supernet of `layers`-layer chains with `channels` channels for images of `shape`.
    pub fn new(layers: usize, channels: usize, shape: ImageShape, device: &Device) -> Self {
        ChainSupernet {
            stem: ConvBnRelu::new(shape.channels, channels, 3, device),
            layers: (0..layers)
                .map(|_| SharedLayer {
                    conv3: ConvBnRelu::new(channels, channels, 3, device),
                    conv5: ConvBnRelu::new(channels, channels, 5, device),
                })
                .collect(),
            reductions: reductions(layers),
            classifier: Classifier::new(channels, shape.classes, 0.0, device),
        }
    }
}

impl Supernet<ChainArch> for ChainSupernet {
    fn forward_arch(
        &self,
        images: Tensor<4>,
        arch: &ChainArch,
        mode: Mode,
    ) -> Result<Tensor<2>, NetError> {
        if arch.layers.len() != self.layers.len() {
            return Err(ArchError::Custom(format!(
                "the supernet has {} layers, the architecture {}",
                self.layers.len(),
                arch.layers.len()
            ))
            .into());
        }
        let mut x = self.stem.forward(images, mode);
        for (i, (shared, layer)) in self.layers.iter().zip(&arch.layers).enumerate() {
            let out = match layer.op {
                ChainOp::Conv3x3 => shared.conv3.forward(x.clone(), mode),
                ChainOp::Conv5x5 => shared.conv5.forward(x.clone(), mode),
                ChainOp::MaxPool3x3 => Pool::max(1).forward(x.clone()),
                ChainOp::Identity => x.clone(),
            };
            x = if layer.residual { out + x } else { out };
            if self.reductions.contains(&i) {
                x = Pool::max(2).forward(x);
            }
        }
        Ok(self.classifier.forward(x, mode))
    }
}
