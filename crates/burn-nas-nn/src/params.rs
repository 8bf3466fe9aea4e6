//! Module parameters as plain data keyed by their path (`cells.3.ops.5.Sep.first.bn.gamma`):
//! what weight inheritance copies between networks and what a controller's saved state holds;
//! and the one way every strategy and estimator saves burn optimizer state
//! ([`OptimizerSnapshot`]).

use std::collections::BTreeMap;

pub use burn_nas_space::{ParamValues, TensorValues};

use base64::Engine as _;
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{ModuleOptimizer, OptimizerRecord};
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::{Bytes, Device, Tensor, TensorData};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::param_path::{ParamPath, PathMapper, PathVisitor, map_with_paths, visit_with_paths};

/// The values of `tensor` (read back to the host).
pub fn tensor_values<const D: usize>(tensor: Tensor<D>) -> TensorValues {
    TensorValues {
        dims: tensor.dims().to_vec(),
        values: tensor.into_data().iter::<f32>().collect(),
    }
}

/// A tensor of `values` on `device`, or `None` when the rank is not `D` or the value count
/// does not match the shape.
pub fn values_tensor<const D: usize>(values: &TensorValues, device: &Device) -> Option<Tensor<D>> {
    let dims: [usize; D] = values.dims.clone().try_into().ok()?;
    (dims.iter().product::<usize>() == values.values.len())
        .then(|| Tensor::from_data(TensorData::new(values.values.clone(), dims), device))
}

/// Draws every parameter of a module that has not been drawn yet.
struct Materialize;

impl ModuleVisitor for Materialize {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// Draws every parameter of `module` that has not been drawn yet, on the device it is on.
///
/// burn initialises parameters lazily, at first use; this makes the draw happen now, so that
/// the weights come from this device's generator at this point of its random sequence.
pub fn materialize_params<M: Module>(module: &M) {
    module.visit(&mut Materialize);
}

/// `module` on `device`, with the weights it was initialised with on its own device.
///
/// burn initialises parameters lazily, at first use, on the device the module is on at that
/// moment: [`Module::to_device`] alone, before any use, would draw them from `device`'s random
/// generator instead of the (seeded) one the module was built on, so the same seed would give
/// other weights on another device. This draws pending parameters where the module is, then
/// moves it to `device` with a graph of its own ([`Module::fork`]). On the same compute device
/// (plain or autodiff) it only moves the module: nothing is drawn early, so the device's random
/// sequence is what it would be without the call. A module that is to be trained on another
/// compute device is built on an autodiff device: parameters drawn on a plain one carry no
/// gradient requirement across.
///
/// ```
/// use burn::nn::LinearConfig;
/// use burn::tensor::Device;
/// use burn_nas_nn::move_to_device;
///
/// // Weights drawn on the seeded CPU device, whichever device the network then runs on.
/// let host = Device::flex();
/// host.seed(7);
/// let net = move_to_device(LinearConfig::new(3, 2).init(&host), &host.clone().autodiff());
/// assert_eq!(net.weight.dims(), [3, 2]);
/// ```
pub fn move_to_device<M: Module>(module: M, device: &Device) -> M {
    // Device equality ignores autodiff: this is "the same compute device".
    if module.devices().iter().any(|d| d != device) {
        materialize_params(&module);
    }
    // `fork`, not `to_device`: drawn parameters stay leaves of a graph of their own.
    module.fork(device)
}

struct Export(ParamValues);

impl PathVisitor for Export {
    fn visit<const D: usize>(&mut self, path: &ParamPath, param: &Param<Tensor<D>>) {
        self.0.insert(path.key(), tensor_values(param.val()));
    }
}

/// Every float parameter of `module` by path.
pub fn export_params<M: Module>(module: &M) -> ParamValues {
    let mut v = Export(BTreeMap::new());
    visit_with_paths(module, &mut v);
    v.0
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
    from: &'a ParamValues,
    report: ImportReport,
}

impl PathMapper for Import<'_> {
    fn map<const D: usize>(
        &mut self,
        path: &ParamPath,
        param: Param<Tensor<D>>,
    ) -> Param<Tensor<D>> {
        let key = path.key();
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
            match values_tensor::<D>(saved, &device) {
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
        from,
        report: ImportReport::default(),
    };
    let module = map_with_paths(module, &mut m);
    (module, m.report)
}

struct Ids(BTreeMap<String, u64>);

impl PathVisitor for Ids {
    fn visit<const D: usize>(&mut self, path: &ParamPath, param: &Param<Tensor<D>>) {
        self.0.insert(path.key(), param.id.val());
    }
}

/// The id of every float parameter of `module` by path.
///
/// Optimizer state (burn's `OptimizerRecord`) is keyed by parameter id, and a network rebuilt
/// from its configuration gets fresh ids; saving the ids next to the optimizer state and
/// restoring them with [`with_param_ids`] lets a resumed run continue with its momentum.
pub fn param_ids<M: Module>(module: &M) -> BTreeMap<String, u64> {
    let mut v = Ids(BTreeMap::new());
    visit_with_paths(module, &mut v);
    v.0
}

struct SetIds<'a> {
    ids: &'a BTreeMap<String, u64>,
    missing: Vec<String>,
}

