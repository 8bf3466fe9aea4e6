//! Learning-rate schedules.

use serde::{Deserialize, Serialize};

/// Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter), ENAS's schedule: the rate
/// falls from `max` to `min` over a period of `t0` epochs, the next period is `t_mul` times
/// longer, and so on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CosineWarmRestarts {
    /// Rate at the start of each period.
    pub max: f64,
    /// Rate at the end of each period.
    pub min: f64,
    /// Length of the first period, in epochs.
    pub t0: f64,
    /// Growth factor of the period length.
    pub t_mul: f64,
}

impl CosineWarmRestarts {
    /// ENAS's search setting: 0.05 → 5e-4, T0 = 10, Tmul = 2.
    pub fn enas() -> Self {
        CosineWarmRestarts {
            max: 0.05,
            min: 5e-4,
            t0: 10.0,
            t_mul: 2.0,
        }
    }

    /// A single cosine decay from `max` to `min` over `epochs` epochs (no restart).
    pub fn single(max: f64, min: f64, epochs: usize) -> Self {
        CosineWarmRestarts {
            max,
            min,
            t0: epochs.max(1) as f64,
            t_mul: 1.0,
        }
    }

    /// The rate at (fractional) epoch `epoch ≥ 0`.
    pub fn at(&self, epoch: f64) -> f64 {
        let mut t = epoch.max(0.0);
        let mut period = self.t0.max(f64::MIN_POSITIVE);
        // Walk the periods; bounded because periods never shrink below t0 when t_mul ≥ 1.
        for _ in 0..10_000 {
            if t < period {
                break;
            }
            t -= period;
            period *= self.t_mul.max(1.0);
        }
        let cos = (std::f64::consts::PI * (t / period).min(1.0)).cos();
        self.min + 0.5 * (self.max - self.min) * (1.0 + cos)
    }
}
