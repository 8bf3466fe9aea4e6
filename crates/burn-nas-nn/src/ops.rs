//! The ops every network is built from, used by fixed children and supernets alike:
//! batch norm with an explicit [`Mode`], separable convolutions, ENAS macro branches, pooling,
//! factorized reduction, 1×1 calibration and drop path.

use burn::module::{Module, Param, RunningState};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::tensor::module::batch_norm;
use burn::tensor::{Device, Distribution, Tensor, activation::relu};

use super::Mode;
use super::kernels::{
    PoolGeometry, PoolKind, batch_norm_batch_stats, dense, depthwise, pointwise, pool2d,
};

/// Spatial size after a stride-`s` op with "same" padding: `ceil(h / s)`.
pub(crate) fn strided(h: usize, s: usize) -> usize {
    h.div_ceil(s)
}

/// How a network initialises its convolution weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum ConvInit {
    /// He (Kaiming) normal with gain √2 over the fan-in: ENAS's official initialisation, the
    /// default of the fixed networks.
    #[default]
    He,
    /// Uniform in ±1/√fan-in (Kaiming uniform with gain 1/√3): PyTorch's and burn's default.
    /// Its smaller weights give the batch-normalised convolutions a larger effective step,
    /// which is what lets weights shared by many sampled paths learn (see
    /// [`MicroSupernetConfig::init`](super::MicroSupernetConfig::init)).
    Uniform,
}

impl ConvInit {
    /// The burn initializer of convolution weights.
    pub fn initializer(self) -> Initializer {
        match self {
            ConvInit::He => Initializer::KaimingNormal {
                gain: std::f64::consts::SQRT_2,
                fan_out_only: false,
            },
            ConvInit::Uniform => Initializer::KaimingUniform {
                gain: 1.0 / 3f64.sqrt(),
                fan_out_only: false,
            },
        }
    }
}

/// He-initialised convolution without bias, "same" padding.
pub(crate) fn conv(
    cin: usize,
    cout: usize,
    kernel: usize,
    stride: usize,
    groups: usize,
    device: &Device,
) -> Conv2d {
    conv_with(cin, cout, [kernel, stride, groups], ConvInit::He, device)
}

/// Convolution without bias, "same" padding; `shape` is `[kernel, stride, groups]`.
pub(crate) fn conv_with(
    cin: usize,
    cout: usize,
    [kernel, stride, groups]: [usize; 3],
    init: ConvInit,
    device: &Device,
) -> Conv2d {
    Conv2dConfig::new([cin, cout], [kernel, kernel])
        .with_stride([stride, stride])
        .with_groups(groups)
        .with_padding(PaddingConfig2d::Same)
        .with_bias(false)
        .with_initializer(init.initializer())
        .init(device)
}

/// Multiply-accumulates of `conv` on an `h × w` input, with the output size.
pub(crate) fn conv_macs(conv: &Conv2d, h: usize, w: usize) -> (u64, usize, usize) {
    let [cout, cin_per_group, kh, kw] = conv.weight.dims();
    let (ho, wo) = (strided(h, conv.stride[0]), strided(w, conv.stride[1]));
    ((ho * wo * cout * cin_per_group * kh * kw) as u64, ho, wo)
}

/// Batch normalisation whose use of batch or running statistics is chosen per call.
#[derive(Module, Debug)]
pub struct Bn {
    /// Scale.
    pub gamma: Param<Tensor<1>>,
    /// Offset.
    pub beta: Param<Tensor<1>>,
    running_mean: RunningState<Tensor<1>>,
    running_var: RunningState<Tensor<1>>,
    momentum: f64,
    epsilon: f64,
}

impl Bn {
    /// Batch norm over `channels` channels (scale 1, offset 0, momentum 0.1, ε = 1e-5).
    pub fn new(channels: usize, device: &Device) -> Bn {
        Bn {
            gamma: Initializer::Ones.init([channels], device),
            beta: Initializer::Zeros.init([channels], device),
            running_mean: RunningState::new(Tensor::zeros([channels], device)),
            running_var: RunningState::new(Tensor::ones([channels], device)),
            momentum: 0.1,
            epsilon: 1e-5,
        }
    }

