//! Network parameters as plain data keyed by their path (`cells.3.ops.5.Sep.first.bn.gamma`):
//! what weight inheritance and network morphisms carry between networks and what a
//! controller's saved state holds. `burn-nas-nn` reads them out of burn modules and back
//! (`export_params`, `import_params`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One tensor's shape and row-major values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorValues {
    /// Shape.
    pub dims: Vec<usize>,
    /// Row-major values.
    pub values: Vec<f32>,
}

/// Every float parameter (batch-norm statistics included) by path.
pub type ParamValues = BTreeMap<String, TensorValues>;
