//! Benchmark workloads: the ENAS search step and its parts, timed the way the PyTorch
//! reference (`shared/bench/enas_micro_step.py`) times them.
//!
//! One [`Workload`] step is:
//!
//! * [`Workload::Micro`] (`enas_micro_step`): one shared-weight training step of the ENAS micro
//!   supernet on a freshly sampled random architecture — forward, cross-entropy, backward,
//!   global-norm clipping at 5, SGD (lr 0.05, Nesterov 0.9, L2 1e-4). Defaults: `L = 6` normal
//!   layers + 2 reduction cells, `C = 20`, `B = 5`, all five ops, 3×32×32 inputs, 10 classes,
//!   batch 64;
//! * [`Workload::Macro`] (`enas_macro_step`): the same step on the ENAS macro supernet
//!   (12 layers, `C = 36`); its PyTorch twin is `benches/enas_macro_step.py`;
//! * [`Workload::Child`] (`enas_child_step`): the same step on a fixed child — a
//!   [`MicroNet`] of one architecture sampled once (no auxiliary
//!   head, no drop path, no dropout, so that it differs from the micro step only by weight
//!   sharing);
//! * [`Workload::Plain`] (`plain_cnn_step`): the training step of a NAS-RL child of plain
//!   convolutions, the network of `shared/bench/plain_cnn_train.py` — 3×3 convolutions with
//!   48, 64, 64 filters (`C = 48`: the others scale with it) and strides 1, 2, 2, each conv + BN
//!   + ReLU, global pooling, linear — on 1×28×28 inputs (Fashion-MNIST's shape);
//! * [`Workload::Score`] (`enas_score`): the controller's reward pass — the micro supernet's
//!   forward pass of a sampled architecture on a validation batch with batch statistics
//!   ([`Mode::SCORE`]), on the plain (non-autodiff) device, and its accuracy read back.
//!
//! Inputs are random tensors made on the device before the clock starts, as in the reference;
//! the first `warmup` steps are not timed. [`BenchConfig::new`] gives the reference sizes,
//! [`BenchConfig::main_command`] the README's main command's and [`BenchConfig::paper`] the
//! ENAS paper's CIFAR-10 runs'. [`compare_devices`] runs the same steps on two devices from the
//! same CPU-drawn weights and inputs and returns both devices' losses (a backend check), and
//! [`compare_ops`] does the same for each op's forward output. [`profile_ops`] times the individual ops of a step
//! (depthwise and pointwise convolutions, pooling, batch norm, concatenation) forward and
//! forward + backward at the supernet's shapes.
//!
//! ```
//! use burn_nas_backend::DeviceSpec;
//! use burn_nas_bench::{BenchConfig, Workload, run};
//!
//! let config = BenchConfig::tiny(Workload::Micro);
//! let report = run(&config, &DeviceSpec::Flex)?;
//! assert_eq!(report.seconds.len(), config.steps);
//! println!("{report}");
//! # Ok::<(), burn_nas_bench::BenchError>(())
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::Instant;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use burn_nas_backend::{DeviceError, DeviceSpec, device_rng_guard, join_compute_pool};
use burn_nas_estimator::clip_global_norm;
use burn_nas_nn::kernels::{
    ConvGeometry, PoolGeometry, PoolKind, batch_norm_batch_stats, dense_conv, depthwise_conv,
    pointwise_conv, pool2d,
};
use burn_nas_nn::{
    CellStyle, MacroSupernet, MacroSupernetConfig, MicroNet, MicroNetConfig, MicroSupernet,
    MicroSupernetConfig, Mode, NasRlNet, NasRlNetConfig, NetError, Network, materialize_params,
    move_to_device,
};
use burn_nas_space::nas_rl::{NasRlArch, NasRlLayer};
use burn_nas_space::{ArchError, MacroOp, MacroSpace, MicroArch, MicroSpace, SearchSpace};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Learning rate of the reference step.
pub const LR: f64 = 0.05;
/// Nesterov momentum of the reference step.
pub const MOMENTUM: f64 = 0.9;
/// L2 weight decay of the reference step.
pub const WEIGHT_DECAY: f32 = 1e-4;
/// Maximum global gradient norm of the reference step.
pub const CLIP: f64 = 5.0;

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A setting is out of range.
    #[error("invalid benchmark setting `{field}`: {reason}")]
    Invalid {
        /// The setting.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The network could not be built or run.
    #[error(transparent)]
    Net(#[from] NetError),
    /// The search space rejected an architecture.
    #[error(transparent)]
    Arch(#[from] ArchError),
    /// The device could not be opened.
    #[error(transparent)]
    Backend(#[from] DeviceError),
    /// The device failed to finish its queued work.
    #[error("device failed to synchronise: {0}")]
    Device(String),
}

fn invalid(field: &'static str, reason: impl Into<String>) -> BenchError {
    BenchError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// What one benchmark step does (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Workload {
    /// Shared-weight training step of the ENAS micro supernet on a fresh random architecture.
    Micro,
    /// Shared-weight training step of the ENAS macro supernet on a fresh random architecture.
    Macro,
    /// Training step of one fixed micro child network.
    Child,
    /// Training step of a NAS-RL child of three plain 3×3 convolutions (1×28×28 inputs).
    Plain,
    /// Forward-only scoring of a fresh random architecture with the micro supernet's weights.
    Score,
}

impl Workload {
    /// Every workload, in a stable order.
    pub const ALL: [Workload; 5] = [
        Workload::Micro,
        Workload::Macro,
        Workload::Child,
        Workload::Plain,
        Workload::Score,
    ];

    /// The benchmark's name, as printed at the start of its result line.
    pub fn bench_name(self) -> &'static str {
        match self {
            Workload::Micro => "enas_micro_step",
            Workload::Macro => "enas_macro_step",
            Workload::Child => "enas_child_step",
            Workload::Plain => "plain_cnn_step",
            Workload::Score => "enas_score",
        }
    }

    /// The short name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Workload::Micro => "micro",
            Workload::Macro => "macro",
            Workload::Child => "child",
            Workload::Plain => "plain",
            Workload::Score => "score",
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Workload {
    type Err = BenchError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Workload::ALL
            .into_iter()
            .find(|w| w.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                invalid(
                    "workload",
                    format!("unknown `{s}` (expected micro, macro, child, plain or score)"),
                )
            })
    }
}

/// Sizes and counts of one benchmark run.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchConfig {
    /// What a step does.
    pub workload: Workload,
    /// Images per step.
    pub batch: usize,
    /// Channels of the first cells (`C`).
    pub channels: usize,
    /// Normal layers `L` (micro, child: plus two reduction cells) or layers (macro; plain:
    /// always 3).
    pub layers: usize,
    /// Image height and width.
    pub image_size: usize,
    /// Image channels (3; plain: 1).
    pub in_channels: usize,
    /// Number of classes.
    pub classes: usize,
    /// Timed steps.
    pub steps: usize,
    /// Untimed steps before them.
    pub warmup: usize,
    /// Seed of the weights, the inputs and the sampled architectures.
    pub seed: u64,
    /// [`Workload::Score`] only: score on the autodiff device, as a scorer that forgot to drop
    /// autodiff would (for comparison).
    pub score_on_autodiff: bool,
}