    /// Normalises `x` (`[N, C, ...]`) as `mode` says.
    pub fn forward<const D: usize>(&self, x: Tensor<D>, mode: Mode) -> Tensor<D> {
        if !mode.batch_stats {
            let device = x.device();
            return batch_norm(
                x,
                self.gamma.val(),
                self.beta.val(),
                self.running_mean.value().to_device(&device),
                self.running_var.value().to_device(&device),
                self.epsilon,
            );
        }
        let device = x.device();
        let out = batch_norm_batch_stats(x, self.gamma.val(), self.beta.val(), self.epsilon);
        if mode.update_stats {
            let m = self.momentum;
            let mean = self.running_mean.value_sync().to_device(&device);
            let var = self.running_var.value_sync().to_device(&device);
            self.running_mean
                .update((mean * (1.0 - m) + out.mean.detach() * m).detach());
            self.running_var
                .update((var * (1.0 - m) + out.variance.detach() * m).detach());
        }
        out.output
    }
}

/// Drops whole samples of `x` with probability `1 − keep` and rescales the rest by `1 / keep`
/// (drop path, as in ENAS and NASNet). A no-op for `keep >= 1`.
pub fn drop_path(x: Tensor<4>, keep: f64) -> Tensor<4> {
    if keep >= 1.0 {
        return x;
    }
    let [n, ..] = x.dims();
    let mask = Tensor::<4>::random([n, 1, 1, 1], Distribution::Bernoulli(keep), &x.device());
    x * mask / keep
}

/// One stack of a separable convolution: ReLU → depthwise k×k → pointwise 1×1 → BN.
#[derive(Module, Debug)]
pub struct SepStack {
    depthwise: Conv2d,
    pointwise: Conv2d,
    bn: Bn,
}

impl SepStack {
    fn new(
        cin: usize,
        cout: usize,
        [kernel, stride]: [usize; 2],
        init: ConvInit,
        device: &Device,
    ) -> Self {
        SepStack {
            depthwise: conv_with(cin, cin, [kernel, stride, cin], init, device),
            pointwise: conv_with(cin, cout, [1, 1, 1], init, device),
            bn: Bn::new(cout, device),
        }
    }

    fn forward(&self, x: Tensor<4>, mode: Mode) -> Tensor<4> {
        let x = pointwise(&self.pointwise, depthwise(&self.depthwise, relu(x)));
        self.bn.forward(x, mode)
    }

    fn macs(&self, h: usize, w: usize) -> (u64, usize, usize) {
        let (a, h, w) = conv_macs(&self.depthwise, h, w);
        let (b, h, w) = conv_macs(&self.pointwise, h, w);
        (a + b, h, w)
    }
}

/// ENAS micro separable convolution: two [`SepStack`]s; the first carries the stride.
#[derive(Module, Debug)]
pub struct SepConv {
    first: SepStack,
    second: SepStack,
}

impl SepConv {
    /// A `kernel × kernel` separable convolution from `cin` to `cout` channels (He init).
    pub fn new(cin: usize, cout: usize, kernel: usize, stride: usize, device: &Device) -> Self {
        Self::with_init(cin, cout, kernel, stride, ConvInit::He, device)
    }

    /// [`SepConv::new`] with its convolutions initialised as `init` says.
    pub fn with_init(
        cin: usize,
        cout: usize,
        kernel: usize,
        stride: usize,
        init: ConvInit,
        device: &Device,
    ) -> Self {
        SepConv {
            first: SepStack::new(cin, cout, [kernel, stride], init, device),
            second: SepStack::new(cout, cout, [kernel, 1], init, device),
        }
    }

    /// Applies both stacks.
    pub fn forward(&self, x: Tensor<4>, mode: Mode) -> Tensor<4> {
        self.second.forward(self.first.forward(x, mode), mode)
    }

    /// Multiply-accumulates on an `h × w` input, and the output size.
    pub fn macs(&self, h: usize, w: usize) -> (u64, usize, usize) {
        let (a, h, w) = self.first.macs(h, w);
        let (b, h, w) = self.second.macs(h, w);
        (a + b, h, w)
    }
}

/// 3×3 pooling with "same" padding: average (padding not counted) or max.
#[derive(Module, Debug)]
pub struct Pool {
    max: bool,
    stride: usize,
}

impl Pool {
    /// 3×3 average pooling (padding excluded from the average).
    pub fn avg(stride: usize) -> Pool {
        Pool { max: false, stride }
    }

    /// 3×3 max pooling.
    pub fn max(stride: usize) -> Pool {
        Pool { max: true, stride }
    }

    /// Pools `x`; the output is `ceil(h / stride)` high.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let kind = if self.max {
            PoolKind::Max
        } else {
            PoolKind::Avg
        };
        let geometry = PoolGeometry {
            kernel: 3,
            stride: self.stride,
            padding: 1,
        };
        pool2d(x, kind, geometry)
    }
}

