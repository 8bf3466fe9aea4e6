//! Reward functions: how metrics become the number a strategy maximises.

use std::fmt;
use std::sync::Arc;

use crate::estimate::Metrics;

/// How a reward is computed from [`Metrics`].
#[derive(Clone, Default)]
pub enum Reward {
    /// Validation accuracy (default).
    #[default]
    ValidAccuracy,
    /// NAS-RL's reward: the maximum validation accuracy over the last 5 epochs, cubed.
    MaxLast5Cubed,
    /// Any function of the metrics.
    Custom(Arc<dyn Fn(&Metrics) -> f64 + Send + Sync>),
}

impl fmt::Debug for Reward {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reward::ValidAccuracy => f.write_str("ValidAccuracy"),
            Reward::MaxLast5Cubed => f.write_str("MaxLast5Cubed"),
            Reward::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

impl Reward {
    /// The reward of `metrics`.
    pub fn of(&self, metrics: &Metrics) -> f64 {
        match self {
            Reward::ValidAccuracy => metrics.valid_accuracy,
            Reward::MaxLast5Cubed => {
                let curve = metrics.curve();
                let tail = &curve[curve.len().saturating_sub(5)..];
                let best = tail.iter().copied().fold(f64::NAN, f64::max);
                let best = if best.is_nan() {
                    metrics.valid_accuracy
                } else {
                    best
                };
                best.powi(3)
            }
            Reward::Custom(f) => f(metrics),
        }
    }
}

/// A soft size constraint (MnasNet-style): the reward is multiplied by
/// `(value / target)^exponent` for each measure above its target, so larger-than-wanted
/// networks are penalised smoothly. `exponent < 0`; MnasNet uses −0.07.
#[derive(Debug, Clone, PartialEq)]
pub struct SizePenalty {
    /// Parameter budget.
    pub max_params: Option<usize>,
    /// Multiply-accumulate budget per image.
    pub max_macs: Option<u64>,
    /// Penalty exponent (negative).
    pub exponent: f64,
}

impl SizePenalty {
    /// The factor (≤ 1) applied to the reward of a network with these metrics.
    pub fn factor(&self, metrics: &Metrics) -> f64 {
        let mut factor = 1.0;
        if let (Some(max), Some(p)) = (self.max_params, metrics.params)
            && p > max
            && max > 0
        {
            factor *= (p as f64 / max as f64).powf(self.exponent);
        }
        if let (Some(max), Some(m)) = (self.max_macs, metrics.macs)
            && m > max
            && max > 0
        {
            factor *= (m as f64 / max as f64).powf(self.exponent);
        }
        factor
    }
}

/// A reward with an optional size penalty.
#[derive(Debug, Clone, Default)]
pub struct Objective {
    /// The base reward.
    pub reward: Reward,
    /// The size penalty, if any.
    pub penalty: Option<SizePenalty>,
}

impl Objective {
    /// The final reward of `metrics`.
    pub fn of(&self, metrics: &Metrics) -> f64 {
        let base = self.reward.of(metrics);
        match &self.penalty {
            Some(p) => base * p.factor(metrics),
            None => base,
        }
    }
}