impl BenchConfig {
    /// The reference configuration of `workload`: batch 64, 3×32×32, 10 classes, 20 timed
    /// steps after 3 untimed ones; `L = 6`, `C = 20` (micro, child, score), 12 layers,
    /// `C = 36` (macro) or 3 layers, `C = 48` on 1×28×28 (plain).
    pub fn new(workload: Workload) -> Self {
        let (layers, channels, image_size, in_channels) = match workload {
            Workload::Macro => (12, 36, 32, 3),
            Workload::Plain => (3, 48, 28, 1),
            _ => (6, 20, 32, 3),
        };
        BenchConfig {
            workload,
            batch: 64,
            channels,
            layers,
            image_size,
            in_channels,
            classes: 10,
            steps: 20,
            warmup: 3,
            seed: 0,
            score_on_autodiff: false,
        }
    }

    /// `workload` at the sizes the README's main command (`enas_micro`, fast preset) runs it
    /// at, on the reference's 3 input channels (Fashion-MNIST has 1: only the stem differs):
    ///
    /// * [`Workload::Micro`]: its search step, batch 32, `L = 2`, `C = 8`, 14×14;
    /// * [`Workload::Score`]: its scoring pass, 128 validation images of the same supernet;
    /// * [`Workload::Child`]: its retraining step, batch 64, `L = 3`, `C = 16`, 14×14.
    ///
    /// `None` for the workloads the main command does not run (macro, plain).
    ///
    /// ```
    /// use burn_nas_bench::{BenchConfig, Workload};
    ///
    /// let search = BenchConfig::main_command(Workload::Micro).unwrap();
    /// assert_eq!((search.batch, search.layers, search.channels, search.image_size), (32, 2, 8, 14));
    /// assert!(BenchConfig::main_command(Workload::Plain).is_none());
    /// ```
    pub fn main_command(workload: Workload) -> Option<Self> {
        let (batch, layers, channels) = match workload {
            Workload::Micro => (32, 2, 8),
            Workload::Score => (128, 2, 8),
            Workload::Child => (64, 3, 16),
            Workload::Macro | Workload::Plain => return None,
        };
        Some(BenchConfig {
            batch,
            layers,
            channels,
            image_size: 14,
            ..BenchConfig::new(workload)
        })
    }

