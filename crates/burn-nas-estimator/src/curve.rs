//! [`CurveExtrapolation`]: train a few epochs, fit the learning curve, stop runs predicted to
//! end below the incumbent (Domhan et al. 2015, in its simplest robust form).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};

use crate::curve_ensemble::CurveEnsemble;
use crate::error::{Result, check_stop, invalid};
use crate::estimate::{BatchObserver, Estimate, Estimator};
use crate::reward::Objective;
use crate::state::EstimatorState;
use crate::train::{Control, EpochStats};

/// The saturating curve families fitted to validation accuracy `y` over epochs `t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CurveModel {
    /// `y = a − b · t^(−c)`.
    PowerLaw,
    /// `y = a − b · exp(−c · t)`.
    Exponential,
}

impl CurveModel {
    fn basis(self, t: f64, c: f64) -> f64 {
        match self {
            CurveModel::PowerLaw => t.max(1e-9).powf(-c),
            CurveModel::Exponential => (-c * t).exp(),
        }
    }
}

/// A fitted learning curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurveFit {
    /// The curve family.
    pub model: CurveModel,
    /// Asymptote.
    pub a: f64,
    /// Scale.
    pub b: f64,
    /// Rate.
    pub c: f64,
    /// Sum of squared residuals on the fitted points.
    pub sse: f64,
}

impl CurveFit {
    /// The curve's value at epoch `t`, clipped to `[0, 1]`.
    pub fn predict(&self, t: f64) -> f64 {
        (self.a - self.b * self.model.basis(t, self.c)).clamp(0.0, 1.0)
    }
}

/// Least-squares fit of both families to `(epoch, accuracy)` points: for each rate `c` on a
/// log grid, `a` and `b` solve a linear least-squares problem exactly; the best `(model, c)` by
/// squared error wins. Needs at least 3 points; `None` for fewer or degenerate data.
pub fn fit_curve(points: &[(f64, f64)]) -> Option<CurveFit> {
    if points.len() < 3 {
        return None;
    }
    let n = points.len() as f64;
    let mut best: Option<CurveFit> = None;
    for model in [CurveModel::PowerLaw, CurveModel::Exponential] {
        for k in 0..=240 {
            // c from 0.01 to 10, log-spaced.
            let c = 10f64.powf(-2.0 + 3.0 * f64::from(k) / 240.0);
            let (mut sx, mut sy, mut sxx, mut sxy) = (0.0, 0.0, 0.0, 0.0);
            for &(t, y) in points {
                let x = model.basis(t, c);
                sx += x;
                sy += y;
                sxx += x * x;
                sxy += x * y;
            }
            let det = n * sxx - sx * sx;
            if det.abs() < 1e-12 {
                continue;
            }
            // y = a + β x with β = −b.
            let beta = (n * sxy - sx * sy) / det;
            let a = (sy - beta * sx) / n;
            let sse: f64 = points
                .iter()
                .map(|&(t, y)| (y - a - beta * model.basis(t, c)).powi(2))
                .sum();
            if sse.is_finite() && best.is_none_or(|b| sse < b.sse) {
                best = Some(CurveFit {
                    model,
                    a,
                    b: -beta,
                    c,
                    sse,
                });
            }
        }
    }
    best
}

/// An estimator whose training can be watched epoch by epoch (and stopped).
pub trait EpochwiseEstimator<A>: Estimator<A> {
    /// Epochs a full estimate trains.
    fn planned_epochs(&self) -> usize;

    /// The objective turning metrics into rewards.
    fn objective(&self) -> &Objective;

    /// Estimates `arch` (warm-started from `parent` where supported), calling `on_epoch` after
    /// every epoch.
    ///
    /// # Errors
    /// As [`Estimator::estimate`].
    fn estimate_watched(
        &mut self,
        arch: &A,
        parent: Option<&A>,
        on_epoch: &mut dyn FnMut(&EpochStats) -> Control,
    ) -> Result<Estimate>;

    /// Estimates several children (each with its parent, if any) — concurrently when the
    /// estimator has a device pool — each watched by `on_epoch`, which sees the child's
    /// learning curve so far after every epoch. Returns the estimates in the order given; no
    /// child starts once `stop` is set. The default estimates them one after the other with
    /// [`estimate_watched`](Self::estimate_watched).
    ///
    /// # Errors
    /// As [`Estimator::estimate_many`].
    fn estimate_many_watched(
        &mut self,
        children: &[(&A, Option<&A>)],
        on_epoch: &(dyn Fn(&[EpochStats]) -> Control + Sync),
        stop: &AtomicBool,
    ) -> Result<Vec<Estimate>> {
        children
            .iter()
            .map(|(arch, parent)| {
                check_stop(stop)?;
                let mut seen = Vec::new();
                self.estimate_watched(arch, *parent, &mut |e| {
                    seen.push(e.clone());
                    on_epoch(&seen)
                })
            })
            .collect()
    }
}

