//! [`MicroSupernet`]: ENAS micro weight sharing — every architecture of a [`MicroSpace`] is a
//! path through one network, and a forward pass runs only the sampled path.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::nn::conv::Conv2d;
use burn::tensor::{Device, Tensor, activation::relu};

use super::kernels::pointwise_conv;
use super::ops::{
    Adapter, Bn, Calibration, Classifier, ConvInit, FactorizedReduce, Pool, SepConv, conv_with,
    strided,
};
use super::{Mode, NetError, check_common, check_probability};
use burn_nas_space::SearchSpace;
use burn_nas_space::enas_micro::reduction_cells;
use burn_nas_space::enas_micro::{Cell, MicroArch, MicroOp, MicroSpace};

/// Settings of a [`MicroSupernet`]. Defaults are ENAS's micro search: `L = 6`, `C = 20`.
#[derive(Config, Debug)]
pub struct MicroSupernetConfig {
    /// Number of classes.
    pub classes: usize,
    /// Image channels.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Image height and width (≥ 8).
    #[config(default = 32)]
    pub image_size: usize,
    /// Number of normal layers `L` (plus two reduction cells).
    #[config(default = 6)]
    pub layers: usize,
    /// Channels `C` of the first cells (doubled at each reduction).
    #[config(default = 20)]
    pub channels: usize,
    /// Dropout probability before the classifier.
    #[config(default = 0.1)]
    pub dropout: f64,
    /// Initialisation of the convolutions (the output projections stay He-initialised).
    ///
    /// Default [`ConvInit::Uniform`]: each shared weight is trained only by the paths that
    /// select it, and with He's larger weights the batch-normalised convolutions take
    /// smaller effective steps. On the fast preset's Fashion-MNIST supernet, 4 epochs of
    /// uniformly random cells reach a mean random-cell accuracy of 0.39 with it and 0.36 with
    /// [`ConvInit::He`], everything else equal (the leave-one-out table of docs/results.md).
    #[config(default = "ConvInit::Uniform")]
    pub init: ConvInit,
    /// Whether the two branches of a node keep separate op weights (ENAS's code: its `x` and
    /// `y` variable scopes) instead of one set per node and input (the PyTorch reference of
    /// shared/bench). Default `false`: each weight then trains twice as often, with half the
    /// parameters; measured on the fast preset's supernet, no clear difference (mean
    /// random-cell accuracy after 4 epochs 0.42 shared, 0.43 per branch, within seed noise).
    #[config(default = false)]
    pub per_branch_weights: bool,
}

/// The weights one (node, branch, input) triple keeps for each weighted op of the space.
#[derive(Module, Debug)]
struct InputOps {
    sep3: Option<SepConv>,
    sep5: Option<SepConv>,
}

/// One cell of the supernet: weights for every node, branch, input and op.
#[derive(Module, Debug)]
struct SharedCell {
    /// Factorized reduction of the previous output before a reduction cell (ENAS search).
    pre_reduce: Option<FactorizedReduce>,
    adapt: Vec<Adapter>,
    /// `ops[b][k][i]`: node `b`, branch `k` (input 1 / input 2; one shared entry unless
    /// [`MicroSupernetConfig::per_branch_weights`]), input anchor `i`.
    ops: Vec<Vec<Vec<InputOps>>>,
    /// Rows of the output projection, one `[C, C, 1, 1]` block per anchor.
    project: Vec<Param<Tensor<4>>>,
    project_bn: Bn,
}

impl SharedCell {
    fn forward(
        &self,
        s0: Tensor<4>,
        s1: Tensor<4>,
        cell: &Cell,
        mode: Mode,
    ) -> (Tensor<4>, Tensor<4>) {
        let (s0, s1) = match &self.pre_reduce {
            // ENAS search: the reduction cell reads the previous output and its reduction.
            Some(r) => (s1.clone(), r.forward(s1, mode)),
            None => (s0, s1),
        };
        let next_s0 = s1.clone();
        let mut anchors = vec![
            self.adapt[0].forward(s0, mode),
            self.adapt[1].forward(s1, mode),
        ];
        for (b, node) in cell.nodes.iter().enumerate() {
            let mut sum: Option<Tensor<4>> = None;
            for k in 0..2 {
                let i = node.inputs[k];
                let x = anchors[i].clone();
                let branches = &self.ops[b];
                let weights = &branches[k.min(branches.len() - 1)][i];
                let y = match node.ops[k] {
                    MicroOp::SepConv3x3 => weights.sep3.as_ref().map(|s| s.forward(x, mode)),
                    MicroOp::SepConv5x5 => weights.sep5.as_ref().map(|s| s.forward(x, mode)),
                    MicroOp::AvgPool3x3 => Some(Pool::avg(1).forward(x)),
                    MicroOp::MaxPool3x3 => Some(Pool::max(1).forward(x)),
                    MicroOp::Identity => Some(x),
                };
                // Ops are checked against the space before the forward pass.
                if let Some(y) = y {
                    sum = Some(match sum {
                        Some(s) => s + y,
                        None => y,
                    });
                }
            }
            if let Some(s) = sum {
                anchors.push(s);
            }
        }
        let loose = cell.loose_ends();
        let weight = Tensor::cat(loose.iter().map(|&i| self.project[i].val()).collect(), 1);
        let x = Tensor::cat(loose.iter().map(|&i| anchors[i].clone()).collect(), 1);
        let y = pointwise_conv(relu(x), weight);
        (next_s0, self.project_bn.forward(y, mode))
    }
}