    /// `workload` at the sizes of the ENAS paper's CIFAR-10 runs (the official
    /// `cifar10_micro_search.sh`, `cifar10_macro_search.sh` and `cifar10_micro_final.sh`), on
    /// 3×32×32 inputs:
    ///
    /// * [`Workload::Micro`]: the micro search step, batch 160, `L = 6`, `C = 20`;
    /// * [`Workload::Score`]: the controller's reward pass on one validation batch of 160 of the
    ///   same supernet;
    /// * [`Workload::Macro`]: the macro search step, batch 128, 12 layers, `C = 36`;
    /// * [`Workload::Child`]: the final network's training step, batch 144, `L = 15`, `C = 36`
    ///   (without the final run's auxiliary head and drop path, as every child step here).
    ///
    /// `None` for [`Workload::Plain`], a Fashion-MNIST network of no paper.
    ///
    /// ```
    /// use burn_nas_bench::{BenchConfig, Workload};
    ///
    /// let search = BenchConfig::paper(Workload::Micro).unwrap();
    /// assert_eq!((search.batch, search.layers, search.channels, search.image_size), (160, 6, 20, 32));
    /// assert!(BenchConfig::paper(Workload::Plain).is_none());
    /// ```
    pub fn paper(workload: Workload) -> Option<Self> {
        let (batch, layers, channels) = match workload {
            Workload::Micro | Workload::Score => (160, 6, 20),
            Workload::Macro => (128, 12, 36),
            Workload::Child => (144, 15, 36),
            Workload::Plain => return None,
        };
        Some(BenchConfig {
            batch,
            layers,
            channels,
            ..BenchConfig::new(workload)
        })
    }

    /// A configuration small enough for a smoke test: batch 2, `C = 4`, 3 layers, 8×8, one
    /// step, no warmup.
    pub fn tiny(workload: Workload) -> Self {
        BenchConfig {
            batch: 2,
            channels: 4,
            layers: 3,
            image_size: 8,
            steps: 1,
            warmup: 0,
            ..BenchConfig::new(workload)
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`BenchError::Invalid`] naming the first impossible setting.
    pub fn validate(&self) -> Result<(), BenchError> {
        let positive = [
            ("batch", self.batch),
            ("in_channels", self.in_channels),
            ("channels", self.channels),
            ("layers", self.layers),
            ("steps", self.steps),
        ];
        for (field, value) in positive {
            if value == 0 {
                return Err(invalid(field, "must be at least 1"));
            }
        }
        if self.classes < 2 {
            return Err(invalid("classes", "must be at least 2"));
        }
        if self.image_size < 8 {
            return Err(invalid("image_size", "must be at least 8"));
        }
        if self.workload != Workload::Macro && self.layers < 2 {
            return Err(invalid(
                "layers",
                "the micro networks need at least 2 normal layers",
            ));
        }
        Ok(())
    }
}

/// The timings of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    /// The configuration that ran.
    pub config: BenchConfig,
    /// The device, as [`DeviceSpec`] writes it.
    pub device: String,
    /// Seconds of each timed step.
    pub seconds: Vec<f64>,
}

impl BenchReport {
    /// Median seconds per step (the mean of the two middle ones for an even count).
    pub fn median_seconds(&self) -> f64 {
        median(&self.seconds)
    }

    /// Images per second at the median step time.
    pub fn images_per_second(&self) -> f64 {
        self.config.batch as f64 / self.median_seconds()
    }
}

impl fmt::Display for BenchReport {
    /// One line in the reference script's format, e.g.
    /// `enas_micro_step burn-nas-0.1.0 device=flex batch=64 C=20 L=6 hw=32 median_step_s=0.6000
    /// images_per_s=106.7`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        write!(
            f,
            "{} burn-nas-{} device={} batch={} C={} L={} hw={} median_step_s={:.4} images_per_s={:.1}",
            c.workload.bench_name(),
            env!("CARGO_PKG_VERSION"),
            self.device,
            c.batch,
            c.channels,
            c.layers,
            c.image_size,
            self.median_seconds(),
            self.images_per_second()
        )
    }
}

/// The median of `values` (0 for none).
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The reference optimizer: SGD, lr [`LR`], Nesterov [`MOMENTUM`], L2 [`WEIGHT_DECAY`].
fn optimizer() -> ModuleOptimizer {
    SgdConfig::new()
        .with_momentum(Some(
            MomentumConfig::new()
                .with_momentum(MOMENTUM)
                .with_dampening(0.0)
                .with_nesterov(true),
        ))
        .with_weight_decay(Some(WeightDecayConfig::new(WEIGHT_DECAY)))
        .init()
}

/// Mean cross-entropy of `logits` against `labels`.
fn cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    CrossEntropyLossConfig::new()
        .init(&logits.device())
        .forward(logits, labels)
}

/// Backward, global-norm clip at [`CLIP`], one SGD step; returns the stepped network and the
/// loss it stepped on.
fn descend<M: Module>(
    net: M,
    logits: Tensor<2>,
    labels: Tensor<1, Int>,
    optim: &mut ModuleOptimizer,
) -> (M, Tensor<1>) {
    let loss = cross_entropy(logits, labels);
    let mut grads = GradientsParams::from_grads(loss.backward(), &net);
    clip_global_norm(&net, &mut grads, CLIP);
    (optim.step(LR, net, grads), loss)
}

