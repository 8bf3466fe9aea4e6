//! [`EstimatorState`]: what an estimator must save so that a search resumes exactly, and the
//! byte formats of networks and optimizer state inside it.
//!
//! An estimator says *what* its state is; the search loop decides *when* to save it and *how*
//! (atomically, next to the strategy's state).

use std::collections::BTreeMap;

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn_nas_nn::OptimizerSnapshot;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{EstimatorError, Result};

/// An estimator's saved state: small values as JSON, tensors as named binary blobs (burn's
/// burnpack format for networks, burn's optimizer record for optimizer state).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EstimatorState {
    /// Counters, RNG states, incumbents…
    pub json: serde_json::Value,
    /// Network weights and optimizer state by name (each name is a file name).
    pub blobs: BTreeMap<String, Vec<u8>>,
}

impl EstimatorState {
    /// A state with only JSON values.
    pub fn json<T: Serialize>(value: &T) -> Result<Self> {
        Ok(EstimatorState {
            json: serde_json::to_value(value).map_err(|e| state_error("serializing", e))?,
            blobs: BTreeMap::new(),
        })
    }

    /// The JSON part read back as `T`.
    ///
    /// # Errors
    /// [`EstimatorError::State`] when it is not a state of this estimator.
    pub fn parse<T: DeserializeOwned>(&self, what: &str) -> Result<T> {
        serde_path_to_error::deserialize(&self.json)
            .map_err(|e| EstimatorError::State(format!("{what}: {e}")))
    }

    /// The blob called `name`.
    ///
    /// # Errors
    /// [`EstimatorError::State`] naming the missing blob.
    pub fn blob(&self, name: &str) -> Result<&[u8]> {
        self.blobs
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| EstimatorError::State(format!("the blob `{name}` is missing")))
    }
}

fn state_error(what: &str, e: impl std::fmt::Display) -> EstimatorError {
    EstimatorError::State(format!("{what}: {e}"))
}

/// The parameters of `module` in burn's burnpack format ([`burn_nas_nn::module_to_bytes`]).
///
/// # Errors
/// [`EstimatorError::State`] when burn cannot serialize the module.
pub fn module_to_bytes<M: Module>(module: &M) -> Result<Vec<u8>> {
    burn_nas_nn::module_to_bytes(module).map_err(|e| EstimatorError::State(e.to_string()))
}

/// `module` with every parameter loaded from burnpack `bytes` written by [`module_to_bytes`]
/// for a module of the same structure ([`burn_nas_nn::module_from_bytes`]).
///
/// # Errors
/// [`EstimatorError::State`] when the bytes are damaged or do not fit the module (a missing or
/// extra tensor, another shape).
pub fn module_from_bytes<M: Module>(module: M, bytes: &[u8]) -> Result<M> {
    burn_nas_nn::module_from_bytes(module, bytes).map_err(|e| EstimatorError::State(e.to_string()))
}

#[derive(Serialize, Deserialize)]
struct OptimizerIds {
    ids: BTreeMap<String, u64>,
}

/// Saves `optimizer`'s state for `module` as two blobs of `state` (`{name}.bpk` with burn's
/// optimizer record, `{name}.ids.json` with the parameter ids by path that key it): an
/// [`OptimizerSnapshot`], the one optimizer-state format of the library, split into files.
///
/// # Errors
/// [`EstimatorError::State`] when burn cannot serialize the record.
pub fn save_optimizer<M: Module>(
    state: &mut EstimatorState,
    name: &str,
    optimizer: &ModuleOptimizer,
    module: &M,
) -> Result<()> {
    let OptimizerSnapshot { record, ids } =
        OptimizerSnapshot::of(optimizer, module).map_err(|e| state_error("saving", e))?;
    let ids = serde_json::to_vec(&OptimizerIds { ids })
        .map_err(|e| state_error("saving optimizer state", e))?;
    state.blobs.insert(format!("{name}.bpk"), record);
    state.blobs.insert(format!("{name}.ids.json"), ids);
    Ok(())
}

/// Restores what [`save_optimizer`] saved: `module` gets back the parameter ids the optimizer
/// state is keyed by, and `fresh` (an optimizer of the same settings) its state.
///
/// # Errors
/// [`EstimatorError::State`] when a blob is missing or damaged, or a parameter of `module` has
/// no saved id.
pub fn load_optimizer<M: Module>(
    state: &EstimatorState,
    name: &str,
    fresh: ModuleOptimizer,
    module: M,
) -> Result<(ModuleOptimizer, M)> {
    let OptimizerIds { ids } = serde_json::from_slice(state.blob(&format!("{name}.ids.json"))?)
        .map_err(|e| state_error("optimizer parameter ids", e))?;
    let snapshot = OptimizerSnapshot {
        record: state.blob(&format!("{name}.bpk"))?.to_vec(),
        ids,
    };
    snapshot
        .restore(fresh, module)
        .map_err(|e| EstimatorError::State(e.to_string()))
}
