//! [`CurveExtrapolation`]: train a few epochs, fit the learning curve, stop runs predicted to
//! end below the incumbent (Domhan et al. 2015, in its simplest robust form).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::Result;
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
}

/// Learning-curve extrapolation around any epoch-wise estimator: after `min_epochs` epochs the
/// validation curve is fitted ([`fit_curve`]) and extrapolated to the planned last epoch; a
/// run whose prediction (plus `margin`) is below the incumbent — the best final accuracy of
/// the runs completed so far — is stopped. A stopped run's reward uses the predicted final
/// accuracy; its metrics record `stopped_early`, `epochs_saved` and `predicted_accuracy`.
#[derive(Debug)]
pub struct CurveExtrapolation<E> {
    inner: E,
    min_epochs: usize,
    margin: f64,
    incumbent: Option<f64>,
    epochs_saved: usize,
}

impl<E> CurveExtrapolation<E> {
    /// Wraps `inner`; fits after `min_epochs` (at least 3) epochs; stops when the prediction plus
    /// `margin` is below the incumbent.
    pub fn new(inner: E, min_epochs: usize, margin: f64) -> Self {
        CurveExtrapolation {
            inner,
            min_epochs: min_epochs.max(3),
            margin,
            incumbent: None,
            epochs_saved: 0,
        }
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

impl<A, E: EpochwiseEstimator<A>> Estimator<A> for CurveExtrapolation<E> {
    fn estimate(&mut self, arch: &A) -> Result<Estimate> {
        self.estimate_child(arch, None)
    }

    fn estimate_child(&mut self, arch: &A, parent: Option<&A>) -> Result<Estimate> {
        let total = self.inner.planned_epochs();
        let (min_epochs, margin, incumbent) = (self.min_epochs, self.margin, self.incumbent);
        let mut points = Vec::with_capacity(total);
        let mut prediction = None;
        let mut estimate = self.inner.estimate_watched(arch, parent, &mut |e| {
            points.push((e.epoch as f64, e.valid.accuracy));
            if points.len() >= min_epochs
                && points.len() < total
                && let Some(fit) = fit_curve(&points)
            {
                let p = fit.predict(total as f64);
                prediction = Some(p);
                if incumbent.is_some_and(|inc| p + margin < inc) {
                    return Control::Stop;
                }
            }
            Control::Continue
        })?;
        estimate.metrics.predicted_accuracy = prediction;
        if estimate.metrics.stopped_early {
            let saved = total.saturating_sub(estimate.metrics.epochs);
            estimate.metrics.epochs_saved = saved;
            self.epochs_saved += saved;
            if let Some(p) = prediction {
                let mut predicted = estimate.metrics.clone();
                predicted.valid_accuracy = p;
                estimate.reward = self.inner.objective().of(&predicted);
            }
        } else {
            let acc = estimate.metrics.valid_accuracy;
            self.incumbent = Some(self.incumbent.map_or(acc, |i| i.max(acc)));
        }
        Ok(estimate)
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