/// The network a workload steps, with what it needs.
// One per bench, built once: variant size does not matter.
#[allow(clippy::large_enum_variant)]
enum State {
    Micro(Option<MicroSupernet>, ModuleOptimizer),
    Macro(Option<MacroSupernet>, ModuleOptimizer),
    Child(Option<MicroNet>, ModuleOptimizer),
    Plain(Option<NasRlNet>, ModuleOptimizer),
    Score(MicroSupernet),
}

/// `net` with its weights drawn now on the host, whatever the device (so every device's run
/// draws them at the same point of the host's random sequence), then moved to `device`.
fn drawn_and_moved<M: Module>(net: M, device: &Device) -> M {
    materialize_params(&net);
    move_to_device(net, device)
}

impl State {
    /// The same networks on `device`: training networks on its autodiff version, the scoring
    /// network on the plain device unless `score_on_autodiff`.
    fn moved_to(self, device: &Device, score_on_autodiff: bool) -> State {
        let ad = device.clone().autodiff();
        match self {
            State::Micro(net, optim) => State::Micro(net.map(|n| drawn_and_moved(n, &ad)), optim),
            State::Macro(net, optim) => State::Macro(net.map(|n| drawn_and_moved(n, &ad)), optim),
            State::Child(net, optim) => State::Child(net.map(|n| drawn_and_moved(n, &ad)), optim),
            State::Plain(net, optim) => State::Plain(net.map(|n| drawn_and_moved(n, &ad)), optim),
            State::Score(net) => State::Score(drawn_and_moved(
                net,
                if score_on_autodiff { &ad } else { device },
            )),
        }
    }
}

/// A built workload, ready to step: the network, its optimizer and the random sources.
///
/// Build it with [`Bench::new`], then call [`Bench::step`] as often as wanted (a criterion
/// bench times `step`; [`run`] does warmup + timed steps).
pub struct Bench {
    state: State,
    config: BenchConfig,
    device: Device,
    /// Where weights and inputs are drawn: `device` itself, or the CPU for
    /// [`Bench::portable`].
    host: Device,
    rng: ChaCha8Rng,
    /// The loss of every step so far, read back after its clock stopped ([`Bench::portable`]
    /// only: reading it back costs a synchronisation).
    losses: Option<Vec<f64>>,
}

impl fmt::Debug for Bench {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bench")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Bench {
    /// Builds the network of `config.workload` on `device` (training workloads on its
    /// autodiff version; scoring on the plain device unless `score_on_autodiff`).
    ///
    /// # Errors
    /// Invalid settings or networks.
    pub fn new(config: &BenchConfig, device: &Device) -> Result<Bench, BenchError> {
        Bench::build(config, device, None)
    }

    /// As [`Bench::new`], but the weights and every step's inputs are drawn on the CPU (flex,
    /// seeded with `config.seed`) and copied to `device`, and each step's loss is recorded
    /// ([`Bench::losses`]). Two devices then start from the same weights and see the same
    /// inputs and architectures, which is what [`compare_devices`] needs: the devices' own
    /// random generators differ.
    ///
    /// # Errors
    /// As [`Bench::new`]; the CPU backend could not be opened.
    pub fn portable(config: &BenchConfig, device: &Device) -> Result<Bench, BenchError> {
        Bench::build(config, device, Some(DeviceSpec::Flex.to_device()?))
    }

    /// The loss of every step run so far (empty unless built by [`Bench::portable`]). For
    /// [`Workload::Score`], the cross-entropy of the scored logits.
    pub fn losses(&self) -> &[f64] {
        self.losses.as_deref().unwrap_or_default()
    }

    fn build(
        config: &BenchConfig,
        device: &Device,
        host: Option<Device>,
    ) -> Result<Bench, BenchError> {
        config.validate()?;
        let device = device.clone().inner();
        let portable = host.is_some();
        let host = host.map_or_else(|| device.clone(), Device::inner);
        host.seed(config.seed);
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let ad = host.clone().autodiff();
        let micro = MicroSpace::default();
        let supernet = |on: &Device| {
            MicroSupernetConfig::new(config.classes)
                .with_image_size(config.image_size)
                .with_layers(config.layers)
                .with_channels(config.channels)
                .with_dropout(0.0)
                .init(&micro, on)
        };
        let state = match config.workload {
            Workload::Micro => State::Micro(Some(supernet(&ad)?), optimizer()),
            Workload::Macro => State::Macro(
                Some(
                    MacroSupernetConfig::new(config.classes)
                        .with_image_size(config.image_size)
                        .with_channels(config.channels)
                        .with_dropout(0.0)
                        .init(&MacroSpace::new(config.layers, &MacroOp::ALL)?, &ad)?,
                ),
                optimizer(),
            ),
            Workload::Child => {
                let arch: MicroArch = micro.sample(&mut rng)?;
                let net = MicroNetConfig::new(config.classes)
                    .with_image_size(config.image_size)
                    .with_layers(config.layers)
                    .with_channels(config.channels)
                    .with_aux_head(false)
                    .with_drop_path_keep(1.0)
                    .with_dropout(0.0)
                    .with_cell_style(CellStyle::Projected)
                    .init(&arch, &ad)?;
                State::Child(Some(net), optimizer())
            }
            Workload::Plain => {
                let filters = |f: usize| (f * config.channels).div_ceil(48);
                let arch = NasRlArch {
                    layers: vec![
                        NasRlLayer::square(3, filters(48), 1, vec![]),
                        NasRlLayer::square(3, filters(64), 2, vec![0]),
                        NasRlLayer::square(3, filters(64), 2, vec![1]),
                    ],
                };
                let net = NasRlNetConfig::new(config.classes)
                    .with_in_channels(config.in_channels)
                    .with_image_size(config.image_size)
                    .init(&arch, &ad)?;
                State::Plain(Some(net), optimizer())
            }
            Workload::Score => State::Score(supernet(if config.score_on_autodiff {
                &ad
            } else {
                &host
            })?),
        };
        let state = if portable {
            state.moved_to(&device, config.score_on_autodiff)
        } else {
            state
        };
        Ok(Bench {
            state,
            config: config.clone(),
            device,
            host,
            rng,
            losses: portable.then(Vec::new),
        })
    }

