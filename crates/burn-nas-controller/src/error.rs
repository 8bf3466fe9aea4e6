//! The error type of search strategies.

use burn_nas_space::ArchError;
use thiserror::Error;

/// Why a strategy could not propose, learn, or restore its state.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StrategyError {
    /// A proposal's architecture or tokens do not fit the space.
    #[error(transparent)]
    Arch(#[from] ArchError),
    /// A setting is impossible (population smaller than sample size, zero hidden units, …).
    #[error("invalid strategy setting `{field}`: {reason}")]
    InvalidSetting {
        /// The setting's name.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A saved state could not be read back (wrong strategy, wrong space, damaged).
    #[error("cannot restore {strategy} state: {reason}")]
    State {
        /// The strategy whose state was read.
        strategy: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A reward is not a finite number.
    #[error("reward {reward} of proposal {index} is not finite")]
    BadReward {
        /// Position of the result in the observed batch.
        index: usize,
        /// The reward.
        reward: f64,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = StrategyError> = std::result::Result<T, E>;

pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> StrategyError {
    StrategyError::InvalidSetting {
        field,
        reason: reason.into(),
    }
}

pub(crate) fn state(strategy: &'static str, reason: impl std::fmt::Display) -> StrategyError {
    StrategyError::State {
        strategy,
        reason: reason.to_string(),
    }
}

/// Checks that every reward is finite.
pub(crate) fn check_rewards(rewards: impl IntoIterator<Item = f64>) -> Result<()> {
    for (index, reward) in rewards.into_iter().enumerate() {
        if !reward.is_finite() {
            return Err(StrategyError::BadReward { index, reward });
        }
    }
    Ok(())
}
