//! Module parameters as plain data keyed by their path (`cells.3.ops.5.Sep.first.bn.gamma`):
//! what weight inheritance copies between networks and what a controller's saved state holds.

use std::collections::BTreeMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// One tensor's shape and row-major values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorValues {
    /// Shape.
    pub dims: Vec<usize>,
    /// Row-major values.
    pub values: Vec<f32>,
}

impl TensorValues {
    /// The values of `tensor` (read back to the host).
    pub fn of<const D: usize>(tensor: Tensor<D>) -> Self {
        TensorValues {
            dims: tensor.dims().to_vec(),
            values: tensor.into_data().iter::<f32>().collect(),
        }
    }

    /// A tensor of these values on `device`, or `None` when the rank is not `D` or the value
    /// count does not match the shape.
    pub fn tensor<const D: usize>(&self, device: &Device) -> Option<Tensor<D>> {
        let dims: [usize; D] = self.dims.clone().try_into().ok()?;
        (dims.iter().product::<usize>() == self.values.len())
            .then(|| Tensor::from_data(TensorData::new(self.values.clone(), dims), device))
    }
}

/// Every float parameter (batch-norm statistics included) by path.
pub type ParamValues = BTreeMap<String, TensorValues>;

#[derive(Default)]
struct Path(Vec<String>);

impl Path {
    fn key(&self) -> String {
        self.0.join(".")
    }
}

struct Export {
    path: Path,
    out: ParamValues,
}

impl ModuleVisitor for Export {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.0.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.0.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.out
            .insert(self.path.key(), TensorValues::of(param.val()));
    }
}

/// Every float parameter of `module` by path.
pub fn export_params<M: Module>(module: &M) -> ParamValues {
    let mut v = Export {
        path: Path::default(),
        out: BTreeMap::new(),
    };
    module.visit(&mut v);
    v.out
}

/// What [`import_params`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Parameter tensors replaced by the saved value of the same path and shape.
    pub copied: usize,
    /// Paths of the module's parameters that kept their value (absent, or another shape).
    pub kept: Vec<String>,
}

struct Import<'a> {
    path: Path,
    from: &'a ParamValues,
    report: ImportReport,
}

impl ModuleMapper for Import<'_> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.0.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.0.pop();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let key = self.path.key();
        let fits = self
            .from
            .get(&key)
            .filter(|saved| saved.dims.as_slice() == param.shape().dims::<D>().as_slice());
        let Some(saved) = fits else {
            self.report.kept.push(key);
            return param;
        };
        self.report.copied += 1;
        // The training state (requires-grad) of the parameter is kept; only its value changes.
        param.map(|t| {
            let device = t.device();
            let grad = t.is_require_grad();
            match saved.tensor::<D>(&device) {
                Some(fresh) if grad => fresh.require_grad(),
                Some(fresh) => fresh,
                None => t,
            }
        })
    }
}

/// `module` with every parameter whose path and shape match an entry of `from` replaced by
/// that value; the report says how many were copied and which kept their own.
pub fn import_params<M: Module>(module: M, from: &ParamValues) -> (M, ImportReport) {
    let mut m = Import {
        path: Path::default(),
        from,
        report: ImportReport::default(),
    };
    let module = module.map(&mut m);
    (module, m.report)
}

struct Ids {
    path: Path,
    out: BTreeMap<String, u64>,
}

impl ModuleVisitor for Ids {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.0.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.0.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.out.insert(self.path.key(), param.id.val());
    }
}

/// The id of every float parameter of `module` by path.
///
/// Optimizer state (burn's `OptimizerRecord`) is keyed by parameter id, and a network rebuilt
/// from its configuration gets fresh ids; saving the ids next to the optimizer state and
/// restoring them with [`with_param_ids`] lets a resumed run continue with its momentum.
pub fn param_ids<M: Module>(module: &M) -> BTreeMap<String, u64> {
    let mut v = Ids {
        path: Path::default(),
        out: BTreeMap::new(),
    };
    module.visit(&mut v);
    v.out
}

struct SetIds<'a> {
    path: Path,
    ids: &'a BTreeMap<String, u64>,
    missing: Vec<String>,
}

impl ModuleMapper for SetIds<'_> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.0.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.0.pop();
    }
    fn map_float<const D: usize>(&mut self, mut param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        match self.ids.get(&self.path.key()) {
            Some(&id) => param.id = burn::module::ParamId::from(id),
            None => self.missing.push(self.path.key()),
        }
        param
    }
}

/// `module` with the parameter ids recorded by [`param_ids`]; returns the paths of parameters
/// that had no recorded id (they keep their own).
pub fn with_param_ids<M: Module>(module: M, ids: &BTreeMap<String, u64>) -> (M, Vec<String>) {
    let mut m = SetIds {
        path: Path::default(),
        ids,
        missing: Vec::new(),
    };
    let module = module.map(&mut m);
    (module, m.missing)
}