    /// Random images and labels of one batch on `device` (images drawn on the host).
    fn batch(&mut self, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
        let c = &self.config;
        let x = random_on(
            [c.batch, c.in_channels, c.image_size, c.image_size],
            1.0,
            &self.host,
            device,
        );
        let classes = c.classes as i64;
        let labels: Vec<i64> = (0..c.batch)
            .map(|_| self.rng.random_range(0..classes))
            .collect();
        let y = Tensor::<1, Int>::from_data(TensorData::new(labels, [c.batch]), device);
        (x, y)
    }

    /// Runs one step; returns its wall time in seconds (inputs and the sampled architecture are
    /// made before the clock starts; the device is synchronised before it stops).
    ///
    /// # Errors
    /// Sampling or device errors.
    pub fn step(&mut self) -> Result<f64, BenchError> {
        let on = match (&self.state, self.config.score_on_autodiff) {
            (State::Score(_), false) => self.device.clone(),
            _ => self.device.clone().autodiff(),
        };
        let (x, y) = self.batch(&on);
        let record = self.losses.is_some();
        let start;
        let loss = match &mut self.state {
            State::Micro(net, optim) => {
                let n = take(net)?;
                let arch = n.space().sample(&mut self.rng)?;
                start = Instant::now();
                let logits = n.forward(x, &arch, Mode::TRAIN)?;
                let (n, loss) = descend(n, logits, y, optim);
                *net = Some(n);
                Some(loss)
            }
            State::Macro(net, optim) => {
                let n = take(net)?;
                let arch = n.space().sample(&mut self.rng)?;
                start = Instant::now();
                let logits = n.forward(x, &arch, Mode::TRAIN)?;
                let (n, loss) = descend(n, logits, y, optim);
                *net = Some(n);
                Some(loss)
            }
            State::Child(net, optim) => {
                let n = take(net)?;
                start = Instant::now();
                let logits = Network::forward(&n, x, Mode::TRAIN);
                let (n, loss) = descend(n, logits, y, optim);
                *net = Some(n);
                Some(loss)
            }
            State::Plain(net, optim) => {
                let n = take(net)?;
                start = Instant::now();
                let logits = Network::forward(&n, x, Mode::TRAIN);
                let (n, loss) = descend(n, logits, y, optim);
                *net = Some(n);
                Some(loss)
            }
            State::Score(net) => {
                let arch = net.space().sample(&mut self.rng)?;
                start = Instant::now();
                let logits = net.forward(x, &arch, Mode::SCORE)?;
                // The loss only when it is recorded: the timed pass is the scorer's.
                let loss = record.then(|| cross_entropy(logits.clone(), y.clone()));
                let hits = logits
                    .argmax(1)
                    .flatten::<1>(0, 1)
                    .equal(y)
                    .int()
                    .sum()
                    .into_scalar::<i64>();
                std::hint::black_box(hits);
                loss
            }
        };
        self.device
            .sync()
            .map_err(|e| BenchError::Device(format!("{e:?}")))?;
        let seconds = start.elapsed().as_secs_f64();
        if let (Some(losses), Some(loss)) = (&mut self.losses, loss) {
            losses.push(loss.into_scalar::<f32>() as f64);
        }
        Ok(seconds)
    }
}

fn take<M>(net: &mut Option<M>) -> Result<M, BenchError> {
    net.take()
        .ok_or_else(|| invalid("network", "lost after a failed step"))
}

