//! [`MicroNet`]: the ENAS final network for a micro architecture, trained from scratch.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Identity, Linear, LinearConfig};
use burn::tensor::module::adaptive_avg_pool2d;
use burn::tensor::{Device, Tensor, activation::relu};

use super::kernels::pointwise;
use super::ops::{
    Adapter, Bn, Calibration, Classifier, ConvInit, FactorizedReduce, Pool, SepConv, conv,
    conv_macs, conv_with, drop_path, strided,
};
use super::{Mode, NetError, NetOutput, Network, check_common, check_probability};
use burn_nas_space::Architecture;
use burn_nas_space::enas_micro::{Cell, MicroArch, MicroOp, reduction_cells};

/// Settings of a [`MicroNet`]. Defaults are ENAS's final CIFAR-10 network: `L = 15` normal
/// layers, `C = 36`, auxiliary head (weight 0.4), drop-path keep 0.6, dropout 0.2 (keep 0.8).
#[derive(Config, Debug)]
pub struct MicroNetConfig {
    /// Number of classes.
    pub classes: usize,
    /// Image channels (3 for CIFAR-10, 1 for Fashion-MNIST).
    #[config(default = 3)]
    pub in_channels: usize,
    /// Image height and width (≥ 8).
    #[config(default = 32)]
    pub image_size: usize,
    /// Number of normal layers `L`; reduction cells come after `L/3` and `2L/3` of them.
    #[config(default = 15)]
    pub layers: usize,
    /// Channels `C` of the first cells (doubled at each reduction; the stem has `3C`).
    #[config(default = 36)]
    pub channels: usize,
    /// Whether to add the auxiliary head (on the cell after the second reduction cell, as in
    /// ENAS).
    #[config(default = true)]
    pub aux_head: bool,
    /// Loss weight of the auxiliary head.
    #[config(default = 0.4)]
    pub aux_weight: f64,
    /// Drop-path keep probability at the last cell at the end of training (1 = off); it is
    /// scaled linearly by depth and training progress as in ENAS.
    #[config(default = 0.6)]
    pub drop_path_keep: f64,
    /// Dropout probability before the classifier.
    #[config(default = 0.2)]
    pub dropout: f64,
    /// Initialisation of the convolutions: He (ENAS's code, the default) or uniform
    /// (PyTorch's default; what the fast preset of `enas_micro` retrains with).
    #[config(default = "ConvInit::He")]
    pub init: ConvInit,
    /// The cells' wiring: ENAS's fixed cell (the default) or the search network's projected
    /// one.
    #[config(default = "CellStyle::Enas")]
    pub cell_style: CellStyle,
}

/// How a [`MicroNet`] cell is wired around its nodes. Both calibrate the two cell inputs to
/// the cell's `C` channels (ReLU → 1×1 conv → BN, or a factorized reduction after a
/// reduction cell) where they do not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum CellStyle {
    /// ENAS's fixed cell (`_fixed_layer` of the official `micro_child.py`): the second input
    /// always passes one more ReLU → 1×1 conv → BN (`layer_base`), and the loose ends (the
    /// nodes no other node reads) are concatenated, so a cell with `k` loose ends is `k·C`
    /// channels wide and the next two cells calibrate it. The official final architecture at
    /// `L = 15`, `C = 36` has the official code's parameter shapes exactly (3.89M without the
    /// auxiliary head, 4.39M with it; the paper reports 4.6M).
    #[default]
    Enas,
    /// The search network's cell (the supernet's): no `layer_base`, and the concatenated loose
    /// ends are projected back to `C` channels (ReLU → 1×1 conv → BN), so every cell is `C`
    /// wide. About a tenth fewer parameters at the paper's size; what the fast preset of
    /// `enas_micro` retrains (its measurements were made with it).
    Projected,
}