/// Which implementation runs the two stride-2 1×1 convolutions of a [`FactorizedReduce`].
/// Both compute the same values, up to the order of floating-point sums.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReduceKernel {
    /// burn's `Conv2d::forward` (the default). On flex its weight gradient is burn's generic
    /// convolution and its input gradient a transposed convolution.
    #[default]
    Burn,
    /// The dense-convolution kernel (`kernels::dense`: per-image im2col and one matrix product
    /// per pass, forward and both gradients). On the macro supernet's reference step it took a
    /// quarter off the step time (docs/performance.md). The micro networks keep
    /// [`Burn`](Self::Burn): their documented results (the README's main command) were
    /// measured with it and would change in the last bits, and with them the whole search.
    Dense,
}

/// Factorized reduction: halves the spatial size with two 1×1 stride-2 convolutions, one on
/// the input and one on the input shifted by one pixel, concatenated, then BN.
#[derive(Module, Debug)]
pub struct FactorizedReduce {
    path1: Conv2d,
    path2: Conv2d,
    bn: Bn,
    #[module(skip)]
    kernel: ReduceKernel,
}

impl FactorizedReduce {
    /// From `cin` to `cout` channels (`cout ≥ 2`; the paths get `cout/2` and the rest), He init.
    pub fn new(cin: usize, cout: usize, device: &Device) -> Self {
        Self::with_init(cin, cout, ConvInit::He, device)
    }

    /// [`FactorizedReduce::new`] with its convolutions initialised as `init` says.
    pub fn with_init(cin: usize, cout: usize, init: ConvInit, device: &Device) -> Self {
        let half = cout / 2;
        let stride2 = |c| {
            Conv2dConfig::new([cin, c], [1, 1])
                .with_stride([2, 2])
                .with_bias(false)
                .with_initializer(init.initializer())
                .init(device)
        };
        FactorizedReduce {
            path1: stride2(half),
            path2: stride2(cout - half),
            bn: Bn::new(cout, device),
            kernel: ReduceKernel::default(),
        }
    }

    /// The same reduction with its convolutions run by `kernel`.
    pub fn with_kernel(mut self, kernel: ReduceKernel) -> Self {
        self.kernel = kernel;
        self
    }

    /// One of the two stride-2 convolutions, through the chosen kernel.
    fn conv(&self, conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
        match self.kernel {
            ReduceKernel::Burn => conv.forward(x),
            ReduceKernel::Dense => dense(conv, x),
        }
    }

    /// Reduces `x` to `ceil(h/2) × ceil(w/2)`.
    pub fn forward(&self, x: Tensor<4>, mode: Mode) -> Tensor<4> {
        let [_, _, h, w] = x.dims();
        let a = self.conv(&self.path1, x.clone());
        // Shift by one pixel: drop the first row and column, pad one zero row/column at the end.
        let shifted = x
            .pad((0, 1, 0, 1), burn::tensor::ops::PadMode::Constant(0.0))
            .narrow(2, 1, h)
            .narrow(3, 1, w);
        let b = self.conv(&self.path2, shifted);
        self.bn.forward(Tensor::cat(vec![a, b], 1), mode)
    }

    /// Multiply-accumulates on an `h × w` input, and the output size.
    pub fn macs(&self, h: usize, w: usize) -> (u64, usize, usize) {
        let (a, ho, wo) = conv_macs(&self.path1, h, w);
        let (b, ..) = conv_macs(&self.path2, h, w);
        (a + b, ho, wo)
    }
}

/// 1×1 calibration: ReLU → 1×1 conv → BN (matches channel counts, e.g. cell inputs and outputs).
#[derive(Module, Debug)]
pub struct Calibration {
    conv: Conv2d,
    bn: Bn,
}

impl Calibration {
    /// From `cin` to `cout` channels, He init.
    pub fn new(cin: usize, cout: usize, device: &Device) -> Self {
        Self::with_init(cin, cout, ConvInit::He, device)
    }

    /// [`Calibration::new`] with its convolution initialised as `init` says.
    pub fn with_init(cin: usize, cout: usize, init: ConvInit, device: &Device) -> Self {
        Calibration {
            conv: conv_with(cin, cout, [1, 1, 1], init, device),
            bn: Bn::new(cout, device),
        }
    }

    /// Applies ReLU → conv → BN.
    pub fn forward(&self, x: Tensor<4>, mode: Mode) -> Tensor<4> {
        self.bn.forward(pointwise(&self.conv, relu(x)), mode)
    }

