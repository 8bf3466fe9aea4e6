//! The search loop of [burn-nas](https://crates.io/crates/burn-nas): a search space × a search
//! strategy × a performance estimator, run in rounds under a budget.
//!
//! ```text
//! Search::new(&space, strategy, estimator, config)?   // any strategy × estimator × space
//!     .with_run_dir(RunDir::create("runs/enas", IfExists::Refuse)?)
//!     .run()?;                                        // rounds until the budget is spent
//! search.derive()?;                                   // the final architecture
//! ```
//!
//! Each round the estimator prepares (ENAS: one epoch of shared weights on architectures the
//! strategy samples), then the strategy proposes, the estimator scores, the strategy learns.
//! A [`RunDir`] receives `best_arch.json` / `.dot`, `history.jsonl` / `.csv`, `reward.png`,
//! `summary.json`, retrained weights, and a checkpoint after every round from which
//! [`Search::resume`] continues exactly.
//!
//! [`MultiFidelitySearch`] schedules candidates over budgets instead (successive halving,
//! Hyperband): any strategy proposes, an estimator per [`Fidelity`](burn_nas_estimator::Fidelity)
//! scores.
//!
//! To judge a search: [`rank_estimator`] measures how well a cheap estimator ranks
//! architectures against a reference (Kendall's τ, Spearman's ρ, a scatter plot), and
//! [`compare_with_random`] places a found architecture among random ones of its space.

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod checkpoint;
mod compare;
mod config;
mod error;
mod history;
mod multi_fidelity;
mod plot;
mod progress;
mod run_dir;
mod search;
mod summary;

pub use checkpoint::{CHECKPOINT_VERSION, has_checkpoint};
pub use compare::{
    RandomComparison, RankPoint, RankReport, compare_with_random, compare_with_random_repeated,
    estimate_all, kendall_tau, pearson_r, pooled_sd, rank_estimator, spearman_rho,
};
pub use config::{Budget, Derive, SearchConfig};
pub use error::{Result, SearchError};
pub use history::{Evaluation, Phase, csv_line, to_csv, to_jsonl};
pub use multi_fidelity::{
    Bracket, BudgetAxis, EstimatorFactory, HalvingConfig, MULTI_FIDELITY_FILE,
    MultiFidelityOutcome, MultiFidelitySearch, OUTCOME_FILE, Rung, RungEvaluation, Schedule,
};
pub use plot::reward_png;
pub use run_dir::{IfExists, RunDir};
pub use search::{Derived, Outcome, Search};
pub use summary::{Status, Summary};