/// Builds `config`'s workload on the device `spec` names, runs `warmup` untimed steps and
/// `steps` timed ones.
///
/// # Errors
/// The device is not compiled in or not found; as [`Bench::new`] and [`Bench::step`].
pub fn run(config: &BenchConfig, spec: &DeviceSpec) -> Result<BenchReport, BenchError> {
    let device = spec.to_device()?;
    // As the library's training loops and scoring do.
    join_compute_pool();
    let mut bench = Bench::new(config, &device)?;
    for _ in 0..config.warmup {
        bench.step()?;
    }
    let seconds = (0..config.steps)
        .map(|_| bench.step())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(BenchReport {
        config: config.clone(),
        device: spec.to_string(),
        seconds,
    })
}

/// The losses of the same steps on two devices ([`compare_devices`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LossComparison {
    /// The configuration that ran.
    pub config: BenchConfig,
    /// The device under test, as [`DeviceSpec`] writes it.
    pub device: String,
    /// The reference device.
    pub reference: String,
    /// The loss of each step on the device under test.
    pub losses: Vec<f64>,
    /// The loss of each step on the reference device.
    pub reference_losses: Vec<f64>,
}

impl LossComparison {
    /// The largest absolute difference between the two devices' losses of the same step
    /// (infinite when a loss is not finite or the counts differ).
    pub fn max_abs_diff(&self) -> f64 {
        if self.losses.len() != self.reference_losses.len() {
            return f64::INFINITY;
        }
        self.losses
            .iter()
            .zip(&self.reference_losses)
            .map(|(a, b)| {
                let d = (a - b).abs();
                if d.is_finite() { d } else { f64::INFINITY }
            })
            .fold(0.0, f64::max)
    }
}

impl fmt::Display for LossComparison {
    /// One line, e.g. `equivalence enas_micro_step device=cuda:0 reference=flex batch=64 C=20
    /// L=6 hw=32 steps=3 max_abs_diff=0.000012 losses=2.3031,2.2917,2.2854
    /// reference_losses=2.3031,2.2917,2.2855`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        let list = |v: &[f64]| {
            v.iter()
                .map(|l| format!("{l:.5}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        write!(
            f,
            "equivalence {} device={} reference={} batch={} C={} L={} hw={} steps={} \
             max_abs_diff={:.6} losses={} reference_losses={}",
            c.workload.bench_name(),
            self.device,
            self.reference,
            c.batch,
            c.channels,
            c.layers,
            c.image_size,
            self.losses.len(),
            self.max_abs_diff(),
            list(&self.losses),
            list(&self.reference_losses)
        )
    }
}

/// Runs the first `config.steps` steps of `config`'s workload on `spec` and on `reference`
/// from the same weights, inputs and architectures ([`Bench::portable`]) and returns both
/// devices' losses: a backend that computes the networks correctly gives the same first loss
/// up to float rounding, and stays close over a few steps. It holds
/// [`device_rng_guard`] throughout: do not call it while
/// holding that guard.
///
/// ```
/// use burn_nas_backend::DeviceSpec;
/// use burn_nas_bench::{BenchConfig, Workload, compare_devices};
///
/// let config = BenchConfig { steps: 2, ..BenchConfig::tiny(Workload::Micro) };
/// let same = compare_devices(&config, &DeviceSpec::Flex, &DeviceSpec::Flex)?;
/// assert_eq!(same.losses.len(), 2);
/// assert_eq!(same.max_abs_diff(), 0.0);
/// # Ok::<(), burn_nas_bench::BenchError>(())
/// ```
///
/// # Errors
/// As [`run`].
pub fn compare_devices(
    config: &BenchConfig,
    spec: &DeviceSpec,
    reference: &DeviceSpec,
) -> Result<LossComparison, BenchError> {
    // Both runs draw from the process's CPU generator, seeded: no other thread may draw from
    // it in between.
    let _guard = device_rng_guard();
    let losses = |on: &DeviceSpec| -> Result<Vec<f64>, BenchError> {
        let mut bench = Bench::portable(config, &on.to_device()?)?;
        for _ in 0..config.steps {
            bench.step()?;
        }
        Ok(bench.losses().to_vec())
    };
    Ok(LossComparison {
        config: config.clone(),
        device: spec.to_string(),
        reference: reference.to_string(),
        losses: losses(spec)?,
        reference_losses: losses(reference)?,
    })
}

/// How far one op's forward output on a device is from the CPU's ([`compare_ops`]).
#[derive(Debug, Clone, PartialEq)]
pub struct OpComparison {
    /// The op, as in [`COMPARED_OPS`].
    pub op: &'static str,
    /// Input shape `[N, C, H, W]`.
    pub shape: [usize; 4],
    /// The device, as [`DeviceSpec`] writes it.
    pub device: String,
    /// Largest absolute difference between the two outputs.
    pub max_abs_diff: f64,
}

impl fmt::Display for OpComparison {
    /// `op_equivalence op=dw3 shape=64x20x32x32 device=cuda reference=flex max_abs_diff=0.000001`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [n, c, h, w] = self.shape;
        write!(
            f,
            "op_equivalence op={} shape={n}x{c}x{h}x{w} device={} reference=flex max_abs_diff={:.6}",
            self.op, self.device, self.max_abs_diff
        )
    }
}

