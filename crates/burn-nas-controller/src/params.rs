//! The controller's weights as values by parameter path: how states were saved before they
//! held burnpack weights (`burn_nas_nn::WeightsSnapshot`); still read, no longer written.

use burn::module::Module;
use burn_nas_nn::import_params;
pub use burn_nas_nn::{ParamValues, TensorValues};

/// `module` with every parameter replaced by its saved value; every parameter must have one.
pub(crate) fn import<M: Module>(module: M, from: &ParamValues) -> Result<M, Vec<String>> {
    let (module, report) = import_params(module, from);
    if report.kept.is_empty() {
        Ok(module)
    } else {
        Err(report.kept)
    }
}