/// The accuracy curve `(epoch, accuracy)` of the first `n` epochs.
fn points(curve: &[f64], n: usize) -> Vec<(f64, f64)> {
    curve
        .iter()
        .take(n)
        .enumerate()
        .map(|(i, &a)| ((i + 1) as f64, a))
        .collect()
}

/// When [`CurveExtrapolation`] stops a run, given the incumbent (the best final validation
/// accuracy of the runs completed so far).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum StopCriterion {
    /// The single best fit of [`fit_curve`], extrapolated to the last epoch, plus the margin
    /// is below the incumbent.
    Margin(f64),
    /// The probability that the final accuracy beats the incumbent, under the
    /// [`CurveEnsemble`]'s predicted distribution, is below `δ` (Domhan et al.'s rule).
    Probability(f64),
}

/// Learning-curve extrapolation around any epoch-wise estimator: after `min_epochs` epochs
/// the validation curve is extrapolated to the planned last epoch after every epoch, and a run
/// that the [`StopCriterion`] gives up on against the incumbent — the best final accuracy of
/// the runs completed so far — is stopped. [`new`](Self::new) compares the single best fit
/// plus a margin; [`probabilistic`](Self::probabilistic) stops when `P(final > incumbent) < δ`
/// under a [`CurveEnsemble`]. A stopped run's reward uses the predicted final accuracy; its
/// training run ([`Metrics::training`](crate::Metrics::training)) records `stopped_early`,
/// `epochs_saved` and `predicted_accuracy`.
///
/// ```
/// use burn::tensor::Device;
/// use burn_nas_data::{Augmentation, fashion_mnist};
/// use burn_nas_estimator::{
///     CosineWarmRestarts, CurveExtrapolation, Estimator, Fidelity, NasRlChild, Task, TrainConfig,
///     TrainFromScratch,
/// };
/// use burn_nas_nn::NasRlNetConfig;
/// use burn_nas_space::{NasRlSpace, SearchSpace};
/// use rand::SeedableRng;
///
/// let (train, _) = fashion_mnist::load_embedded()?;
/// let train = train.subset(&(0..200).collect::<Vec<_>>())?;
/// let task = Task::split(train, 100, None)?.reduced(1.0, Some(10), 0)?;
/// let net = NasRlNetConfig::new(task.classes())
///     .with_in_channels(task.channels())
///     .with_image_size(task.image_size());
/// let training = TrainConfig {
///     epochs: 4,
///     batch_size: 50,
///     lr: CosineWarmRestarts::single(0.05, 0.005, 4),
///     augmentation: Augmentation::none(),
///     ..TrainConfig::default()
/// };
/// let inner =
///     TrainFromScratch::new(NasRlChild(net), &task, Fidelity::full(4), training, Device::flex())?;
/// // Fit each curve after 3 of its 4 epochs; stop a child whose predicted final accuracy is
/// // below the best so far.
/// let mut curve = CurveExtrapolation::new(inner, 3, 0.0);
/// let space = NasRlSpace::new(2)?;
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// for _ in 0..2 {
///     let estimate = curve.estimate(&space.sample(&mut rng)?)?;
///     assert!(estimate.reward.is_finite());
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct CurveExtrapolation<E> {
    inner: E,
    min_epochs: usize,
    criterion: StopCriterion,
    ensemble: CurveEnsemble,
    incumbent: Option<f64>,
    epochs_saved: usize,
}

impl<E> CurveExtrapolation<E> {
    /// Wraps `inner`; fits after `min_epochs` (at least 3) epochs; stops when the single best
    /// fit's prediction plus `margin` is below the incumbent.
    pub fn new(inner: E, min_epochs: usize, margin: f64) -> Self {
        CurveExtrapolation {
            inner,
            min_epochs: min_epochs.max(3),
            criterion: StopCriterion::Margin(margin),
            ensemble: CurveEnsemble::default(),
            incumbent: None,
            epochs_saved: 0,
        }
    }

