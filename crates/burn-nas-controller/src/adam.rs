//! Adam for the controller, with a state that serializes exactly (burn's optimizer records are
//! keyed by parameter ids, which do not survive rebuilding the controller on resume).

use std::collections::BTreeMap;

use burn::module::{Module, ModuleMapper, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::params::{Path, TensorValues};

/// Adam's moments per parameter path, and the step count.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AdamState {
    /// Steps taken.
    pub step: u64,
    /// First moments, flattened.
    pub m: BTreeMap<String, TensorValues>,
    /// Second moments, flattened.
    pub v: BTreeMap<String, TensorValues>,
}

/// Adam (Kingma & Ba) with bias correction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adam {
    /// Learning rate.
    pub lr: f64,
    /// β1.
    pub beta1: f64,
    /// β2.
    pub beta2: f64,
    /// ε.
    pub eps: f64,
    /// Moments and step count.
    pub state: AdamState,
}

struct Step<'a> {
    adam: &'a mut Adam,
    grads: &'a GradientsParams,
    path: Path,
}

impl ModuleMapper for Step<'_> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.enter(name);
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.exit();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(grad) = self.grads.get::<D>(param.id) else {
            return param;
        };
        let key = self.path.key();
        let a = &mut *self.adam;
        let t = a.state.step as i32;
        let device = grad.device();
        let dims = grad.dims();
        let n: usize = dims.iter().product();
        let g = grad.reshape([n]).detach();
        let zero = || Tensor::<1>::zeros([n], &device);
        let m0 = a
            .state
            .m
            .get(&key)
            .and_then(|s| s.tensor::<1>(&device))
            .unwrap_or_else(zero);
        let v0 = a
            .state
            .v
            .get(&key)
            .and_then(|s| s.tensor::<1>(&device))
            .unwrap_or_else(zero);
        let m = m0 * a.beta1 + g.clone() * (1.0 - a.beta1);
        let v = v0 * a.beta2 + g.square() * (1.0 - a.beta2);
        let m_hat = m.clone() / (1.0 - a.beta1.powi(t));
        let v_hat = v.clone() / (1.0 - a.beta2.powi(t));
        let update = (m_hat / (v_hat.sqrt() + a.eps) * a.lr).reshape(dims);
        a.state.m.insert(key.clone(), TensorValues::of(m));
        a.state.v.insert(key, TensorValues::of(v));
        param.map(|p| {
            let grad_on = p.is_require_grad();
            let tracked = p.is_autodiff();
            // Computed off the graph, then re-entered as a fresh leaf.
            let next = p.without_autodiff() - update.without_autodiff();
            let next = if tracked { next.autodiff() } else { next };
            if grad_on { next.require_grad() } else { next }
        })
    }
}

impl Adam {
    /// A fresh optimizer.
    pub fn new(lr: f64, beta1: f64, beta2: f64, eps: f64) -> Self {
        Adam {
            lr,
            beta1,
            beta2,
            eps,
            state: AdamState::default(),
        }
    }

    /// One step on every parameter of `module` that has a gradient.
    pub fn step<M: Module>(&mut self, module: M, grads: &GradientsParams) -> M {
        self.state.step += 1;
        let mut mapper = Step {
            adam: self,
            grads,
            path: Path::default(),
        };
        module.map(&mut mapper)
    }
}
