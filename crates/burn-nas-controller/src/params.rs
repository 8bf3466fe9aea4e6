//! The controller's weights as plain data (shared with weight inheritance in `burn-nas-space`).

use burn::module::Module;
pub use burn_nas_nn::{ParamValues, TensorValues};
use burn_nas_nn::{export_params, import_params};

/// Every float parameter of `module` by path.
pub(crate) fn export<M: Module>(module: &M) -> ParamValues {
    export_params(module)
}

/// `module` with every parameter replaced by its saved value; every parameter must have one.
pub(crate) fn import<M: Module>(module: M, from: &ParamValues) -> Result<M, Vec<String>> {
    let (module, report) = import_params(module, from);
    if report.kept.is_empty() {
        Ok(module)
    } else {
        Err(report.kept)
    }
}
