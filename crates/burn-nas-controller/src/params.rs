//! Module parameters as plain data keyed by path, so a controller's weights and optimizer
//! state can be written into a JSON state and read back exactly.

use std::collections::BTreeMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// One tensor's shape and values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorValues {
    /// Shape.
    pub dims: Vec<usize>,
    /// Row-major values.
    pub values: Vec<f32>,
}

impl TensorValues {
    pub(crate) fn of<const D: usize>(t: Tensor<D>) -> Self {
        TensorValues {
            dims: t.dims().to_vec(),
            values: t.into_data().iter::<f32>().collect(),
        }
    }

    pub(crate) fn tensor<const D: usize>(
        &self,
        device: &burn::tensor::Device,
    ) -> Option<Tensor<D>> {
        let dims: [usize; D] = self.dims.clone().try_into().ok()?;
        (dims.iter().product::<usize>() == self.values.len())
            .then(|| Tensor::from_data(TensorData::new(self.values.clone(), dims), device))
    }
}

/// A path-tracking helper for visitors and mappers.
#[derive(Default)]
pub(crate) struct Path(Vec<String>);

impl Path {
    pub(crate) fn enter(&mut self, name: &str) {
        self.0.push(name.to_string());
    }
    pub(crate) fn exit(&mut self) {
        self.0.pop();
    }
    pub(crate) fn key(&self) -> String {
        self.0.join(".")
    }
}

struct Export {
    path: Path,
    out: BTreeMap<String, TensorValues>,
}

impl ModuleVisitor for Export {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.enter(name);
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.exit();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.out
            .insert(self.path.key(), TensorValues::of(param.val()));
    }
}

/// Every float parameter of `module` by path.
pub(crate) fn export<M: Module>(module: &M) -> BTreeMap<String, TensorValues> {
    let mut v = Export {
        path: Path::default(),
        out: BTreeMap::new(),
    };
    module.visit(&mut v);
    v.out
}

struct Import<'a> {
    path: Path,
    from: &'a BTreeMap<String, TensorValues>,
    missing: Vec<String>,
}

impl ModuleMapper for Import<'_> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.enter(name);
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.exit();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let key = self.path.key();
        let Some(saved) = self.from.get(&key) else {
            self.missing.push(key);
            return param;
        };
        if saved.dims.as_slice() != param.shape().dims::<D>().as_slice() {
            self.missing.push(format!("{key} (shape {:?})", saved.dims));
            return param;
        }
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

/// `module` with every parameter replaced by the saved value of the same path; the paths that
/// were missing or of another shape are returned as errors.
pub(crate) fn import<M: Module>(
    module: M,
    from: &BTreeMap<String, TensorValues>,
) -> Result<M, Vec<String>> {
    let mut m = Import {
        path: Path::default(),
        from,
        missing: Vec::new(),
    };
    let module = module.map(&mut m);
    if m.missing.is_empty() {
        Ok(module)
    } else {
        Err(m.missing)
    }
}