impl PathMapper for SetIds<'_> {
    fn map<const D: usize>(
        &mut self,
        path: &ParamPath,
        mut param: Param<Tensor<D>>,
    ) -> Param<Tensor<D>> {
        match self.ids.get(&path.key()) {
            Some(&id) => param.id = burn::module::ParamId::from(id),
            None => self.missing.push(path.key()),
        }
        param
    }
}

/// `module` with the parameter ids recorded by [`param_ids`]; returns the paths of parameters
/// that had no recorded id (they keep their own).
pub fn with_param_ids<M: Module>(module: M, ids: &BTreeMap<String, u64>) -> (M, Vec<String>) {
    let mut m = SetIds {
        ids,
        missing: Vec::new(),
    };
    let module = map_with_paths(module, &mut m);
    (module, m.missing)
}

/// A burn optimizer's state in a form that survives rebuilding its module: burn's
/// `OptimizerRecord` bytes, and the parameter ids by path that key them ([`param_ids`]).
///
/// A module rebuilt from its configuration gets fresh parameter ids, so burn's record alone
/// would not find its parameters again; [`restore`](Self::restore) gives the rebuilt module the
/// saved ids first. In JSON the record is a base64 string.
///
/// ```
/// use burn::module::Module;
/// use burn::nn::{Linear, LinearConfig};
/// use burn::optim::{AdamConfig, GradientsParams};
/// use burn::tensor::{Device, Tensor};
/// use burn_nas_nn::OptimizerSnapshot;
///
/// let device = Device::flex().autodiff();
/// let net: Linear = LinearConfig::new(3, 2).init(&device);
/// let mut adam = AdamConfig::new().init();
/// let loss = net.forward(Tensor::<2>::ones([4, 3], &device)).sum();
/// let grads = GradientsParams::from_grads(loss.backward(), &net);
/// let net = adam.step(1e-2, net, grads);
///
/// let saved = OptimizerSnapshot::of(&adam, &net)?;
/// let json = serde_json::to_string(&saved)?;
/// // A rebuilt network (fresh ids) and a fresh optimizer continue where these stopped.
/// let rebuilt: Linear = LinearConfig::new(3, 2).init(&device).load_record(net.into_record());
/// let read: OptimizerSnapshot = serde_json::from_str(&json)?;
/// let (_adam, _net) = read.restore(AdamConfig::new().init(), rebuilt)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimizerSnapshot {
    /// burn's optimizer record, in bytes.
    #[serde(serialize_with = "to_base64", deserialize_with = "from_base64")]
    pub record: Vec<u8>,
    /// The parameter id of every float parameter of the module, by path.
    pub ids: BTreeMap<String, u64>,
}

/// Why saved optimizer state could not be written or read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OptimizerStateError {
    /// burn could not write the record, or the saved record is damaged.
    #[error("optimizer record: {0}")]
    Record(String),
    /// A parameter of the module has no saved id (the state is for another module).
    #[error("optimizer state has no id for parameter `{first}` ({count} missing)")]
    MissingIds {
        /// The first such parameter's path.
        first: String,
        /// How many there are.
        count: usize,
    },
}

impl OptimizerSnapshot {
    /// The state of `optimizer`, which steps `module`.
    ///
    /// # Errors
    /// [`OptimizerStateError::Record`] when burn cannot serialize the record.
    pub fn of<M: Module>(
        optimizer: &ModuleOptimizer,
        module: &M,
    ) -> Result<Self, OptimizerStateError> {
        let record = optimizer
            .to_record()
            .into_bytes()
            .map_err(|e| OptimizerStateError::Record(e.to_string()))?;
        Ok(OptimizerSnapshot {
            record: record.to_vec(),
            ids: param_ids(module),
        })
    }

