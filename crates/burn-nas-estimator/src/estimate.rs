//! The [`Estimator`] trait and what it returns.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};

use crate::error::{Result, check_stop};
use crate::state::EstimatorState;

/// Everything measured while estimating one architecture.
///
/// What every estimator measures sits at the top level; what only training runs have (epochs,
/// learning curves, warm starts, early stops) is in [`training`](Self::training), which is
/// `None` for estimates that train nothing of their own: architectures scored with shared
/// weights, or by a user's training-free proxy.
///
/// Histories and checkpoints written before this split (one flat record) still load: the
/// training fields are gathered into `training` when any of them says something was trained.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "MetricsRecord")]
pub struct Metrics {
    /// Validation accuracy the reward is based on (final epoch, or the minibatch for shared weights).
    pub valid_accuracy: f64,
    /// Validation loss, when measured.
    pub valid_loss: Option<f64>,
    /// Trainable parameters of the network as estimated (after fidelity scaling).
    pub params: Option<usize>,
    /// Multiply-accumulates per image of the network as estimated.
    pub macs: Option<u64>,
    /// Wall time of the estimate in seconds (of the successful attempt).
    pub seconds: f64,
    /// Times the trial was restarted on another device of the pool after its device or worker
    /// failed (0 for a trial that ran once).
    pub retries: usize,
    /// What the estimate cost and what the speed-ups saved, in epochs of full-fidelity
    /// training of the child (absent in histories written before 2026-12-03).
    pub compute: Option<Compute>,
    /// The training run behind the estimate; `None` when nothing was trained for it alone.
    pub training: Option<TrainingRun>,
}

impl Metrics {
    /// Epochs trained for this estimate (0 when nothing was trained).
    pub fn epochs(&self) -> usize {
        self.training.as_ref().map_or(0, |t| t.epochs)
    }

    /// Validation accuracy after each epoch trained (empty when nothing was trained).
    pub fn curve(&self) -> &[f64] {
        self.training.as_ref().map_or(&[], |t| &t.curve)
    }

    /// `true` when the child started from a parent's weights.
    pub fn inherited(&self) -> bool {
        self.training.as_ref().is_some_and(|t| t.inherited)
    }

    /// `true` when learning-curve extrapolation stopped the training run.
    pub fn stopped_early(&self) -> bool {
        self.training.as_ref().is_some_and(|t| t.stopped_early)
    }
}

/// The standalone training run behind an [`Estimate`] (training from scratch at some fidelity,
/// with or without weight inheritance and learning-curve extrapolation).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingRun {
    /// Epochs trained.
    pub epochs: usize,
    /// Validation accuracy after each epoch trained.
    pub curve: Vec<f64>,
    /// Validation loss after each epoch trained.
    pub loss_curve: Vec<f64>,
    /// `true` when the child started from a parent's weights (weight inheritance).
    pub inherited: bool,
    /// `true` when learning-curve extrapolation stopped the run.
    pub stopped_early: bool,
    /// Epochs of the fidelity's schedule not trained thanks to early stopping.
    pub epochs_saved: usize,
    /// The extrapolated final accuracy, when a curve model predicted one.
    pub predicted_accuracy: Option<f64>,
}

/// The serialized form [`Metrics`] is read from: today's (`training` nested) or the flat record
/// written before the split, whose training fields sat beside the others.
#[derive(Deserialize)]
struct MetricsRecord {
    valid_accuracy: f64,
    #[serde(default)]
    valid_loss: Option<f64>,
    #[serde(default)]
    params: Option<usize>,
    #[serde(default)]
    macs: Option<u64>,
    #[serde(default)]
    seconds: f64,
    #[serde(default)]
    retries: usize,
    #[serde(default)]
    compute: Option<Compute>,
    #[serde(default)]
    training: Option<TrainingRun>,
    // The flat record's training fields.
    #[serde(default)]
    curve: Vec<f64>,
    #[serde(default)]
    loss_curve: Vec<f64>,
    #[serde(default)]
    epochs: usize,
    #[serde(default)]
    stopped_early: bool,
    #[serde(default)]
    epochs_saved: usize,
    #[serde(default)]
    predicted_accuracy: Option<f64>,
    #[serde(default)]
    inherited: bool,
}

impl From<MetricsRecord> for Metrics {
    fn from(r: MetricsRecord) -> Self {
        let flat_training = (r.epochs > 0 || !r.curve.is_empty()).then_some(TrainingRun {
            epochs: r.epochs,
            curve: r.curve,
            loss_curve: r.loss_curve,
            inherited: r.inherited,
            stopped_early: r.stopped_early,
            epochs_saved: r.epochs_saved,
            predicted_accuracy: r.predicted_accuracy,
        });
        Metrics {
            valid_accuracy: r.valid_accuracy,
            valid_loss: r.valid_loss,
            params: r.params,
            macs: r.macs,
            seconds: r.seconds,
            retries: r.retries,
            compute: r.compute,
            training: r.training.or(flat_training),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Today's form round-trips; the flat record written before `training` was split off
    /// loads with its training fields gathered, and one without any (shared weights) loads
    /// with none.
    #[test]
    fn metrics_read_both_the_nested_and_the_flat_record() {
        let trained = Metrics {
            valid_accuracy: 0.7,
            params: Some(1_000),
            compute: Some(Compute {
                spent: 3.0,
                saved: 2.0,
            }),
            training: Some(TrainingRun {
                epochs: 3,
                curve: vec![0.5, 0.6, 0.7],
                loss_curve: vec![1.5, 1.2, 1.0],
                stopped_early: true,
                epochs_saved: 2,
                predicted_accuracy: Some(0.72),
                ..TrainingRun::default()
            }),
            ..Metrics::default()
        };
        let json = serde_json::to_string(&trained).unwrap();
        assert_eq!(serde_json::from_str::<Metrics>(&json).unwrap(), trained);

        let flat = r#"{"valid_accuracy":0.7,"valid_loss":null,"curve":[0.5,0.6,0.7],
            "loss_curve":[1.5,1.2,1.0],"params":1000,"macs":null,"epochs":3,
            "stopped_early":true,"epochs_saved":2,"predicted_accuracy":0.72,
            "inherited":false,"seconds":0.0,"compute":{"spent":3.0,"saved":2.0}}"#;
        assert_eq!(serde_json::from_str::<Metrics>(flat).unwrap(), trained);

        let shared = r#"{"valid_accuracy":0.3,"valid_loss":null,"curve":[],"loss_curve":[],
            "params":null,"macs":null,"epochs":0,"stopped_early":false,"epochs_saved":0,
            "predicted_accuracy":null,"inherited":false,"seconds":0.1}"#;
        let shared: Metrics = serde_json::from_str(shared).unwrap();
        assert_eq!(shared.training, None);
        assert_eq!((shared.epochs(), shared.curve()), (0, &[][..]));
    }
}