    /// Wraps `inner`; predicts with a [`CurveEnsemble`] after `min_epochs` (at least 3)
    /// epochs; stops when `P(final > incumbent) < delta`.
    ///
    /// # Errors
    /// [`EstimatorError::InvalidSetting`](crate::EstimatorError::InvalidSetting) unless
    /// `0 < delta < 1`.
    pub fn probabilistic(inner: E, min_epochs: usize, delta: f64) -> Result<Self> {
        if !(delta > 0.0 && delta < 1.0) {
            return Err(invalid(
                "delta",
                format!("a stop probability must be in (0, 1), not {delta}"),
            ));
        }
        Ok(CurveExtrapolation {
            criterion: StopCriterion::Probability(delta),
            ..Self::new(inner, min_epochs, 0.0)
        })
    }

    /// The stop criterion.
    pub fn criterion(&self) -> StopCriterion {
        self.criterion
    }

    /// The best final validation accuracy of completed runs.
    pub fn incumbent(&self) -> Option<f64> {
        self.incumbent
    }

    /// Epochs saved by early stopping so far.
    pub fn epochs_saved(&self) -> usize {
        self.epochs_saved
    }

    /// The wrapped estimator.
    pub fn inner(&self) -> &E {
        &self.inner
    }
}

/// The early-stopping rule as it stands for a run (the incumbent frozen at its start).
#[derive(Debug, Clone, Copy)]
struct StopRule {
    min_epochs: usize,
    criterion: StopCriterion,
    ensemble: CurveEnsemble,
    incumbent: Option<f64>,
    total: usize,
}

impl StopRule {
    /// The predicted final accuracy from `curve` (all of it), by the criterion's predictor.
    fn predict(&self, curve: &[f64]) -> Option<f64> {
        match self.criterion {
            StopCriterion::Margin(_) => {
                fit_curve(&points(curve, curve.len())).map(|fit| fit.predict(self.total as f64))
            }
            StopCriterion::Probability(_) => {
                self.ensemble.predict(curve, self.total).map(|p| p.mean)
            }
        }
    }

    /// Whether a run with validation accuracies `curve` so far should stop.
    fn verdict(&self, curve: &[f64]) -> Control {
        let n = curve.len();
        let Some(incumbent) = self.incumbent else {
            return Control::Continue;
        };
        if n < self.min_epochs || n >= self.total {
            return Control::Continue;
        }
        let stop = match self.criterion {
            StopCriterion::Margin(margin) => self
                .predict(curve)
                .is_some_and(|prediction| prediction + margin < incumbent),
            StopCriterion::Probability(delta) => self
                .ensemble
                .predict(curve, self.total)
                .is_some_and(|p| p.prob_above(incumbent) < delta),
        };
        if stop {
            Control::Stop
        } else {
            Control::Continue
        }
    }

    /// The last prediction made while watching `curve`: from the longest prefix the watcher
    /// fitted (at least `min_epochs`, fewer than `total` epochs) that has a fit.
    fn last_prediction(&self, curve: &[f64]) -> Option<f64> {
        let longest = curve.len().min(self.total.saturating_sub(1));
        (self.min_epochs..=longest)
            .rev()
            .find_map(|n| self.predict(&curve[..n]))
    }
}

/// What early stopping did when replayed on recorded learning curves ([`replay_stopping`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoppingReplay {
    /// Curves replayed.
    pub runs: usize,
    /// Runs stopped early.
    pub stopped: usize,
    /// Stopped runs whose recorded final accuracy beat the incumbent they were stopped
    /// against: the stops that lost a better architecture.
    pub wrongly_stopped: usize,
    /// Epochs not trained because of the stops.
    pub epochs_saved: usize,
    /// Epochs all runs would train without stopping.
    pub epochs_total: usize,
    /// Whether the best final accuracy of all curves was among the runs that completed.
    pub kept_the_best: bool,
}

/// Replays [`CurveExtrapolation`]'s early stopping on recorded learning curves (validation
/// accuracy after every epoch of complete runs, in the order they would be trained): the
/// incumbent is the best final accuracy of the runs completed so far, and a run stops at the
/// first epoch from `min_epochs` on where `criterion` gives up on it. For choosing `δ` or a
/// margin on curves of one's own task without training anything again.
pub fn replay_stopping(
    curves: &[Vec<f64>],
    min_epochs: usize,
    criterion: StopCriterion,
    ensemble: CurveEnsemble,
) -> StoppingReplay {
    let mut replay = StoppingReplay {
        runs: curves.len(),
        ..StoppingReplay::default()
    };
    let mut incumbent: Option<f64> = None;
    let best = curves
        .iter()
        .filter_map(|c| c.last().copied())
        .fold(f64::NEG_INFINITY, f64::max);
    for curve in curves {
        let total = curve.len();
        replay.epochs_total += total;
        let rule = StopRule {
            min_epochs: min_epochs.max(3),
            criterion,
            ensemble,
            incumbent,
            total,
        };
        let stop = (rule.min_epochs..total).find(|&n| rule.verdict(&curve[..n]) == Control::Stop);
        let last = curve.last().copied().unwrap_or(0.0);
        match stop {
            Some(n) => {
                replay.stopped += 1;
                replay.epochs_saved += total - n;
                if incumbent.is_some_and(|i| last > i) {
                    replay.wrongly_stopped += 1;
                }
            }
            None => {
                incumbent = Some(incumbent.map_or(last, |i| i.max(last)));
                if last >= best {
                    replay.kept_the_best = true;
                }
            }
        }
    }
    replay
}