    /// Multiply-accumulates on an `h × w` input.
    pub fn macs(&self, h: usize, w: usize) -> u64 {
        conv_macs(&self.conv, h, w).0
    }
}

/// Makes a tensor fit a target shape: factorized reduction when it is twice as large,
/// calibration when only its channel count differs, nothing when it already fits.
// Modules are built once per network; variant size does not matter, and burn modules
// cannot be boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Adapter {
    /// Already the right shape.
    Keep(burn::nn::Identity),
    /// Channels differ: ReLU → 1×1 conv → BN.
    Calibrate(Calibration),
    /// Twice the target's spatial size: ReLU → factorized reduction.
    Reduce(FactorizedReduce),
}

impl Adapter {
    /// The adapter from a `cin`-channel input of spatial size `h_in` to `cout` channels at `h_out`.
    pub fn new(cin: usize, h_in: usize, cout: usize, h_out: usize, device: &Device) -> Adapter {
        Self::with_init(cin, h_in, cout, h_out, ConvInit::He, device)
    }

    /// [`Adapter::new`] with its convolutions initialised as `init` says.
    pub fn with_init(
        cin: usize,
        h_in: usize,
        cout: usize,
        h_out: usize,
        init: ConvInit,
        device: &Device,
    ) -> Adapter {
        if h_in != h_out {
            Adapter::Reduce(FactorizedReduce::with_init(cin, cout, init, device))
        } else if cin != cout {
            Adapter::Calibrate(Calibration::with_init(cin, cout, init, device))
        } else {
            Adapter::Keep(burn::nn::Identity::new())
        }
    }

    /// Applies the adapter.
    pub fn forward(&self, x: Tensor<4>, mode: Mode) -> Tensor<4> {
        match self {
            Adapter::Keep(_) => x,
            Adapter::Calibrate(c) => c.forward(x, mode),
            Adapter::Reduce(r) => r.forward(relu(x), mode),
        }
    }

    /// Multiply-accumulates on an `h × w` input.
    pub fn macs(&self, h: usize, w: usize) -> u64 {
        match self {
            Adapter::Keep(_) => 0,
            Adapter::Calibrate(c) => c.macs(h, w),
            Adapter::Reduce(r) => r.macs(h, w).0,
        }
    }
}

/// The classifier head: ReLU → global average pooling → dropout → linear.
#[derive(Module, Debug)]
pub struct Classifier {
    linear: burn::nn::Linear,
    dropout: f64,
}

impl Classifier {
    /// From `channels` features to `classes` logits, dropping features with probability `dropout`.
    pub fn new(channels: usize, classes: usize, dropout: f64, device: &Device) -> Self {
        Classifier {
            linear: burn::nn::LinearConfig::new(channels, classes).init(device),
            dropout,
        }
    }

    /// Logits `[N, classes]` of a feature map `[N, C, H, W]`.
    pub fn forward(&self, x: Tensor<4>, mode: Mode) -> Tensor<2> {
        let [n, c, h, w] = x.dims();
        let pooled = relu(x).reshape([n, c, h * w]).mean_dim(2).reshape([n, c]);
        let pooled = if mode.stochastic && self.dropout > 0.0 {
            let keep = 1.0 - self.dropout;
            let mask = pooled.random_like(Distribution::Bernoulli(keep));
            pooled * mask / keep
        } else {
            pooled
        };
        self.linear.forward(pooled)
    }

    /// Multiply-accumulates of the linear layer.
    pub fn macs(&self) -> u64 {
        let [i, o] = self.linear.weight.dims();
        (i * o) as u64
    }
}

/// The k×k convolution of an ENAS macro conv branch: full or separable (depthwise + pointwise).
// Modules are built once per network; variant size does not matter, and burn modules
// cannot be boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum BranchConv {
    /// A full k×k convolution.
    Full(Conv2d),
    /// Depthwise k×k then pointwise 1×1.
    Separable(SeparableConv),
}

/// A depthwise k×k convolution followed by a pointwise 1×1 one.
#[derive(Module, Debug)]
pub struct SeparableConv {
    depthwise: Conv2d,
    pointwise: Conv2d,
}

impl SeparableConv {
    /// `channels` → `channels`, kernel `kernel`, stride 1.
    pub fn new(channels: usize, kernel: usize, device: &Device) -> Self {
        SeparableConv {
            depthwise: conv(channels, channels, kernel, 1, channels, device),
            pointwise: conv(channels, channels, 1, 1, 1, device),
        }
    }
}

