//! `summary.json`: what a run was, where it got to, and what it found.

use burn_nas_estimator::RetrainReport;
use serde::{Deserialize, Serialize};

use crate::config::SearchConfig;

/// Where a search stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Rounds are still being run (the summary is rewritten after every round).
    Running,
    /// Stopped on request (Ctrl-C) after the last checkpointed round; resumable.
    Interrupted,
    /// The budget was reached and the final architecture derived.
    Finished,
}

/// The contents of `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Where the search stands.
    pub status: Status,
    /// The search space's name.
    pub space: String,
    /// Size of the space (decimal logarithm of the number of token sequences).
    pub space_size_log10: f64,
    /// The strategy's name.
    pub strategy: String,
    /// The estimator's name.
    pub estimator: String,
    /// The search's settings.
    pub config: SearchConfig,
    /// Rounds completed.
    pub rounds: usize,
    /// Architectures evaluated during the search (derivation excluded).
    pub evaluations: usize,
    /// Wall time of the search in seconds (summed over resumed sessions).
    pub seconds: f64,
    /// Child-training epochs the search's estimates ran (0 for estimators that train no
    /// children, such as shared weights).
    #[serde(default)]
    pub epochs_trained: usize,
    /// Child-training epochs early stopping saved (learning-curve extrapolation): the compute
    /// the speed-up did not spend.
    #[serde(default)]
    pub epochs_saved: usize,
    /// Full-fidelity child epochs the search's estimates spent (`Compute::spent` summed:
    /// low fidelity, early stopping and weight sharing all count in this one unit).
    #[serde(default)]
    pub compute_spent: f64,
    /// Full-fidelity child epochs the speed-ups saved (`Compute::saved` summed).
    #[serde(default)]
    pub compute_saved: f64,
    /// Highest reward seen during the search.
    pub best_search_reward: Option<f64>,
    /// Mean reward of the last strategy update.
    pub last_mean_reward: Option<f64>,
    /// The derived architecture (versioned JSON), once derived.
    pub best_arch: Option<serde_json::Value>,
    /// Its reward when derived.
    pub best_reward: Option<f64>,
    /// Retraining results, when the architecture was retrained.
    pub retrain: Option<RetrainReport>,
    /// How the derived architecture ranked against random ones retrained the same way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare_random: Option<crate::RandomComparison>,
    /// Anything the caller wants recorded (dataset, device, command line…).
    pub extra: serde_json::Value,
}
