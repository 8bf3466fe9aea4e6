//! The [`Estimator`] trait and what it returns.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};

use crate::error::{Result, check_stop};
use crate::state::EstimatorState;

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
    /// Wall time of the estimate in seconds (of the successful attempt).
    pub seconds: f64,
    /// Times the trial was restarted on another device of the pool after its device or worker
    /// failed (0 for a trial that ran once; absent in histories written before pools existed).
    #[serde(default)]
    pub retries: usize,
    /// What the estimate cost and what the speed-ups saved, in epochs of full-fidelity
    /// training of the child (absent in histories written before 2026-12-03).
    #[serde(default)]
    pub compute: Option<Compute>,
}

/// An estimate's compute, in **full-fidelity child epochs**: one epoch of training the child at
/// full width, depth and image size on the whole training split. Costs are proportional to
/// multiply-accumulates × training images, counted from the networks themselves.
///
/// * Training from scratch: `spent` = epochs trained × the fidelity's cost share (its network's
///   MACs × its training images, over the full-fidelity network's MACs × all training
///   images); `saved` = the fidelity's epochs − `spent`. Low fidelity saves through the share,
///   learning-curve extrapolation through the epochs it did not train; a full-fidelity run
///   that trains every epoch saves 0.
/// * Weight inheritance trains the same epochs as its inner estimator and saves what that
///   saves: a warm start buys accuracy per epoch, not fewer epochs.
/// * Shared weights: scoring one validation minibatch costs `minibatch / (3 × training images)`
///   (a forward pass is about a third of a training step), and each supernet epoch — about one
///   child epoch, since every step trains one sampled path — is booked on the first estimate
///   after it; `saved` is counted against the cheapest standalone estimate, one full-fidelity
///   epoch per architecture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Compute {
    /// Full-fidelity child epochs this estimate's work amounts to.
    pub spent: f64,
    /// Full-fidelity child epochs the speed-ups did not spend.
    pub saved: f64,
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

    /// Estimates several architectures (each with the parent it was mutated from, if any),
    /// returning the estimates in the same order. The search hands it all of an update's
    /// proposals at once. The default estimates them one after the other; estimators that can
    /// train children concurrently (on a pool of devices) override it, take the children as
    /// devices come free, and must return exactly what the sequential order would, whatever
    /// the pool's size.
    ///
    /// `stop` is read before each child starts: once it is set, no further child starts and
    /// the call ends with [`EstimatorError::Interrupted`](crate::EstimatorError::Interrupted)
    /// (children already training finish first). Pass a flag that is never set to estimate
    /// them all.
    ///
    /// # Errors
    /// As [`estimate_child`](Self::estimate_child), and `Interrupted`.
    fn estimate_many(
        &mut self,
        children: &[(&A, Option<&A>)],
        stop: &AtomicBool,
    ) -> Result<Vec<Estimate>> {
        children
            .iter()
            .map(|(arch, parent)| {
                check_stop(stop)?;
                self.estimate_child(arch, *parent)
            })
            .collect()
    }

    /// How many children [`estimate_many`](Self::estimate_many) trains at once: 1 by default;
    /// the size of the device pool for estimators that train children concurrently;
    /// `usize::MAX` for the shared weights, which score any number of children together.
    fn parallelism(&self) -> usize {
        1
    }

    /// A short name for logs and reports.
    fn name(&self) -> &'static str {
        "estimator"
    }

    /// Everything the estimator has learned or counted (shared weights and their optimizer,
    /// RNG, counters, incumbents, networks kept for inheritance), so that a search resumes
    /// exactly. Stateless estimators keep the default (empty state).
    ///
    /// # Errors
    /// The state cannot be serialized.
    fn save_state(&self) -> Result<EstimatorState> {
        Ok(EstimatorState::default())
    }

    /// Restores a state written by [`save_state`](Self::save_state) of an estimator built with
    /// the same settings.
    ///
    /// # Errors
    /// [`EstimatorError::State`](crate::EstimatorError::State) for a damaged or foreign state.
    fn load_state(&mut self, state: &EstimatorState) -> Result<()> {
        let _ = state;
        Ok(())
    }

    /// Sets (or clears) the observer told about every training minibatch, e.g. a progress bar.
    fn set_batch_observer(&mut self, observer: Option<Arc<dyn BatchObserver>>) {
        let _ = observer;
    }
}

/// Told about every training minibatch an estimator runs (progress bars, logging).
pub trait BatchObserver: Send + Sync {
    /// `done` of `total` minibatches of the current pass (a shared-weights epoch or one child's
    /// epoch) are finished; `loss` is the last minibatch's training loss.
    fn on_batch(&self, done: usize, total: usize, loss: f64);
}

/// Where an estimator keeps its [`BatchObserver`] (a `Debug` wrapper).
#[derive(Clone, Default)]
pub(crate) struct ObserverSlot(pub(crate) Option<Arc<dyn BatchObserver>>);

impl ObserverSlot {
    pub(crate) fn notify(&self, done: usize, total: usize, loss: f64) {
        if let Some(o) = &self.0 {
            o.on_batch(done, total, loss);
        }
    }
}

impl std::fmt::Debug for ObserverSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Some(observer)"
        } else {
            "None"
        })
    }
}

/// A boxed estimator (e.g. chosen at run time) is an estimator.
impl<A, E: Estimator<A> + ?Sized> Estimator<A> for Box<E> {
    fn prepare(&mut self, sampler: &mut dyn FnMut() -> Result<A>) -> Result<()> {
        (**self).prepare(sampler)
    }
    fn estimate(&mut self, arch: &A) -> Result<Estimate> {
        (**self).estimate(arch)
    }
    fn estimate_child(&mut self, arch: &A, parent: Option<&A>) -> Result<Estimate> {
        (**self).estimate_child(arch, parent)
    }
    fn estimate_many(
        &mut self,
        children: &[(&A, Option<&A>)],
        stop: &AtomicBool,
    ) -> Result<Vec<Estimate>> {
        (**self).estimate_many(children, stop)
    }
    fn parallelism(&self) -> usize {
        (**self).parallelism()
    }
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn save_state(&self) -> Result<EstimatorState> {
        (**self).save_state()
    }
    fn load_state(&mut self, state: &EstimatorState) -> Result<()> {
        (**self).load_state(state)
    }
    fn set_batch_observer(&mut self, observer: Option<Arc<dyn BatchObserver>>) {
        (**self).set_batch_observer(observer);
    }
}