/// The ENAS micro supernet: stem (3×3 conv to `3C` + BN), `L + 2` cells (reductions at `L/3` and
/// `2·(L/3) + 1`), ReLU → global pool → dropout → linear.
///
/// Weight sharing as in ENAS: every node keeps one set of op weights per possible input anchor
/// (and per branch with [`MicroSupernetConfig::per_branch_weights`]); pools and identity have
/// none. Every cell calibrates both of its inputs. A reduction cell reads the previous
/// output and its factorized reduction and runs at stride 1 (the ENAS search formulation). A
/// cell's output projects the concatenated loose ends with the rows of a per-anchor weight
/// table that belong to them. Only the sampled path runs, so time, memory and gradients are
/// confined to it.
#[derive(Module, Debug)]
pub struct MicroSupernet {
    stem: Conv2d,
    stem_bn: Bn,
    cells: Vec<SharedCell>,
    reductions: Vec<usize>,
    head: Classifier,
    #[module(skip)]
    space: MicroSpace,
}

impl MicroSupernetConfig {
    /// Builds the supernet of every architecture in `space`.
    ///
    /// # Errors
    /// [`NetError::Config`] for impossible settings.
    pub fn init(&self, space: &MicroSpace, device: &Device) -> Result<MicroSupernet, NetError> {
        check_common(
            self.classes,
            self.in_channels,
            self.image_size,
            self.channels,
        )?;
        check_probability("dropout", self.dropout)?;
        let c = self.channels;
        let nodes = space.nodes();
        let has = |op| space.ops().contains(&op);
        let reductions = reduction_cells(self.layers);
        let mut inputs = [(3 * c, self.image_size); 2];
        let mut cout = c;
        let mut cells = Vec::with_capacity(self.layers + 2);
        for i in 0..self.layers + 2 {
            let reduction = reductions.contains(&i);
            let (cin1, h_in1) = inputs[1];
            let mut pre_reduce = None;
            if reduction {
                cout *= 2;
                pre_reduce = Some(FactorizedReduce::with_init(cin1, cout, self.init, device));
                inputs = [inputs[1], (cout, strided(h_in1, 2))];
            }
            let h = inputs[1].1;
            // Every cell calibrates both inputs (ReLU → 1×1 conv → BN), even those that already
            // fit: these always-trained convolutions carry what every path needs (as in the
            // PyTorch reference of shared/bench; ENAS's code calibrates only misfits). Measured:
            // mean random-cell accuracy after 4 epochs 0.39 with, 0.37 without (docs/results.md).
            let adapt = inputs
                .iter()
                .map(|&(ci, hi)| {
                    if hi == h {
                        Adapter::Calibrate(Calibration::with_init(ci, cout, self.init, device))
                    } else {
                        Adapter::Reduce(FactorizedReduce::with_init(ci, cout, self.init, device))
                    }
                })
                .collect();
            let branches = if self.per_branch_weights { 2 } else { 1 };
            let ops = (0..nodes)
                .map(|b| {
                    (0..branches)
                        .map(|_| {
                            (0..b + 2)
                                .map(|_| InputOps {
                                    sep3: has(MicroOp::SepConv3x3).then(|| {
                                        SepConv::with_init(cout, cout, 3, 1, self.init, device)
                                    }),
                                    sep5: has(MicroOp::SepConv5x5).then(|| {
                                        SepConv::with_init(cout, cout, 5, 1, self.init, device)
                                    }),
                                })
                                .collect()
                        })
                        .collect()
                })
                .collect();
            let project = (0..nodes + 2)
                .map(|_| {
                    Initializer::KaimingNormal {
                        gain: std::f64::consts::SQRT_2,
                        fan_out_only: false,
                    }
                    .init_with(
                        [cout, cout, 1, 1],
                        Some(cout),
                        Some(cout),
                        device,
                    )
                })
                .collect();
            cells.push(SharedCell {
                pre_reduce,
                adapt,
                ops,
                project,
                project_bn: Bn::new(cout, device),
            });
            inputs = [inputs[1], (cout, h)];
        }
        Ok(MicroSupernet {
            stem: conv_with(self.in_channels, 3 * c, [3, 1, 1], self.init, device),
            stem_bn: Bn::new(3 * c, device),
            cells,
            reductions: reductions.to_vec(),
            head: Classifier::new(cout, self.classes, self.dropout, device),
            space: space.clone(),
        })
    }
}