/// The forward pass of every op of [`COMPARED_OPS`] at the micro supernet's three stage shapes
/// (as [`profile_ops`]) on the device `spec` names and on the CPU (flex), from the same inputs
/// and weights.
///
/// # Errors
/// As [`profile_ops`]; the CPU backend could not be opened.
pub fn compare_ops(
    batch: usize,
    channels: usize,
    image_size: usize,
    spec: &DeviceSpec,
) -> Result<Vec<OpComparison>, BenchError> {
    let shapes = stage_shapes(batch, channels, image_size)?;
    let host = DeviceSpec::Flex.to_device()?.inner();
    let device = spec.to_device()?.inner();
    let _guard = device_rng_guard();
    let mut out = Vec::new();
    for (stage, shape) in shapes.into_iter().enumerate() {
        for op in COMPARED_OPS {
            let run = |on: &Device| {
                host.seed(stage as u64);
                let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &host);
                apply_op(op, x.to_device(on), false, &host).to_device(&host)
            };
            let diff = (run(&device) - run(&host)).abs().max().into_scalar::<f32>() as f64;
            out.push(OpComparison {
                op,
                shape,
                device: spec.to_string(),
                max_abs_diff: diff,
            });
        }
    }
    Ok(out)
}

/// Forward and forward + backward time of one op at one shape.
#[derive(Debug, Clone, PartialEq)]
pub struct OpTiming {
    /// The op: `relu`, `dw3`, `dw5` (depthwise 3×3 / 5×5), `pw` (pointwise 1×1, `C → C`),
    /// `proj` (the cell output's 1×1 conv, `5C → C`), `bn` (batch norm with batch statistics),
    /// `avg3`, `max3` (3×3 pooling, stride 1), `cat5` (five inputs concatenated on channels).
    pub op: &'static str,
    /// Input shape `[N, C, H, W]` (of each input for `cat5`; `proj` reads `5C` channels).
    pub shape: [usize; 4],
    /// Median seconds of the forward pass on the plain device.
    pub forward: f64,
    /// Median seconds of forward + backward (`(y · g).sum().backward()` with a fixed random
    /// `g`) on the autodiff device, inputs and weights requiring gradients.
    pub forward_backward: f64,
}

impl fmt::Display for OpTiming {
    /// `op=dw3 shape=64x20x32x32 fwd_ms=1.234 fwdbwd_ms=5.678`, as `benches/ops_profile.py`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [n, c, h, w] = self.shape;
        write!(
            f,
            "op={} shape={n}x{c}x{h}x{w} fwd_ms={:.3} fwdbwd_ms={:.3}",
            self.op,
            self.forward * 1e3,
            self.forward_backward * 1e3
        )
    }
}

/// The ops [`profile_ops`] times, in order.
pub const PROFILED_OPS: [&str; 9] = [
    "relu", "dw3", "dw5", "pw", "proj", "bn", "avg3", "max3", "cat5",
];

/// The ops [`compare_ops`] checks: [`PROFILED_OPS`] and `conv3`, a plain 3×3 convolution.
pub const COMPARED_OPS: [&str; 10] = [
    "relu", "dw3", "dw5", "pw", "proj", "bn", "avg3", "max3", "cat5", "conv3",
];

/// A tensor of `shape` drawn from N(0, `std`²) on `host`'s generator and placed on `device`: drawn
/// there directly when both are the same compute device (so a timed run adds no copy), else
/// drawn on `host` and copied.
fn random_on(shape: [usize; 4], std: f64, host: &Device, device: &Device) -> Tensor<4> {
    let normal = Distribution::Normal(0.0, std);
    if host == device {
        Tensor::random(shape, normal, device)
    } else {
        Tensor::random(shape, normal, host).to_device(device)
    }
}

/// The input shapes of the micro supernet's three stages, `[batch, C, hw, hw]`,
/// `[batch, 2C, hw/2, hw/2]`, `[batch, 4C, hw/4, hw/4]`.
///
/// # Errors
/// [`BenchError::Invalid`] for a zero batch or channel count, or planes under 4×4.
fn stage_shapes(
    batch: usize,
    channels: usize,
    image_size: usize,
) -> Result<[[usize; 4]; 3], BenchError> {
    for (field, v) in [("batch", batch), ("channels", channels)] {
        if v == 0 {
            return Err(invalid(field, "must be at least 1"));
        }
    }
    if image_size < 4 {
        return Err(invalid("image_size", "must be at least 4"));
    }
    Ok([0, 1, 2].map(|stage| {
        [
            batch,
            channels << stage,
            image_size >> stage,
            image_size >> stage,
        ]
    }))
}