    /// `module` with the saved parameter ids, and `fresh` (an optimizer of the same settings)
    /// with the saved state.
    ///
    /// # Errors
    /// [`OptimizerStateError::MissingIds`] when a parameter of `module` has no saved id,
    /// [`OptimizerStateError::Record`] when the record is damaged.
    pub fn restore<M: Module>(
        &self,
        fresh: ModuleOptimizer,
        module: M,
    ) -> Result<(ModuleOptimizer, M), OptimizerStateError> {
        let (module, missing) = with_param_ids(module, &self.ids);
        if let Some(first) = missing.first() {
            return Err(OptimizerStateError::MissingIds {
                first: first.clone(),
                count: missing.len(),
            });
        }
        let record = OptimizerRecord::from_bytes(Bytes::from_bytes_vec(self.record.clone()))
            .map_err(|e| OptimizerStateError::Record(e.to_string()))?;
        // burn's `load_record` panics on a record that parses but is damaged (a tensor without
        // its parameter id): saved state is user input, so that panic becomes an error.
        let loaded =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fresh.load_record(record)))
                .map_err(|payload| {
                    OptimizerStateError::Record(
                        payload
                            .downcast_ref::<&str>()
                            .map(|s| (*s).to_string())
                            .or_else(|| payload.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "it cannot be loaded".into()),
                    )
                })?;
        Ok((loaded, module))
    }
}

/// Why saved weights could not be written or read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WeightsError {
    /// burn could not write the module's parameters.
    #[error("saving weights: {0}")]
    Save(String),
    /// The saved bytes are damaged or are not burnpack.
    #[error("loading weights: {0}")]
    Damaged(String),
    /// The saved weights are for another module: tensors missing or of another shape.
    #[error(
        "loading weights: {missing} tensors missing (first: {first_missing:?}), {errors} errors \
         (first: {first_error:?})"
    )]
    Mismatch {
        /// How many of the module's tensors the saved weights lack.
        missing: usize,
        /// The first of them.
        first_missing: Option<String>,
        /// How many saved tensors could not be applied (another shape or type).
        errors: usize,
        /// The first such error.
        first_error: Option<String>,
    },
}

/// The parameters of `module` in burn's burnpack format: the one format in which strategies
/// and estimators save weights (with [`OptimizerSnapshot`] for their optimizers).
///
/// # Errors
/// [`WeightsError::Save`] when burn cannot serialize the module.
pub fn module_to_bytes<M: Module>(module: &M) -> Result<Vec<u8>, WeightsError> {
    let mut store = BurnpackStore::from_bytes(None);
    module
        .save_into(&mut store)
        .map_err(|e| WeightsError::Save(e.to_string()))?;
    let bytes = store
        .get_bytes()
        .map_err(|e| WeightsError::Save(e.to_string()))?;
    Ok(bytes.to_vec())
}

/// `module` with every parameter loaded from burnpack `bytes` written by [`module_to_bytes`]
/// for a module of the same structure.
///
/// # Errors
/// [`WeightsError::Damaged`] when the bytes cannot be read, [`WeightsError::Mismatch`] when
/// they do not fit the module (a missing tensor, another shape).
pub fn module_from_bytes<M: Module>(mut module: M, bytes: &[u8]) -> Result<M, WeightsError> {
    let mut store = BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(bytes.to_vec())));
    let applied = module
        .load_from(&mut store)
        .map_err(|e| WeightsError::Damaged(e.to_string()))?;
    if !applied.missing.is_empty() || !applied.errors.is_empty() {
        return Err(WeightsError::Mismatch {
            missing: applied.missing.len(),
            first_missing: applied.missing.first().map(|m| format!("{m:?}")),
            errors: applied.errors.len(),
            first_error: applied.errors.first().map(ToString::to_string),
        });
    }
    Ok(module)
}

/// A module's weights as serializable state: burnpack bytes, written to JSON as base64.
///
/// ```
/// use burn::nn::LinearConfig;
/// use burn::tensor::Device;
/// use burn_nas_nn::WeightsSnapshot;
///
/// let device = Device::flex();
/// let net = LinearConfig::new(3, 2).init(&device);
/// let saved = WeightsSnapshot::of(&net)?;
/// let json = serde_json::to_string(&saved).unwrap();
/// let back: WeightsSnapshot = serde_json::from_str(&json).unwrap();
/// let restored = back.restore(LinearConfig::new(3, 2).init(&device))?;
/// assert_eq!(restored.weight.val().into_data(), net.weight.val().into_data());
/// # Ok::<(), burn_nas_nn::WeightsError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightsSnapshot {
    /// The module's parameters in burn's burnpack format.
    #[serde(serialize_with = "to_base64", deserialize_with = "from_base64")]
    pub burnpack: Vec<u8>,
}

impl WeightsSnapshot {
    /// The weights of `module`.
    ///
    /// # Errors
    /// As [`module_to_bytes`].
    pub fn of<M: Module>(module: &M) -> Result<Self, WeightsError> {
        Ok(WeightsSnapshot {
            burnpack: module_to_bytes(module)?,
        })
    }

    /// `module` (of the saved module's structure) with the saved weights.
    ///
    /// # Errors
    /// As [`module_from_bytes`].
    pub fn restore<M: Module>(&self, module: M) -> Result<M, WeightsError> {
        module_from_bytes(module, &self.burnpack)
    }
}

fn to_base64<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn from_base64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    let text = String::deserialize(deserializer)?;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(serde::de::Error::custom)
}
