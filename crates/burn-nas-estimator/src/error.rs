//! The error type of performance estimation.

use std::sync::atomic::{AtomicBool, Ordering};

use thiserror::Error;

use burn_nas_data::DataError;
use burn_nas_nn::NetError;
use burn_nas_space::ArchError;

/// Why an architecture could not be estimated.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EstimatorError {
    /// Loading or batching data failed.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The network could not be built.
    #[error(transparent)]
    Net(#[from] NetError),
    /// The architecture is invalid.
    #[error(transparent)]
    Arch(#[from] ArchError),
    /// A setting is impossible (zero epochs, a fraction outside (0, 1], …).
    #[error("invalid setting `{field}`: {reason}")]
    InvalidSetting {
        /// The setting's name.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Training diverged: the loss became NaN or infinite.
    #[error("training diverged at epoch {epoch}, step {step}: loss = {loss}")]
    Diverged {
        /// Epoch (0-based).
        epoch: usize,
        /// Step within the epoch.
        step: usize,
        /// The loss value.
        loss: f32,
    },
    /// A saved estimator state could not be written or read back.
    #[error("estimator state: {0}")]
    State(String),
    /// A trial's device or worker failed (a panic in the backend, a lost remote server, an
    /// injected fault) more often than the pool's retry limit allows.
    #[error(
        "child {child}: device `{device}` failed ({message}); {attempts} attempt(s), no retry left"
    )]
    DeviceFailed {
        /// The child's sequence number (the counter its seed derives from).
        child: u64,
        /// Label of the device of the last attempt.
        device: String,
        /// Attempts made.
        attempts: usize,
        /// What the failure said.
        message: String,
    },
    /// Every device of the pool has failed: children are left that nothing can train.
    #[error("no working device left in the pool ({0})")]
    NoDevice(String),
    /// The stop flag handed to [`Estimator::estimate_many`](crate::Estimator::estimate_many)
    /// was raised before every child had started: the children are not all estimated.
    #[error("stopped before every child was estimated")]
    Interrupted,
    /// The strategy's sampler failed while the estimator was preparing.
    #[error("sampling an architecture failed: {0}")]
    Sampler(String),
}

/// [`EstimatorError::Interrupted`] once `stop` is set: what an
/// [`Estimator::estimate_many`](crate::Estimator::estimate_many) reads before it starts a child.
///
/// # Errors
/// `Interrupted` when the flag is set.
pub fn check_stop(stop: &AtomicBool) -> Result<()> {
    if stop.load(Ordering::SeqCst) {
        return Err(EstimatorError::Interrupted);
    }
    Ok(())
}

/// Shorthand for results of this crate.
pub type Result<T, E = EstimatorError> = std::result::Result<T, E>;

pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> EstimatorError {
    EstimatorError::InvalidSetting {
        field,
        reason: reason.into(),
    }
}