/// An ENAS macro branch: 1×1 conv + BN + ReLU, then either a k×k (separable) conv + BN + ReLU
/// or a 3×3 pool.
#[derive(Module, Debug)]
pub struct MacroBranch {
    pre: Conv2d,
    pre_bn: Bn,
    conv: Option<BranchConv>,
    bn: Option<Bn>,
    pool: Option<Pool>,
}

impl MacroBranch {
    /// The branch of `op` on `cin` input channels, producing `cout` channels.
    pub fn new(op: burn_nas_space::MacroOp, cin: usize, cout: usize, device: &Device) -> Self {
        use burn_nas_space::MacroOp::*;
        let (conv_kind, pool) = match op {
            Conv3x3 => (
                Some(BranchConv::Full(conv(cout, cout, 3, 1, 1, device))),
                None,
            ),
            Conv5x5 => (
                Some(BranchConv::Full(conv(cout, cout, 5, 1, 1, device))),
                None,
            ),
            SepConv3x3 => (
                Some(BranchConv::Separable(SeparableConv::new(cout, 3, device))),
                None,
            ),
            SepConv5x5 => (
                Some(BranchConv::Separable(SeparableConv::new(cout, 5, device))),
                None,
            ),
            AvgPool3x3 => (None, Some(Pool::avg(1))),
            MaxPool3x3 => (None, Some(Pool::max(1))),
        };
        MacroBranch {
            pre: conv(cin, cout, 1, 1, 1, device),
            pre_bn: Bn::new(cout, device),
            bn: conv_kind.as_ref().map(|_| Bn::new(cout, device)),
            conv: conv_kind,
            pool,
        }
    }

    /// Applies the branch (spatial size unchanged).
    pub fn forward(&self, x: Tensor<4>, mode: Mode) -> Tensor<4> {
        let x = relu(self.pre_bn.forward(pointwise(&self.pre, x), mode));
        match (&self.conv, &self.bn, &self.pool) {
            (Some(c), Some(bn), _) => {
                let y = match c {
                    BranchConv::Full(k) => dense(k, x),
                    BranchConv::Separable(s) => pointwise(&s.pointwise, depthwise(&s.depthwise, x)),
                };
                relu(bn.forward(y, mode))
            }
            (_, _, Some(p)) => p.forward(x),
            _ => x,
        }
    }

    /// Multiply-accumulates on an `h × w` input.
    pub fn macs(&self, h: usize, w: usize) -> u64 {
        let mut m = conv_macs(&self.pre, h, w).0;
        match &self.conv {
            Some(BranchConv::Full(k)) => m += conv_macs(k, h, w).0,
            Some(BranchConv::Separable(s)) => {
                m += conv_macs(&s.depthwise, h, w).0 + conv_macs(&s.pointwise, h, w).0
            }
            None => {}
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::super::kernels::rel_err;
    use super::*;

    /// The factorized reduction through the dense kernel computes what it computes through
    /// burn's convolutions, forward and backward, on even and odd planes.
    #[test]
    fn factorized_reduce_matches_burns_convolutions() {
        let device = Device::flex().autodiff();
        for hw in [14, 7] {
            let fr = FactorizedReduce::new(8, 16, &device).with_kernel(ReduceKernel::Dense);
            let x = Tensor::<4>::random([4, 8, hw, hw], Distribution::Normal(0.0, 1.0), &device)
                .require_grad();
            let dense_out = fr.forward(x.clone(), Mode::TRAIN);
            // The same weights through burn's convolutions.
            let reference = fr
                .clone()
                .with_kernel(ReduceKernel::Burn)
                .forward(x.clone(), Mode::TRAIN);
            let g = Tensor::<4>::random(reference.dims(), Distribution::Normal(0.0, 1.0), &device);
            let ga = (dense_out.clone() * g.clone()).sum().backward();
            let gb = (reference.clone() * g).sum().backward();
            assert!(rel_err(dense_out, reference) < 1e-5, "{hw}: forward");
            let gx = rel_err(x.grad(&ga).unwrap(), x.grad(&gb).unwrap());
            assert!(gx < 1e-4, "{hw}: grad x {gx}");
            for (name, p) in [("path1", &fr.path1), ("path2", &fr.path2)] {
                let e = rel_err(
                    p.weight.val().grad(&ga).unwrap(),
                    p.weight.val().grad(&gb).unwrap(),
                );
                assert!(e < 1e-4, "{hw}: grad {name} {e}");
            }
        }
    }
}