/// The op on one input of a node.
// Modules are built once per network; variant size does not matter, and burn modules
// cannot be boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
enum NodeOp {
    Sep(SepConv),
    Pool(Pool),
    Identity(Identity),
    /// Identity on a cell input of a reduction cell: factorized reduction.
    Reduce(FactorizedReduce),
}

impl NodeOp {
    fn forward(&self, x: Tensor<4>, mode: Mode) -> Tensor<4> {
        match self {
            NodeOp::Sep(s) => s.forward(x, mode),
            NodeOp::Pool(p) => p.forward(x),
            NodeOp::Identity(_) => x,
            NodeOp::Reduce(r) => r.forward(x, mode),
        }
    }
}

/// One cell of a [`MicroNet`].
#[derive(Module, Debug)]
struct FixedCell {
    adapt: Vec<Adapter>,
    /// ENAS's `layer_base` on the second input ([`CellStyle::Enas`]).
    base: Option<Calibration>,
    ops: Vec<NodeOp>,
    loose_reduce: Vec<Option<FactorizedReduce>>,
    project: Option<Calibration>,
    #[module(skip)]
    cell: Cell,
}

impl FixedCell {
    /// Builds the cell; returns it with its multiply-accumulates.
    fn new(
        cell: &Cell,
        inputs: [(usize, usize); 2],
        cout: usize,
        reduction: bool,
        style: CellStyle,
        init: ConvInit,
        device: &Device,
    ) -> (FixedCell, u64) {
        let h_in = inputs[1].1;
        let h_out = if reduction { strided(h_in, 2) } else { h_in };
        let adapt: Vec<Adapter> = inputs
            .iter()
            .map(|&(c, h)| Adapter::with_init(c, h, cout, h_in, init, device))
            .collect();
        let mut macs = adapt[0].macs(inputs[0].1, inputs[0].1) + adapt[1].macs(h_in, h_in);
        let base = (style == CellStyle::Enas).then(|| {
            let base = Calibration::with_init(cout, cout, init, device);
            macs += base.macs(h_in, h_in);
            base
        });
        let mut ops = Vec::with_capacity(2 * cell.nodes.len());
        for node in &cell.nodes {
            for k in 0..2 {
                let from_input = node.inputs[k] < 2;
                let stride = if reduction && from_input { 2 } else { 1 };
                let h = if from_input { h_in } else { h_out };
                let sep = |kernel| SepConv::with_init(cout, cout, kernel, stride, init, device);
                let op = match node.ops[k] {
                    MicroOp::SepConv3x3 => NodeOp::Sep(sep(3)),
                    MicroOp::SepConv5x5 => NodeOp::Sep(sep(5)),
                    MicroOp::AvgPool3x3 => NodeOp::Pool(Pool::avg(stride)),
                    MicroOp::MaxPool3x3 => NodeOp::Pool(Pool::max(stride)),
                    MicroOp::Identity if stride == 1 => NodeOp::Identity(Identity::new()),
                    MicroOp::Identity => {
                        NodeOp::Reduce(FactorizedReduce::with_init(cout, cout, init, device))
                    }
                };
                macs += match &op {
                    NodeOp::Sep(s) => s.macs(h, h).0,
                    NodeOp::Reduce(r) => r.macs(h, h).0,
                    _ => 0,
                };
                ops.push(op);
            }
        }
        let loose = cell.loose_ends();
        let loose_reduce = loose
            .iter()
            .map(|&i| {
                (reduction && i < 2).then(|| {
                    let r = FactorizedReduce::with_init(cout, cout, init, device);
                    macs += r.macs(h_in, h_in).0;
                    r
                })
            })
            .collect();
        let project = (style == CellStyle::Projected).then(|| {
            let project = Calibration::with_init(loose.len() * cout, cout, init, device);
            macs += project.macs(h_out, h_out);
            project
        });
        let fixed = FixedCell {
            adapt,
            base,
            ops,
            loose_reduce,
            project,
            cell: cell.clone(),
        };
        (fixed, macs)
    }

