//! [`Mode`]: how a forward pass treats batch norm, dropout and drop path.

/// How one forward pass behaves: which batch-norm statistics it uses and whether the
/// stochastic regularisers (dropout, drop path) are active.
///
/// Kept separate from the device's autodiff flag on purpose: ENAS scores architectures with
/// batch statistics but without gradients ([`Mode::SCORE`]), which neither burn's "autodiff
/// means training" rule nor plain evaluation expresses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mode {
    /// Batch norm normalises with the statistics of the current batch (else the running ones).
    pub batch_stats: bool,
    /// Batch norm folds the batch statistics into its running averages.
    pub update_stats: bool,
    /// Dropout and drop path are active.
    pub stochastic: bool,
    /// Training progress in `[0, 1]`; drop path's drop rate grows linearly with it (ENAS).
    pub progress: f64,
}

impl Mode {
    /// Training: batch statistics (and their running averages), dropout and drop path on.
    pub const TRAIN: Mode = Mode {
        batch_stats: true,
        update_stats: true,
        stochastic: true,
        progress: 1.0,
    };

    /// Evaluation: running statistics, no dropout, no drop path.
    pub const EVAL: Mode = Mode {
        batch_stats: false,
        update_stats: false,
        stochastic: false,
        progress: 1.0,
    };

    /// ENAS's reward pass: batch statistics, running averages untouched, deterministic.
    pub const SCORE: Mode = Mode {
        batch_stats: true,
        update_stats: false,
        stochastic: false,
        progress: 1.0,
    };

    /// Training at `progress` ∈ [0, 1] of the run (clamped).
    pub fn train(progress: f64) -> Mode {
        Mode {
            progress: progress.clamp(0.0, 1.0),
            ..Mode::TRAIN
        }
    }
}