impl MicroSupernet {
    /// The space whose architectures this supernet runs.
    pub fn space(&self) -> &MicroSpace {
        &self.space
    }

    /// Logits `[N, classes]` of `arch`'s path.
    ///
    /// # Errors
    /// [`NetError::Arch`] when `arch` is not in the supernet's space.
    pub fn forward(
        &self,
        images: Tensor<4>,
        arch: &MicroArch,
        mode: Mode,
    ) -> Result<Tensor<2>, NetError> {
        self.space.validate(arch)?;
        let x = self.stem_bn.forward(self.stem.forward(images), mode);
        let (mut s0, mut s1) = (x.clone(), x);
        for (i, cell) in self.cells.iter().enumerate() {
            let spec = if self.reductions.contains(&i) {
                &arch.reduce
            } else {
                &arch.normal
            };
            // After a reduction cell the next cell's first input is the reduced previous output.
            let (next_s0, out) = cell.forward(s0, s1, spec, mode);
            s0 = next_s0;
            s1 = out;
        }
        Ok(self.head.forward(s1, mode))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ParamPath, PathVisitor};
    use burn::module::Param;
    use burn::tensor::{Distribution, Gradients};

    struct GradProbe<'a> {
        grads: &'a Gradients,
        with: usize,
        without: usize,
    }

    impl PathVisitor for GradProbe<'_> {
        fn visit<const D: usize>(&mut self, path: &ParamPath, param: &Param<Tensor<D>>) {
            if path.is_running_stat() {
                return;
            }
            if param.val().grad(self.grads).is_some() {
                self.with += 1;
            } else {
                self.without += 1;
            }
        }
    }

    /// (parameters with a gradient, parameters without) of a submodule.
    fn probe<M: Module>(m: &M, grads: &Gradients) -> (usize, usize) {
        let mut p = GradProbe {
            grads,
            with: 0,
            without: 0,
        };
        crate::visit_with_paths(m, &mut p);
        (p.with, p.without)
    }

    #[test]
    fn gradients_reach_exactly_the_selected_weights() {
        let device = Device::flex().autodiff();
        let space = MicroSpace::default();
        let net = MicroSupernetConfig::new(3)
            .with_in_channels(1)
            .with_image_size(8)
            .with_layers(3)
            .with_channels(4)
            .with_per_branch_weights(true)
            .init(&space, &device)
            .unwrap();
        // Normal node 0 = avg_pool(x0) + sep_conv_3x3(x0); loose ends x2..x6.
        let arch = MicroArch::from_enas_string(
            "0 2 0 0 0 4 0 1 0 4 1 1 1 0 0 1 0 2 1 1 1 0 1 0 0 3 0 2 1 1 3 1 1 0 0 4 0 3 1 1",
        )
        .unwrap();
        let x = Tensor::<4>::random([2, 1, 8, 8], Distribution::Normal(0.0, 1.0), &device);
        let grads = net.forward(x, &arch, Mode::TRAIN).unwrap().sum().backward();
        let cell = &net.cells[0];
        let node0_branch2 = &cell.ops[0][1];
        let (with, without) = probe(node0_branch2[0].sep3.as_ref().unwrap(), &grads);
        assert!(
            with > 0 && without == 0,
            "selected sep_conv_3x3 on x0: {with}/{without}"
        );
        for (input, ops) in node0_branch2.iter().enumerate() {
            assert_eq!(
                probe(ops.sep5.as_ref().unwrap(), &grads).0,
                0,
                "sep5 on x{input}"
            );
            if input != 0 {
                assert_eq!(
                    probe(ops.sep3.as_ref().unwrap(), &grads).0,
                    0,
                    "sep3 on x{input}"
                );
            }
        }
        // Branch 1 is a pool: none of its conv weights train.
        assert_eq!(probe(&cell.ops[0][0], &grads).0, 0);
        // Output projection: rows of the loose ends only.
        let rows: Vec<bool> = cell
            .project
            .iter()
            .map(|p| p.val().grad(&grads).is_some())
            .collect();
        assert_eq!(rows, vec![false, false, true, true, true, true, true]);
    }
}