impl<E> CurveExtrapolation<E> {
    fn rule(&self, total: usize) -> StopRule {
        StopRule {
            min_epochs: self.min_epochs,
            criterion: self.criterion,
            ensemble: self.ensemble,
            incumbent: self.incumbent,
            total,
        }
    }

    /// Records a finished estimate: its prediction, the reward of a stopped run, the epochs
    /// saved, the incumbent. Called in proposal order.
    fn settle(
        &mut self,
        mut estimate: Estimate,
        rule: StopRule,
        objective: &Objective,
    ) -> Estimate {
        // The inner estimator trains, so its estimates have a training run; one without
        // (nothing to extrapolate, nothing stopped) counts as a completed run.
        let stopped = match estimate.metrics.training.as_mut() {
            Some(training) => {
                training.predicted_accuracy = rule.last_prediction(&training.curve);
                training.stopped_early.then(|| {
                    training.epochs_saved = rule.total.saturating_sub(training.epochs);
                    (training.epochs_saved, training.predicted_accuracy)
                })
            }
            None => None,
        };
        if let Some((saved, prediction)) = stopped {
            self.epochs_saved += saved;
            if let Some(p) = prediction {
                // The predicted final epoch ends the curve too, so that rewards read off the
                // curve (NAS-RL's best of the last 5, cubed) see the prediction as well.
                let mut predicted = estimate.metrics.clone();
                predicted.valid_accuracy = p;
                if let Some(t) = predicted.training.as_mut() {
                    t.curve.push(p);
                }
                estimate.reward = objective.of(&predicted);
            }
        } else {
            let acc = estimate.metrics.valid_accuracy;
            self.incumbent = Some(self.incumbent.map_or(acc, |i| i.max(acc)));
        }
        estimate
    }
}

/// One child at a time, the incumbent updated after each. With a pooled inner estimator
/// ([`Estimator::parallelism`] > 1), [`estimate_many`](Estimator::estimate_many) splits the
/// children it is given into groups of the pool's size, trains each group concurrently against
/// the incumbent as it stood before the group, then updates the incumbent from the group's
/// results in proposal order — so a run's estimates depend on the pool size (the grouping),
/// never on thread timing. (This is the one estimator whose estimates depend on what ran
/// beside them, so the grouping lives here rather than in the search, which hands every
/// estimator a whole update at once.)
impl<A, E: EpochwiseEstimator<A>> Estimator<A> for CurveExtrapolation<E> {
    fn estimate(&mut self, arch: &A) -> Result<Estimate> {
        self.estimate_child(arch, None)
    }

    fn estimate_child(&mut self, arch: &A, parent: Option<&A>) -> Result<Estimate> {
        let rule = self.rule(self.inner.planned_epochs());
        let mut curve = Vec::with_capacity(rule.total);
        let estimate = self.inner.estimate_watched(arch, parent, &mut |e| {
            curve.push(e.valid.accuracy);
            rule.verdict(&curve)
        })?;
        let objective = self.inner.objective().clone();
        Ok(self.settle(estimate, rule, &objective))
    }

    fn estimate_many(
        &mut self,
        children: &[(&A, Option<&A>)],
        stop: &AtomicBool,
    ) -> Result<Vec<Estimate>> {
        let group = self.inner.parallelism().max(1);
        let mut out = Vec::with_capacity(children.len());
        if group == 1 {
            for (arch, parent) in children {
                check_stop(stop)?;
                out.push(self.estimate_child(arch, *parent)?);
            }
            return Ok(out);
        }
        let objective = self.inner.objective().clone();
        for chunk in children.chunks(group) {
            let rule = self.rule(self.inner.planned_epochs());
            let watch = move |seen: &[EpochStats]| {
                let curve: Vec<f64> = seen.iter().map(|e| e.valid.accuracy).collect();
                rule.verdict(&curve)
            };
            let estimates = self.inner.estimate_many_watched(chunk, &watch, stop)?;
            out.extend(
                estimates
                    .into_iter()
                    .map(|e| self.settle(e, rule, &objective)),
            );
        }
        Ok(out)
    }

