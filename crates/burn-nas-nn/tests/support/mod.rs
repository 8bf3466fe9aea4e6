//! Helpers shared by the network tests: a plain SGD step, a cross-entropy loss, a visitor
//! that snapshots every parameter with whether it received a gradient, and the logit
//! comparison of a network with its morphed child.

#![allow(dead_code)]

use burn::module::{Module, Param, ParamId};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::Gradients;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use burn_nas_nn::{
    Mode, Network, ParamPath, ParamValues, PathVisitor, export_params, import_params,
    visit_with_paths,
};
use burn_nas_space::morphism::MorphError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard};

/// The flex backend has one random generator per process, shared by every thread, and a
/// parameter's initial values are drawn at its first use: tests that seed and then draw (a
/// batch, a network's weights) take turns, so that another test's draws cannot land in between.
static DEVICE_RNG: Mutex<()> = Mutex::new(());

/// Takes the test's turn with the device's random generator (see [`DEVICE_RNG`]).
pub fn turn() -> MutexGuard<'static, ()> {
    DEVICE_RNG.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn device() -> Device {
    Device::flex().autodiff()
}

pub fn batch(
    n: usize,
    channels: usize,
    size: usize,
    classes: usize,
    device: &Device,
) -> (Tensor<4>, Tensor<1, Int>) {
    device.seed(7);
    let x = Tensor::<4>::random(
        [n, channels, size, size],
        Distribution::Normal(0.0, 1.0),
        device,
    );
    let labels: Vec<i64> = (0..n).map(|i| (i % classes) as i64).collect();
    let y = Tensor::<1, Int>::from_data(TensorData::new(labels, [n]), device);
    (x, y)
}

pub fn loss(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    CrossEntropyLossConfig::new()
        .init(&logits.device())
        .forward(logits, labels)
}

pub fn scalar(t: Tensor<1>) -> f32 {
    t.into_scalar::<f32>()
}

/// One parameter: its id, whether it has a gradient, and its values.
pub struct Snapshot {
    pub id: ParamId,
    /// The parameter's path in the module tree, `.`-joined.
    pub path: String,
    pub has_grad: bool,
    /// The largest |gradient| entry (0 without a gradient).
    pub grad_max: f32,
    pub values: Vec<f32>,
}

struct Collector<'a> {
    grads: Option<&'a Gradients>,
    out: Vec<Snapshot>,
}

impl PathVisitor for Collector<'_> {
    fn visit<const D: usize>(&mut self, path: &ParamPath, param: &Param<Tensor<D>>) {
        // Batch-norm running statistics are buffers, not trained parameters.
        if path.is_running_stat() {
            return;
        }
        let val = param.val();
        let grad = self.grads.and_then(|g| val.grad(g));
        let has_grad = grad.is_some();
        let grad_max = grad.map_or(0.0, |g| g.abs().max().into_scalar::<f32>());
        let values = val.into_data().try_to_vec::<f32>().unwrap_or_default();
        self.out.push(Snapshot {
            id: param.id,
            path: path.key(),
            has_grad,
            grad_max,
            values,
        });
    }
}

pub fn snapshot<M: Module>(module: &M, grads: Option<&Gradients>) -> Vec<Snapshot> {
    let mut c = Collector {
        grads,
        out: Vec::new(),
    };
    visit_with_paths(module, &mut c);
    c.out
}

/// One plain SGD step (no momentum, no weight decay) from a loss; returns the new model and
/// the snapshot taken before the step (with gradient marks).
pub fn sgd_step<M: Module>(model: M, loss: Tensor<1>, lr: f64) -> (M, Vec<Snapshot>) {
    let grads = loss.backward();
    let before = snapshot(&model, Some(&grads));
    let params = GradientsParams::from_grads(grads, &model);
    let mut optim = SgdConfig::new().init();
    (optim.step(lr, model, params), before)
}

/// `params` with random batch-norm statistics, scales and offsets (a fresh network's are 0,
/// 1, 1, 0, which would hide mistakes in carrying them over).
pub fn perturb_batch_norms(params: &mut ParamValues, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for (key, t) in params.iter_mut() {
        let range = match key.rsplit('.').next() {
            Some("running_var") => 0.5..2.0,
            Some("gamma") => 0.5..1.5,
            Some("running_mean" | "beta") => -0.3..0.3,
            _ => continue,
        };
        for v in &mut t.values {
            *v = rng.random_range(range.clone());
        }
    }
}

/// Max |a − b| of two networks' logits (eval mode) on one batch of four 2-channel
/// `image` × `image` images; the logits are checked not to be degenerate.
pub fn logit_difference<N: Network>(a: &N, b: &N, image: usize, device: &Device) -> f32 {
    let images = Tensor::<4>::random([4, 2, image, image], Distribution::Normal(0.0, 1.0), device);
    let x = a.forward(images.clone(), Mode::EVAL);
    let y = b.forward(images, Mode::EVAL);
    let scale = x.clone().abs().max().into_scalar::<f32>();
    assert!(scale > 1e-3, "degenerate logits");
    (x - y).abs().max().into_scalar::<f32>()
}

/// Builds `init(arch)` with perturbed batch norms, morphs its parameters to `child` and returns
/// the largest logit difference; every carried parameter must fit the child's network and
/// every child parameter must be carried.
pub fn morph_difference<A, N: Network + Module>(
    parent: &A,
    child: &A,
    seed: u64,
    init: impl Fn(&A) -> N,
    transfer: impl Fn(&ParamValues) -> Result<ParamValues, MorphError>,
    image: usize,
    device: &Device,
) -> f32 {
    device.seed(seed);
    let net = init(parent);
    let mut params = export_params(&net);
    perturb_batch_norms(&mut params, seed);
    let (net, report) = import_params(net, &params);
    assert!(report.kept.is_empty(), "{:?}", report.kept);
    let moved = transfer(&params).unwrap();
    let (child_net, report) = import_params(init(child), &moved);
    assert!(
        report.kept.is_empty(),
        "not carried over: {:?}",
        report.kept
    );
    let child_keys: BTreeSet<String> = export_params(&child_net).into_keys().collect();
    let extra: Vec<&String> = moved.keys().filter(|k| !child_keys.contains(*k)).collect();
    assert!(
        extra.is_empty(),
        "parameters the child does not have: {extra:?}"
    );
    logit_difference(&net, &child_net, image, device)
}