/// Applies profiled op `op` to `x` (weights drawn on `host`, made on `x`'s device, requiring
/// gradients when `grad`).
fn apply_op(op: &str, x: Tensor<4>, grad: bool, host: &Device) -> Tensor<4> {
    let [_, c, ..] = x.dims();
    let device = x.device();
    let same = |p: usize| ConvGeometry {
        stride: [1, 1],
        padding: [(p, p), (p, p)],
    };
    let pool3 = PoolGeometry {
        kernel: 3,
        stride: 1,
        padding: 1,
    };
    let param = |shape: [usize; 4]| {
        let w = random_on(shape, 0.1, host, &device);
        if grad { w.require_grad() } else { w }
    };
    match op {
        "relu" => relu(x),
        // The networks' depthwise convolutions (direct backward on flex).
        "dw3" => depthwise_conv(x, param([c, 1, 3, 3]), same(1)),
        "dw5" => depthwise_conv(x, param([c, 1, 5, 5]), same(2)),
        // The networks' 1×1 convolutions: one batched matrix product.
        "pw" => pointwise_conv(x, param([c, c, 1, 1])),
        "proj" => pointwise_conv(Tensor::cat(vec![x; 5], 1), param([c, 5 * c, 1, 1])),
        "bn" => {
            let ones = |v: f32| {
                let t = Tensor::<1>::full([c], v, &device);
                if grad { t.require_grad() } else { t }
            };
            // The networks' batch norm (fused forward and backward on flex).
            batch_norm_batch_stats(x, ones(1.0), ones(0.0), 1e-5).output
        }
        // The networks' pools (direct forward and backward on flex).
        "avg3" => pool2d(x, PoolKind::Avg, pool3),
        "max3" => pool2d(x, PoolKind::Max, pool3),
        // A plain 3×3 convolution, `C → C` (NAS-RL children, the macro space's branches).
        "conv3" => dense_conv(x, param([c, c, 3, 3]), same(1)),
        _ => Tensor::cat(vec![x; 5], 1),
    }
}

/// Times every op of [`PROFILED_OPS`] at the three stage shapes of the micro supernet
/// (`[batch, C, hw, hw]`, `[batch, 2C, hw/2, hw/2]`, `[batch, 4C, hw/4, hw/4]`), `reps` timed
/// runs after two untimed ones each, and returns the medians.
///
/// # Errors
/// [`BenchError::Invalid`] for zero sizes; device errors.
pub fn profile_ops(
    batch: usize,
    channels: usize,
    image_size: usize,
    reps: usize,
    device: &Device,
) -> Result<Vec<OpTiming>, BenchError> {
    let shapes = stage_shapes(batch, channels, image_size)?;
    if reps == 0 {
        return Err(invalid("reps", "must be at least 1"));
    }
    let plain = device.clone().inner();
    let ad = plain.clone().autodiff();
    let sync = |d: &Device| d.sync().map_err(|e| BenchError::Device(format!("{e:?}")));
    let mut out = Vec::new();
    for shape in shapes {
        for op in PROFILED_OPS {
            let mut forward = Vec::with_capacity(reps);
            let mut forward_backward = Vec::with_capacity(reps);
            for rep in 0..reps + 2 {
                let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &plain);
                sync(&plain)?;
                let start = Instant::now();
                let y = apply_op(op, x, false, &plain);
                sync(&plain)?;
                let fwd = start.elapsed().as_secs_f64();
                drop(y);

                let x =
                    Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &ad).require_grad();
                let out_shape = {
                    let [n, c, h, w] = shape;
                    match op {
                        "cat5" => [n, 5 * c, h, w],
                        _ => [n, c, h, w],
                    }
                };
                let g = Tensor::<4>::random(out_shape, Distribution::Normal(0.0, 1.0), &ad);
                sync(&ad)?;
                let start = Instant::now();
                let y = apply_op(op, x, true, &ad);
                let grads = (y * g).sum().backward();
                sync(&ad)?;
                let both = start.elapsed().as_secs_f64();
                drop(grads);
                if rep >= 2 {
                    forward.push(fwd);
                    forward_backward.push(both);
                }
            }
            out.push(OpTiming {
                op,
                shape,
                forward: median(&forward),
                forward_backward: median(&forward_backward),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }

    #[test]
    fn workload_names_round_trip() {
        for w in Workload::ALL {
            assert_eq!(w.as_str().parse::<Workload>().ok(), Some(w));
        }
        assert!("nope".parse::<Workload>().is_err());
    }

    #[test]
    fn report_line_has_the_reference_format() {
        let report = BenchReport {
            config: BenchConfig::new(Workload::Micro),
            device: "flex".into(),
            seconds: vec![0.5, 0.5],
        };
        let line = report.to_string();
        assert!(line.starts_with("enas_micro_step burn-nas-"), "{line}");
        assert!(
            line.ends_with(
                "device=flex batch=64 C=20 L=6 hw=32 median_step_s=0.5000 images_per_s=128.0"
            ),
            "{line}"
        );
    }

    #[test]
    fn invalid_settings_are_rejected() {
        let mut c = BenchConfig::tiny(Workload::Micro);
        c.batch = 0;
        assert!(matches!(
            c.validate(),
            Err(BenchError::Invalid { field: "batch", .. })
        ));
    }
}