    fn forward(&self, x0: Tensor<4>, x1: Tensor<4>, mode: Mode, keep: f64) -> Tensor<4> {
        let mut x1 = self.adapt[1].forward(x1, mode);
        if let Some(base) = &self.base {
            x1 = base.forward(x1, mode);
        }
        let mut anchors = vec![self.adapt[0].forward(x0, mode), x1];
        for (b, node) in self.cell.nodes.iter().enumerate() {
            let mut sum: Option<Tensor<4>> = None;
            for k in 0..2 {
                let op = &self.ops[2 * b + k];
                let mut y = op.forward(anchors[node.inputs[k]].clone(), mode);
                if mode.stochastic && !matches!(op, NodeOp::Identity(_)) {
                    y = drop_path(y, keep);
                }
                sum = Some(match sum {
                    Some(s) => s + y,
                    None => y,
                });
            }
            if let Some(s) = sum {
                anchors.push(s);
            }
        }
        let outs: Vec<Tensor<4>> = self
            .cell
            .loose_ends()
            .into_iter()
            .zip(&self.loose_reduce)
            .map(|(i, r)| match r {
                Some(r) => r.forward(anchors[i].clone(), mode),
                None => anchors[i].clone(),
            })
            .collect();
        let out = Tensor::cat(outs, 1);
        match &self.project {
            Some(project) => project.forward(out, mode),
            None => out,
        }
    }

    /// Channels of the cell's output for a cell of `cout` channels.
    fn out_channels(&self, cout: usize) -> usize {
        match self.project {
            Some(_) => cout,
            None => self.cell.loose_ends().len() * cout,
        }
    }
}

/// ENAS's auxiliary classifier: ReLU → average pool to 2×2 → 1×1 conv (128) + BN + ReLU →
/// 2×2 conv (768) + BN + ReLU → linear.
#[derive(Module, Debug)]
pub(crate) struct AuxHead {
    conv1: Conv2d,
    bn1: Bn,
    conv2: Conv2d,
    bn2: Bn,
    linear: Linear,
    pooled: usize,
}

impl AuxHead {
    pub(crate) fn new(
        channels: usize,
        size: usize,
        classes: usize,
        device: &Device,
    ) -> (Self, u64) {
        let pooled = size.min(2);
        let conv1 = conv(channels, 128, 1, 1, 1, device);
        let conv2 = Conv2dConfig::new([128, 768], [pooled, pooled])
            .with_bias(false)
            .init(device);
        let linear = LinearConfig::new(768, classes).init(device);
        let macs = conv_macs(&conv1, pooled, pooled).0
            + (128 * 768 * pooled * pooled + 768 * classes) as u64;
        let head = AuxHead {
            conv1,
            bn1: Bn::new(128, device),
            conv2,
            bn2: Bn::new(768, device),
            linear,
            pooled,
        };
        (head, macs)
    }

    pub(crate) fn forward(&self, x: Tensor<4>, mode: Mode) -> Tensor<2> {
        let x = adaptive_avg_pool2d(relu(x), [self.pooled, self.pooled]);
        let x = relu(self.bn1.forward(pointwise(&self.conv1, x), mode));
        let x = relu(self.bn2.forward(self.conv2.forward(x), mode));
        let [n, c, _, _] = x.dims();
        self.linear.forward(x.reshape([n, c]))
    }
}

/// The ENAS final network of a micro architecture: a 3×3 stem to `3C` channels + BN, `L + 2`
/// cells with the reduction cell at positions `L/3` and `2·(L/3) + 1` (channels double at each),
/// optional auxiliary head on the cell after the second reduction, and ReLU → global pool →
/// dropout → linear.
///
/// Reduction cells apply their ops with stride 2 to the cell inputs (identity becomes a
/// factorized reduction), as ENAS's fixed networks do; a cell's output concatenates the nodes
/// no other node reads ([`CellStyle`]: and, optionally, projects them back to the cell's
/// channels).
#[derive(Module, Debug)]
pub struct MicroNet {
    stem: Conv2d,
    stem_bn: Bn,
    cells: Vec<FixedCell>,
    aux: Option<AuxHead>,
    aux_after: usize,
    aux_weight: f64,
    head: Classifier,
    drop_path_keep: f64,
    macs: u64,
}

