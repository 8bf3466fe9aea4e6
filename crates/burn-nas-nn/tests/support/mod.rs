//! Helpers shared by the network tests: a plain SGD step, a cross-entropy loss, and a visitor
//! that snapshots every parameter with whether it received a gradient.

#![allow(dead_code)]

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::Gradients;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};

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
    pub has_grad: bool,
    pub values: Vec<f32>,
}

struct Collector<'a> {
    grads: Option<&'a Gradients>,
    path: Vec<String>,
    out: Vec<Snapshot>,
}

impl ModuleVisitor for Collector<'_> {
    fn enter_module(&mut self, name: &str, _container: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        // Batch-norm running statistics are buffers, not trained parameters.
        if self
            .path
            .last()
            .is_some_and(|n| n == "running_mean" || n == "running_var")
        {
            return;
        }
        let val = param.val();
        let has_grad = self.grads.is_some_and(|g| val.grad(g).is_some());
        let values = val.into_data().try_to_vec::<f32>().unwrap_or_default();
        self.out.push(Snapshot {
            id: param.id,
            has_grad,
            values,
        });
    }
}

pub fn snapshot<M: Module>(module: &M, grads: Option<&Gradients>) -> Vec<Snapshot> {
    let mut c = Collector {
        grads,
        path: Vec::new(),
        out: Vec::new(),
    };
    module.visit(&mut c);
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
