//! The error type of the search loop.

use std::path::PathBuf;

use burn_nas_controller::StrategyError;
use burn_nas_estimator::EstimatorError;
use burn_nas_space::ArchError;
use thiserror::Error;

/// Why a search could not start, go on, save or resume.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SearchError {
    /// The search strategy failed.
    #[error(transparent)]
    Strategy(#[from] StrategyError),
    /// The performance estimator failed.
    #[error(transparent)]
    Estimator(#[from] EstimatorError),
    /// An architecture could not be written or read.
    #[error(transparent)]
    Arch(#[from] ArchError),
    /// A file of the run directory could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The run directory already holds a run, and overwriting was not asked for.
    #[error("{0} already holds a run; resume it, choose another directory, or ask to overwrite it")]
    RunExists(PathBuf),
    /// Overwriting was asked for a non-empty directory that does not hold a run.
    #[error("{0} is not empty and holds no burn-nas run; refusing to delete it")]
    NotARun(PathBuf),
    /// The checkpoint of a run is missing, damaged, or belongs to another kind of search.
    #[error("checkpoint in {path}: {reason}")]
    Checkpoint {
        /// The run directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A setting is impossible.
    #[error("invalid setting `{field}`: {reason}")]
    InvalidSetting {
        /// The setting.
        field: &'static str,
        /// Why it is rejected.
        reason: String,
    },
    /// The reward plot could not be drawn.
    #[error("drawing {path}: {reason}")]
    Plot {
        /// The image file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The search has nothing to derive from (no evaluation yet).
    #[error("nothing to derive: {0}")]
    NothingToDerive(String),
    /// A comparison (an estimator's ranking, a found architecture against random ones) cannot
    /// be made from what it was given, e.g. a score that is not a number.
    #[error("cannot compare: {0}")]
    Compare(String),
    /// An estimator returned another number of estimates than it was given architectures
    /// (an [`Estimator::estimate_many`](burn_nas_estimator::Estimator::estimate_many) that breaks
    /// its contract).
    #[error("estimator `{estimator}` returned {found} estimates for {expected} architectures")]
    EstimateCount {
        /// The estimator's name.
        estimator: String,
        /// Architectures it was given.
        expected: usize,
        /// Estimates it returned.
        found: usize,
    },
    /// A chart that is returned as bytes rather than written to a file could not be drawn.
    #[error("drawing the {chart}: {reason}")]
    Chart {
        /// Which chart.
        chart: &'static str,
        /// What failed.
        reason: String,
    },
}

/// `Result` with [`SearchError`].
pub type Result<T, E = SearchError> = std::result::Result<T, E>;

pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> SearchError {
    let path = path.into();
    move |source| SearchError::Io { path, source }
}

pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> SearchError {
    SearchError::InvalidSetting {
        field,
        reason: reason.into(),
    }
}