impl MicroNetConfig {
    /// Builds the network of `arch`.
    ///
    /// # Errors
    /// [`NetError::Config`] for impossible settings, [`NetError::Arch`] for an invalid arch.
    pub fn init(&self, arch: &MicroArch, device: &Device) -> Result<MicroNet, NetError> {
        check_common(
            self.classes,
            self.in_channels,
            self.image_size,
            self.channels,
        )?;
        check_probability("dropout", self.dropout)?;
        check_probability("drop_path_keep (as 1 − keep)", 1.0 - self.drop_path_keep)?;
        if !(0.0..=1.0).contains(&self.aux_weight) {
            return Err(NetError::Config {
                field: "aux_weight",
                value: self.aux_weight.to_string(),
                reason: "must be in [0, 1]".into(),
            });
        }
        arch.validate()?;
        let c = self.channels;
        let stem = conv_with(self.in_channels, 3 * c, [3, 1, 1], self.init, device);
        let mut macs = conv_macs(&stem, self.image_size, self.image_size).0;
        let reductions = reduction_cells(self.layers);
        let mut inputs = [(3 * c, self.image_size); 2];
        let mut cout = c;
        let mut cells = Vec::with_capacity(self.layers + 2);
        let mut aux = None;
        // ENAS's `aux_head_indices`: the cell after the second reduction (the last cell when
        // there is none).
        let aux_after = (reductions[1] + 1).min(self.layers + 1);
        for i in 0..self.layers + 2 {
            let reduction = reductions.contains(&i);
            if reduction {
                cout *= 2;
            }
            let cell = if reduction {
                &arch.reduce
            } else {
                &arch.normal
            };
            let (fixed, m) = FixedCell::new(
                cell,
                inputs,
                cout,
                reduction,
                self.cell_style,
                self.init,
                device,
            );
            macs += m;
            let width = fixed.out_channels(cout);
            cells.push(fixed);
            let h = if reduction {
                strided(inputs[1].1, 2)
            } else {
                inputs[1].1
            };
            inputs = [inputs[1], (width, h)];
            if self.aux_head && i == aux_after {
                let (head, m) = AuxHead::new(width, h, self.classes, device);
                macs += m;
                aux = Some(head);
            }
        }
        let head = Classifier::new(inputs[1].0, self.classes, self.dropout, device);
        macs += head.macs();
        Ok(MicroNet {
            stem,
            stem_bn: Bn::new(3 * c, device),
            cells,
            aux,
            aux_after,
            aux_weight: self.aux_weight,
            head,
            drop_path_keep: self.drop_path_keep,
            macs,
        })
    }
}

impl Network for MicroNet {
    fn forward_output(&self, images: Tensor<4>, mode: Mode) -> NetOutput {
        let x = self.stem_bn.forward(self.stem.forward(images), mode);
        let (mut s0, mut s1) = (x.clone(), x);
        let total = self.cells.len() as f64;
        let mut aux = None;
        for (i, cell) in self.cells.iter().enumerate() {
            let depth = (i + 1) as f64 / total;
            let keep = 1.0 - mode.progress * depth * (1.0 - self.drop_path_keep);
            let out = cell.forward(s0, s1.clone(), mode, keep);
            s0 = s1;
            s1 = out;
            if let (true, Some(head)) = (i == self.aux_after && mode.stochastic, &self.aux) {
                aux = Some((head.forward(s1.clone(), mode), self.aux_weight));
            }
        }
        NetOutput {
            logits: self.head.forward(s1, mode),
            aux,
        }
    }

    fn macs(&self) -> u64 {
        self.macs
    }
}
