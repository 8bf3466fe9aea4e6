//! The [`Estimator`] trait and what it returns.

use serde::{Deserialize, Serialize};

use crate::error::Result;

/// Everything measured while estimating one architecture.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Validation accuracy the reward is based on (final epoch, or the minibatch for shared weights).
    pub valid_accuracy: f64,
    /// Validation loss, when measured.
    pub valid_loss: Option<f64>,
    /// Validation accuracy after each epoch trained (empty for shared weights).
    pub curve: Vec<f64>,
    /// Validation loss after each epoch trained (empty for shared weights).
    pub loss_curve: Vec<f64>,
    /// Trainable parameters of the network as estimated (after fidelity scaling).
    pub params: Option<usize>,
    /// Multiply-accumulates per image of the network as estimated.
    pub macs: Option<u64>,
    /// Epochs trained.
    pub epochs: usize,
    /// `true` when learning-curve extrapolation stopped the run.
    pub stopped_early: bool,
    /// Epochs not trained thanks to early stopping.
    pub epochs_saved: usize,
    /// The extrapolated final accuracy, when a curve model predicted one.
    pub predicted_accuracy: Option<f64>,
    /// `true` when the child started from a parent's weights.
    pub inherited: bool,
    /// Wall time of the estimate in seconds.
    pub seconds: f64,
}

/// The result of estimating one architecture: the reward a strategy optimises and the metrics
/// behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The reward (higher is better).
    pub reward: f64,
    /// What was measured.
    pub metrics: Metrics,
}

/// A performance-estimation strategy: how good an architecture is, cheaply.
pub trait Estimator<A> {
    /// Called once per search round before proposals are scored; weight-sharing estimators
    /// train their supernet here on architectures drawn from `sampler`.
    ///
    /// # Errors
    /// Training or sampling failures.
    fn prepare(&mut self, sampler: &mut dyn FnMut() -> Result<A>) -> Result<()> {
        let _ = sampler;
        Ok(())
    }

    /// Estimates one architecture.
    ///
    /// # Errors
    /// Building, training or evaluating the network failed.
    fn estimate(&mut self, arch: &A) -> Result<Estimate>;

    /// Estimates a child proposed as a mutation of `parent` (weight inheritance warm-starts
    /// from it; other estimators ignore it).
    ///
    /// # Errors
    /// As [`estimate`](Self::estimate).
    fn estimate_child(&mut self, arch: &A, parent: Option<&A>) -> Result<Estimate> {
        let _ = parent;
        self.estimate(arch)
    }
}
