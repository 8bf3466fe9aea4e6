//! [`SearchConfig`]: how many proposals per update and updates per round, when to stop, and
//! how the final answer is chosen.

use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};

/// When a search stops: the first budget reached ends it (`None`: no limit of that kind; at
/// least one must be set). Budgets are checked between rounds, so a round always completes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    /// Rounds (ENAS: epochs of the shared weights).
    pub rounds: Option<usize>,
    /// Evaluated architectures.
    pub evaluations: Option<usize>,
    /// Wall time in seconds, summed over resumed sessions.
    pub seconds: Option<f64>,
}

impl Budget {
    /// A budget of `rounds` rounds.
    pub fn rounds(rounds: usize) -> Self {
        Budget {
            rounds: Some(rounds),
            ..Budget::default()
        }
    }
}

fn one() -> usize {
    1
}

/// How the final architecture is chosen once the search ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Derive {
    /// ENAS: ask the strategy for `candidates` architectures (REINFORCE samples its trained
    /// policy), score each with the estimator `scores` times (averaged), keep the best.
    Sample {
        /// How many candidates are scored.
        candidates: usize,
        /// Estimates averaged per candidate. With [`SharedWeights`], which scores one
        /// validation minibatch per estimate and moves on, `validation images / minibatch`
        /// estimates score every candidate on the same whole validation split instead of one
        /// minibatch each: a pick among candidates whose single-minibatch scores differ by less
        /// than their noise is a coin toss.
        ///
        /// [`SharedWeights`]: burn_nas_estimator::SharedWeights
        #[serde(default = "one")]
        scores: usize,
    },
    /// Multi-trial searches: the best architecture evaluated during the search.
    BestEvaluated,
    /// Strategies without a policy to sample (evolution, random search) under a noisy
    /// estimator: the `candidates` best distinct architectures of the search are scored again
    /// (by the selector given to [`Search::derive_with`](crate::Search::derive_with), or by
    /// the search's estimator `scores` times, averaged) and the best new score wins. A search
    /// whose rewards are single-minibatch estimates otherwise answers with its luckiest draw.
    Rescore {
        /// How many of the best evaluated architectures are scored again.
        candidates: usize,
        /// Estimates averaged per candidate when the search's own estimator scores them (see
        /// [`Derive::Sample::scores`](Derive::Sample)).
        #[serde(default = "one")]
        scores: usize,
    },
}

/// Settings of a [`Search`](crate::Search).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchConfig {
    /// Architectures proposed, estimated and fed back per strategy update (REINFORCE's m).
    pub proposals_per_update: usize,
    /// Strategy updates per round; the estimator prepares once per round (ENAS: one epoch of
    /// shared weights, then this many controller updates).
    pub updates_per_round: usize,
    /// When to stop.
    pub budget: Budget,
    /// How the final architecture is chosen.
    pub derive: Derive,
    /// No progress bars.
    pub quiet: bool,
}

impl SearchConfig {
    /// ENAS's alternation for the micro space: per round one shared-weights epoch, then 30
    /// controller updates of 10 sampled architectures each; derive by scoring 10 samples.
    pub fn enas_micro(rounds: usize) -> Self {
        SearchConfig {
            proposals_per_update: 10,
            updates_per_round: 30,
            budget: Budget::rounds(rounds),
            derive: Derive::Sample {
                candidates: 10,
                scores: 1,
            },
            quiet: false,
        }
    }

    /// ENAS's alternation for the macro space: 50 controller updates of 20 per round.
    pub fn enas_macro(rounds: usize) -> Self {
        SearchConfig {
            proposals_per_update: 20,
            updates_per_round: 50,
            ..SearchConfig::enas_micro(rounds)
        }
    }

    /// A multi-trial search (NAS-RL, random search, evolution): one update of `per_round`
    /// trained children per round; the best evaluated architecture is the answer.
    pub fn multi_trial(rounds: usize, per_round: usize) -> Self {
        SearchConfig {
            proposals_per_update: per_round,
            updates_per_round: 1,
            budget: Budget::rounds(rounds),
            derive: Derive::BestEvaluated,
            quiet: false,
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`SearchError::InvalidSetting`](crate::SearchError::InvalidSetting) naming the first
    /// impossible setting.
    pub fn validate(&self) -> Result<()> {
        if self.proposals_per_update == 0 {
            return Err(invalid("proposals_per_update", "must be at least 1"));
        }
        if self.updates_per_round == 0 {
            return Err(invalid("updates_per_round", "must be at least 1"));
        }
        let b = &self.budget;
        if b.rounds.is_none() && b.evaluations.is_none() && b.seconds.is_none() {
            return Err(invalid(
                "budget",
                "set at least one of rounds, evaluations or seconds",
            ));
        }
        if b.seconds.is_some_and(|s| !(s > 0.0 && s.is_finite())) {
            return Err(invalid("budget.seconds", "must be a positive number"));
        }
        if let Derive::Sample { candidates, scores } | Derive::Rescore { candidates, scores } =
            self.derive
        {
            if candidates == 0 {
                return Err(invalid("derive.candidates", "must be at least 1"));
            }
            if scores == 0 {
                return Err(invalid("derive.scores", "must be at least 1"));
            }
        }
        Ok(())
    }
}