    /// The inner estimator's.
    fn parallelism(&self) -> usize {
        self.inner.parallelism()
    }

    fn name(&self) -> &'static str {
        "curve-extrapolation"
    }

    fn save_state(&self) -> Result<EstimatorState> {
        let mut state = self.inner.save_state()?;
        state.json = serde_json::json!({
            "incumbent": self.incumbent,
            "epochs_saved": self.epochs_saved,
            "inner": state.json,
        });
        Ok(state)
    }

    fn load_state(&mut self, state: &EstimatorState) -> Result<()> {
        #[derive(serde::Deserialize)]
        struct Saved {
            incumbent: Option<f64>,
            epochs_saved: usize,
            inner: serde_json::Value,
        }
        let saved: Saved = state.parse("curve-extrapolation state")?;
        self.inner.load_state(&EstimatorState {
            json: saved.inner,
            blobs: state.blobs.clone(),
        })?;
        self.incumbent = saved.incumbent;
        self.epochs_saved = saved.epochs_saved;
        Ok(())
    }

    fn set_batch_observer(&mut self, observer: Option<Arc<dyn BatchObserver>>) {
        self.inner.set_batch_observer(observer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::{Metrics, TrainingRun};
    use crate::reward::Reward;

    /// A run stopped after 4 of 20 epochs on a rising curve: its reward must come from the
    /// predicted final accuracy whichever reward reads the metrics.
    #[test]
    fn a_stopped_runs_reward_uses_the_prediction_under_every_reward() {
        let curve = vec![0.30, 0.40, 0.45, 0.48];
        let rule = StopRule {
            min_epochs: 3,
            criterion: StopCriterion::Margin(0.0),
            ensemble: CurveEnsemble::default(),
            incumbent: Some(0.9),
            total: 20,
        };
        let predicted = rule.last_prediction(&curve).expect("the curve fits");
        assert!(predicted > 0.48, "prediction {predicted}");
        let stopped = Estimate {
            reward: 0.48,
            metrics: Metrics {
                valid_accuracy: 0.48,
                training: Some(TrainingRun {
                    curve: curve.clone(),
                    epochs: 4,
                    stopped_early: true,
                    ..TrainingRun::default()
                }),
                ..Metrics::default()
            },
        };
        for (reward, expected) in [
            (Reward::ValidAccuracy, predicted),
            (Reward::MaxLast5Cubed, predicted.powi(3)),
        ] {
            let objective = Objective {
                reward,
                penalty: None,
            };
            let mut curve_estimator = CurveExtrapolation::new((), 3, 0.0);
            let settled = curve_estimator.settle(stopped.clone(), rule, &objective);
            assert!(
                (settled.reward - expected).abs() < 1e-12,
                "{}",
                settled.reward
            );
            let training = settled.metrics.training.expect("a training run");
            assert_eq!(training.epochs_saved, 16);
            // The reported metrics stay what was measured.
            assert_eq!(training.curve, curve);
        }
    }

    /// Replayed on a good curve, a hopeless one and a better one: only the hopeless one stops,
    /// under either criterion, and its saved epochs are counted.
    #[test]
    fn replayed_stopping_stops_only_the_hopeless_run() {
        let rise = |a: f64, b: f64, c: f64| -> Vec<f64> {
            (1..=10)
                .map(|t| a - b * (-c * f64::from(t)).exp())
                .collect()
        };
        let curves = vec![
            rise(0.8, 0.5, 0.4),
            rise(0.3, 0.2, 0.5),
            rise(0.9, 0.6, 0.3),
        ];
        for criterion in [StopCriterion::Margin(0.0), StopCriterion::Probability(0.05)] {
            let replay = replay_stopping(&curves, 3, criterion, CurveEnsemble::default());
            assert_eq!(replay.runs, 3);
            assert_eq!(replay.stopped, 1, "{criterion:?}: {replay:?}");
            assert_eq!(replay.wrongly_stopped, 0);
            assert_eq!(
                replay.epochs_saved, 7,
                "{criterion:?}: stopped after 3 epochs"
            );
            assert_eq!(replay.epochs_total, 30);
            assert!(replay.kept_the_best);
        }
    }

    #[test]
    fn a_stop_probability_outside_0_1_is_refused() {
        for delta in [0.0, 1.0, -0.5, f64::NAN] {
            let err = CurveExtrapolation::probabilistic((), 3, delta)
                .err()
                .unwrap();
            assert!(err.to_string().contains("delta"), "{err}");
        }
        assert!(CurveExtrapolation::probabilistic((), 3, 0.05).is_ok());
    }
}
