//! Multi-fidelity scheduling: successive halving (Jamieson & Talwalkar 2016) and Hyperband
//! (Li et al. 2018) over a [`Fidelity`] axis — epochs, data fraction or image size.
//!
//! A bracket starts many candidates at a small budget, keeps the best `1/η` of them, and
//! re-estimates the survivors at `η` times the budget, until the last few reach the full
//! budget. Hyperband runs several brackets that trade the number of candidates against their
//! starting budget, so it does not have to guess how early a ranking can be trusted.
//!
//! Candidates come from any [`SearchStrategy`] (random search is the classic pairing), and
//! each budget gets its own [`Estimator`] built by the caller for that budget's [`Fidelity`]
//! (so its learning-rate schedule and data can follow the budget). Survivors are estimated
//! afresh at each rung (a child trained for 9 epochs is trained from scratch, not continued
//! from its 3-epoch run), as in the papers' restart variant.
//!
//! The strategy learns once per bracket from the bracket's first rung, where every candidate
//! was estimated at the same budget, so the rewards of one update are comparable. Hyperband's
//! brackets start at different budgets, so across brackets a strategy's memory (REINFORCE's
//! baseline, evolution's population) still mixes budgets; random search, the classic pairing,
//! has none. The incumbent is the best candidate at the full budget.
//!
//! With a [`RunDir`], the schedule's progress, the strategy's state, every estimator's state and
//! the history are written atomically after every rung to `multi_fidelity.json`;
//! [`MultiFidelitySearch::resume`] continues from there exactly. [`MultiFidelitySearch::run`]
//! writes the finished search's [`MultiFidelityOutcome`] — the best architecture and the budget
//! spent and saved — to `multi_fidelity_outcome.json`.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use burn_nas_controller::{Proposal, SearchStrategy, StrategyError};
use burn_nas_estimator::{Estimate, Estimator, EstimatorState, Fidelity, Metrics};
use burn_nas_space::Architecture;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::compare::estimate_children;
use crate::error::{Result, SearchError, invalid};
use crate::run_dir::RunDir;

/// The file of a [`RunDir`] that holds a multi-fidelity search's checkpoint.
pub const MULTI_FIDELITY_FILE: &str = "multi_fidelity.json";

/// The file of a [`RunDir`] where a finished multi-fidelity search writes its
/// [`MultiFidelityOutcome`] (best architecture, budget spent and saved).
pub const OUTCOME_FILE: &str = "multi_fidelity_outcome.json";

/// Largest `max_budget`, first-rung `candidates` and Hyperband `iterations` accepted: far
/// beyond any real search, and small enough that every bracket's arithmetic fits in `usize`.
pub const MAX_SCHEDULE_SETTING: usize = 1 << 20;

/// Version of [`MULTI_FIDELITY_FILE`]'s layout.
const FORMAT_VERSION: u32 = 1;

/// Which setting of a [`Fidelity`] a budget scales.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetAxis {
    /// The budget is the number of epochs.
    Epochs,
    /// The budget is a share of the full fidelity's training data: `budget / max_budget`.
    DataFraction,
    /// The budget is a share of the full fidelity's pixels: the image side is scaled by
    /// `√(budget / max_budget)` (at least 8).
    ImageSize,
}

/// How candidates are scheduled over budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// One bracket: `candidates` start at the smallest budget.
    SuccessiveHalving {
        /// Candidates of the first rung.
        candidates: usize,
    },
    /// Every bracket of Hyperband (Li et al. 2018, Algorithm 1), `iterations` times over.
    Hyperband {
        /// Times the whole set of brackets is run.
        iterations: usize,
    },
}

/// Settings of a [`MultiFidelitySearch`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HalvingConfig {
    /// Keep the best `1/eta` of each rung; the next rung's budget is `eta` times larger
    /// (at least 2; the papers use 3).
    pub eta: usize,
    /// The floor of the budgets (at least 1). Rung budgets are `max_budget / ηᵏ`, rounded, so
    /// the smallest one used is `max_budget / η^s_max` (= `min_budget` when `max_budget` is
    /// `min_budget · ηᵏ`), where `s_max` is the largest `s` with `min_budget · ηˢ ≤ max_budget`.
    pub min_budget: usize,
    /// The full budget (the incumbent is chosen among candidates estimated at it).
    pub max_budget: usize,
    /// Which setting of the fidelity the budget scales.
    pub axis: BudgetAxis,
    /// The fidelity at the full budget. On the [`BudgetAxis::Epochs`] axis its `epochs` is
    /// replaced by the budget; [`BudgetAxis::ImageSize`] needs its `image_size`.
    pub full: Fidelity,
    /// Successive halving or Hyperband.
    pub schedule: Schedule,
}

/// One rung of a bracket: how many candidates are estimated at which budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rung {
    /// Candidates estimated at this rung.
    pub candidates: usize,
    /// Their budget.
    pub budget: usize,
}

/// A bracket: rungs of increasing budget and decreasing candidates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bracket {
    /// The rungs, smallest budget first.
    pub rungs: Vec<Rung>,
}

impl Bracket {
    /// Budget units the bracket spends: Σ candidates × budget over its rungs.
    pub fn cost(&self) -> usize {
        self.rungs.iter().map(|r| r.candidates * r.budget).sum()
    }
}

impl HalvingConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`SearchError::InvalidSetting`] naming the first impossible one.
    pub fn validate(&self) -> Result<()> {
        if self.eta < 2 {
            return Err(invalid("eta", format!("{} is below 2", self.eta)));
        }
        if self.min_budget == 0 {
            return Err(invalid("min_budget", "must be at least 1"));
        }
        if self.max_budget < self.min_budget {
            return Err(invalid(
                "max_budget",
                format!(
                    "{} is below min_budget {}",
                    self.max_budget, self.min_budget
                ),
            ));
        }
        if self.max_budget > MAX_SCHEDULE_SETTING {
            return Err(invalid(
                "max_budget",
                format!("{} is above {MAX_SCHEDULE_SETTING}", self.max_budget),
            ));
        }
        match self.schedule {
            Schedule::SuccessiveHalving { candidates: 0 } => {
                return Err(invalid("schedule.candidates", "must be at least 1"));
            }
            Schedule::Hyperband { iterations: 0 } => {
                return Err(invalid("schedule.iterations", "must be at least 1"));
            }
            Schedule::SuccessiveHalving { candidates: n }
            | Schedule::Hyperband { iterations: n }
                if n > MAX_SCHEDULE_SETTING =>
            {
                return Err(invalid(
                    "schedule",
                    format!("{n} is above {MAX_SCHEDULE_SETTING}"),
                ));
            }
            _ => {}
        }
        if self.axis == BudgetAxis::ImageSize && self.full.image_size.is_none() {
            return Err(invalid(
                "full.image_size",
                "the image-size axis scales the full fidelity's image size, which is not set",
            ));
        }
        self.fidelity_at(self.max_budget)
            .validate()
            .map_err(|e| invalid("full", e.to_string()))
    }

    /// The fidelity a candidate is estimated at for `budget`.
    pub fn fidelity_at(&self, budget: usize) -> Fidelity {
        let share = budget as f64 / self.max_budget.max(1) as f64;
        let mut fidelity = self.full.clone();
        match self.axis {
            BudgetAxis::Epochs => fidelity.epochs = budget,
            BudgetAxis::DataFraction => fidelity.data_fraction = self.full.data_fraction * share,
            BudgetAxis::ImageSize => {
                fidelity.image_size = self
                    .full
                    .image_size
                    .map(|s| ((s as f64 * share.sqrt()).round() as usize).max(8));
            }
        }
        fidelity
    }

    /// The largest `s` with `min_budget · ηˢ ≤ max_budget`: the number of halvings in the
    /// longest bracket.
    fn s_max(&self) -> usize {
        let mut s = 0;
        let mut budget = self.min_budget;
        while let Some(next) = budget
            .checked_mul(self.eta)
            .filter(|&b| b <= self.max_budget)
        {
            budget = next;
            s += 1;
        }
        s
    }

    /// The budget of rung `i` of a bracket with `s` halvings: `max_budget / η^(s−i)`, rounded,
    /// never below `min_budget`.
    fn budget(&self, s: usize, i: usize) -> usize {
        let divisor = (self.eta as f64).powi((s - i) as i32);
        ((self.max_budget as f64 / divisor).round() as usize).max(self.min_budget)
    }

    /// The bracket with `s` halvings that starts `n` candidates. A rung that would pass all
    /// its candidates on to the next (fewer than η left) selects nothing and is dropped: only
    /// the last of such rungs, at the larger budget, is run.
    fn bracket(&self, s: usize, n: usize) -> Bracket {
        let all: Vec<Rung> = (0..=s)
            .map(|i| Rung {
                candidates: (n / self.eta.saturating_pow(i as u32)).max(1),
                budget: self.budget(s, i),
            })
            .collect();
        let rungs = all
            .iter()
            .enumerate()
            .filter(|(i, r)| {
                all.get(i + 1)
                    .is_none_or(|next| next.candidates < r.candidates)
            })
            .map(|(_, r)| *r)
            .collect();
        Bracket { rungs }
    }

    /// Every bracket the schedule runs, in order.
    pub fn brackets(&self) -> Vec<Bracket> {
        let s_max = self.s_max();
        match self.schedule {
            Schedule::SuccessiveHalving { candidates } => vec![self.bracket(s_max, candidates)],
            Schedule::Hyperband { iterations } => {
                let one: Vec<Bracket> = (0..=s_max)
                    .rev()
                    .map(|s| {
                        // n = ⌈(s_max + 1) · ηˢ / (s + 1)⌉
                        // Fits: ηˢ ≤ max_budget / min_budget ≤ MAX_SCHEDULE_SETTING.
                        let n = ((s_max + 1) * self.eta.pow(s as u32)).div_ceil(s + 1);
                        self.bracket(s, n)
                    })
                    .collect();
                (0..iterations).flat_map(|_| one.clone()).collect()
            }
        }
    }

    /// Budget units the whole schedule spends.
    pub fn cost(&self) -> usize {
        self.brackets().iter().map(Bracket::cost).sum()
    }
}

/// One estimate made by a [`MultiFidelitySearch`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "A: Serialize", deserialize = "A: DeserializeOwned"))]
pub struct RungEvaluation<A> {
    /// 0-based bracket (counted over Hyperband's iterations).
    pub bracket: usize,
    /// 0-based rung within the bracket.
    pub rung: usize,
    /// The budget it was estimated at.
    pub budget: usize,
    /// 0-based candidate of the bracket.
    pub candidate: usize,
    /// The architecture.
    pub arch: A,
    /// The estimator's reward.
    pub reward: f64,
    /// What the estimator measured.
    pub metrics: Metrics,
    /// `true` when the candidate went on to the next rung.
    pub promoted: bool,
}

/// What a finished (or stopped) [`MultiFidelitySearch`] found and what it cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "A: Serialize", deserialize = "A: DeserializeOwned"))]
pub struct MultiFidelityOutcome<A> {
    /// The best candidate at the full budget.
    pub best: A,
    /// Its reward at the full budget.
    pub best_reward: f64,
    /// Brackets completed.
    pub brackets: usize,
    /// Candidates proposed (first-rung estimates; a strategy may propose an architecture
    /// twice).
    pub candidates: usize,
    /// Budget units spent (Σ budget over every estimate).
    pub budget_spent: usize,
    /// Budget units estimating every candidate at the full budget would have cost.
    pub budget_if_full: usize,
    /// Budget units the schedule saved: `budget_if_full − budget_spent`.
    pub budget_saved: usize,
    /// `budget_spent / max_budget`: the cost in full-budget estimates.
    pub full_budget_equivalents: f64,
    /// Epochs trained over every estimate (what the estimators report).
    pub epochs_trained: usize,
    /// Seconds spent estimating (summed over resumed sessions).
    pub seconds: f64,
}

/// Builds the estimator of one budget from its fidelity.
pub type EstimatorFactory<A> =
    Box<dyn FnMut(&Fidelity) -> burn_nas_estimator::Result<Box<dyn Estimator<A>>>>;

/// Where the schedule stands; everything in it is saved after every rung.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound(serialize = "A: Serialize", deserialize = "A: DeserializeOwned"))]
struct Progress<A> {
    /// Brackets completed.
    bracket: usize,
    /// Rungs of the current bracket completed.
    rung: usize,
    /// The current bracket's candidates (empty between brackets).
    proposals: Vec<Proposal<A>>,
    /// Candidates (indices into `proposals`) estimated at the current rung.
    survivors: Vec<usize>,
    /// Every candidate's reward at the current bracket's first rung (`None` before it ran).
    first_rewards: Vec<Option<f64>>,
    history: Vec<RungEvaluation<A>>,
    seconds: f64,
}

impl<A> Default for Progress<A> {
    fn default() -> Self {
        Progress {
            bracket: 0,
            rung: 0,
            proposals: Vec::new(),
            survivors: Vec::new(),
            first_rewards: Vec::new(),
            history: Vec::new(),
            seconds: 0.0,
        }
    }
}

/// An estimator's state as JSON (its blobs base64-encoded).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SavedEstimator {
    json: serde_json::Value,
    #[serde(with = "blobs_base64")]
    blobs: BTreeMap<String, Vec<u8>>,
}

/// Blobs as base64 strings; files written before 2026-12-03 hold arrays of bytes, which still
/// read.
mod blobs_base64 {
    use std::collections::BTreeMap;

    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Blob {
        Base64(String),
        Bytes(Vec<u8>),
    }

    pub(super) fn serialize<S: Serializer>(
        blobs: &BTreeMap<String, Vec<u8>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let encoded: BTreeMap<&String, String> = blobs
            .iter()
            .map(|(name, bytes)| (name, STANDARD.encode(bytes)))
            .collect();
        encoded.serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<String, Vec<u8>>, D::Error> {
        BTreeMap::<String, Blob>::deserialize(deserializer)?
            .into_iter()
            .map(|(name, blob)| match blob {
                Blob::Base64(text) => STANDARD
                    .decode(text)
                    .map(|bytes| (name.clone(), bytes))
                    .map_err(|e| serde::de::Error::custom(format!("blob `{name}`: {e}"))),
                Blob::Bytes(bytes) => Ok((name, bytes)),
            })
            .collect()
    }
}

/// What [`MULTI_FIDELITY_FILE`] holds.
#[derive(Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "A: Serialize", deserialize = "A: DeserializeOwned"))]
struct Checkpoint<A> {
    format_version: u32,
    space: String,
    strategy: String,
    config: HalvingConfig,
    progress: Progress<A>,
    strategy_state: serde_json::Value,
    /// Estimator states by budget.
    estimators: BTreeMap<usize, SavedEstimator>,
}

/// Successive halving or Hyperband: any strategy proposes, an estimator per budget scores.
///
/// ```no_run
/// # use burn::tensor::Device;
/// # use burn_nas_controller::RandomSearch;
/// # use burn_nas_data::{Augmentation, fashion_mnist};
/// # use burn_nas_estimator::{
/// #     CosineWarmRestarts, Estimator, Fidelity, NasRlChild, Task, TrainConfig, TrainFromScratch,
/// # };
/// # use burn_nas_search::{BudgetAxis, HalvingConfig, MultiFidelitySearch, Schedule};
/// # use burn_nas_nn::NasRlNetConfig;
/// # use burn_nas_space::NasRlSpace;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (train, _test) = fashion_mnist::load_embedded()?;
/// let task = Task::split(train, 1_000, None)?;
/// let space = NasRlSpace::new(4)?;
/// let config = HalvingConfig {
///     eta: 3,
///     min_budget: 1,
///     max_budget: 9,
///     axis: BudgetAxis::Epochs,
///     full: Fidelity::full(9),
///     schedule: Schedule::Hyperband { iterations: 1 },
/// };
/// let net = NasRlNetConfig::new(task.classes()).with_in_channels(task.channels());
/// let estimators = Box::new(move |fidelity: &Fidelity| {
///     let training = TrainConfig {
///         lr: CosineWarmRestarts::single(0.05, 1e-3, fidelity.epochs),
///         augmentation: Augmentation::none(),
///         ..TrainConfig::default()
///     };
///     let child = NasRlChild(net.clone());
///     let estimator = TrainFromScratch::new(child, &task, fidelity.clone(), training, Device::flex())?;
///     Ok(Box::new(estimator) as Box<dyn Estimator<_>>)
/// });
/// let mut search =
///     MultiFidelitySearch::new(&space, RandomSearch::new(space.clone(), 0), estimators, config)?;
/// let outcome = search.run()?;
/// println!("{} at {:.3} for {} epochs", outcome.best, outcome.best_reward, outcome.budget_spent);
/// # Ok(())
/// # }
/// ```
pub struct MultiFidelitySearch<A> {
    space_name: String,
    config: HalvingConfig,
    brackets: Vec<Bracket>,
    strategy: Box<dyn SearchStrategy<A>>,
    factory: EstimatorFactory<A>,
    estimators: BTreeMap<usize, Box<dyn Estimator<A>>>,
    /// Estimator states read from a checkpoint, loaded when the estimator is first built.
    saved: BTreeMap<usize, EstimatorState>,
    progress: Progress<A>,
    run: Option<RunDir>,
}

impl<A> std::fmt::Debug for MultiFidelitySearch<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiFidelitySearch")
            .field("space", &self.space_name)
            .field("strategy", &self.strategy.name())
            .field("config", &self.config)
            .field("brackets_done", &self.progress.bracket)
            .field("evaluations", &self.progress.history.len())
            .finish_non_exhaustive()
    }
}

impl<A: Architecture> MultiFidelitySearch<A> {
    /// A schedule over `space` with `strategy` (built for the same space) proposing, and
    /// `estimators` building the estimator of each budget.
    ///
    /// # Errors
    /// [`SearchError::InvalidSetting`] for impossible settings.
    pub fn new<S: burn_nas_space::SearchSpace<Arch = A>>(
        space: &S,
        strategy: impl SearchStrategy<A> + 'static,
        estimators: EstimatorFactory<A>,
        config: HalvingConfig,
    ) -> Result<Self> {
        config.validate()?;
        Ok(MultiFidelitySearch {
            space_name: space.name().to_string(),
            brackets: config.brackets(),
            config,
            strategy: Box::new(strategy),
            factory: estimators,
            estimators: BTreeMap::new(),
            saved: BTreeMap::new(),
            progress: Progress::default(),
            run: None,
        })
    }

    /// Writes a checkpoint into `run` after every rung (a fresh directory from
    /// [`RunDir::create`]).
    pub fn with_run_dir(mut self, run: RunDir) -> Self {
        self.run = Some(run);
        self
    }

    /// Continues the search checkpointed in `run`. The space, strategy and settings must be
    /// those of the original run, and `estimators` must build the same estimators.
    ///
    /// # Errors
    /// [`SearchError::Checkpoint`] when `run` has no readable checkpoint or it was written by
    /// another space, strategy or settings; the strategy's state errors.
    pub fn resume(mut self, run: RunDir) -> Result<Self> {
        let path = run.file(MULTI_FIDELITY_FILE);
        let damaged = |reason: String| SearchError::Checkpoint {
            path: run.path().to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| damaged(format!("cannot read {MULTI_FIDELITY_FILE}: {e}")))?;
        let mut de = serde_json::Deserializer::from_str(&text);
        let ckpt: Checkpoint<A> = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| damaged(format!("{MULTI_FIDELITY_FILE} is damaged: {e}")))?;
        if ckpt.format_version != FORMAT_VERSION {
            return Err(damaged(format!(
                "format version {} (this build reads {FORMAT_VERSION})",
                ckpt.format_version
            )));
        }
        if ckpt.space != self.space_name {
            return Err(damaged(format!(
                "it was written by a search of space `{}`, not `{}`",
                ckpt.space, self.space_name
            )));
        }
        if ckpt.strategy != self.strategy.name() {
            return Err(damaged(format!(
                "it was written by a search with strategy `{}`, not `{}`",
                ckpt.strategy,
                self.strategy.name()
            )));
        }
        if ckpt.config != self.config {
            return Err(damaged(
                "it was written with other multi-fidelity settings".into(),
            ));
        }
        check_progress(&ckpt.progress, &self.brackets).map_err(damaged)?;
        self.strategy.load_state(&ckpt.strategy_state)?;
        self.saved = ckpt
            .estimators
            .into_iter()
            .map(|(budget, s)| {
                (
                    budget,
                    EstimatorState {
                        json: s.json,
                        blobs: s.blobs,
                    },
                )
            })
            .collect();
        self.estimators.clear();
        self.progress = ckpt.progress;
        self.run = Some(run);
        Ok(self)
    }

    /// The settings.
    pub fn config(&self) -> &HalvingConfig {
        &self.config
    }

    /// Every bracket the schedule runs.
    pub fn brackets(&self) -> &[Bracket] {
        &self.brackets
    }

    /// Every estimate so far, in order.
    pub fn history(&self) -> &[RungEvaluation<A>] {
        &self.progress.history
    }

    /// The strategy.
    pub fn strategy(&self) -> &dyn SearchStrategy<A> {
        self.strategy.as_ref()
    }

    /// Runs the remaining brackets.
    ///
    /// # Errors
    /// The strategy, an estimator or the checkpoint failed; a checkpoint written before the
    /// failure holds everything up to the last completed rung.
    pub fn run(&mut self) -> Result<MultiFidelityOutcome<A>> {
        self.run_rungs(usize::MAX)?;
        let outcome = self.outcome()?;
        if let Some(run) = &self.run {
            let json =
                serde_json::to_vec_pretty(&outcome).map_err(|e| SearchError::Checkpoint {
                    path: run.path().to_path_buf(),
                    reason: format!("cannot serialize the outcome: {e}"),
                })?;
            run.write(OUTCOME_FILE, &json)?;
        }
        Ok(outcome)
    }

    /// Runs at most `rungs` more rungs (a bracket's end, when the strategy learns, counts with
    /// its last rung), then returns; `true` when the schedule is complete.
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub fn run_rungs(&mut self, rungs: usize) -> Result<bool> {
        let mut left = rungs;
        while self.progress.bracket < self.brackets.len() {
            if left == 0 {
                return Ok(false);
            }
            let bracket = self.brackets[self.progress.bracket].clone();
            if self.progress.rung == 0 && self.progress.proposals.is_empty() {
                let n = bracket.rungs[0].candidates;
                let proposals = self.strategy.propose(n)?;
                if proposals.len() != n {
                    return Err(StrategyError::State {
                        strategy: self.strategy.name(),
                        reason: format!(
                            "it proposed {} architectures where {n} were asked for",
                            proposals.len()
                        ),
                    }
                    .into());
                }
                self.progress.survivors = (0..n).collect();
                self.progress.first_rewards = vec![None; n];
                self.progress.proposals = proposals;
            }
            if self.progress.rung < bracket.rungs.len() {
                self.run_rung(&bracket)?;
                left -= 1;
                // Saved before the strategy learns: if that fails, the bracket's estimates are
                // kept.
                self.save()?;
            }
            if self.progress.rung == bracket.rungs.len() {
                self.finish_bracket()?;
                self.save()?;
            }
        }
        Ok(true)
    }

    /// Estimates the current rung's survivors and picks the next rung's.
    fn run_rung(&mut self, bracket: &Bracket) -> Result<()> {
        let rung_index = self.progress.rung;
        let rung = bracket.rungs[rung_index];
        let start = Instant::now();
        let estimates: Vec<Estimate> = {
            let estimator = estimator_at(
                &mut self.estimators,
                &mut self.factory,
                &mut self.saved,
                &self.config,
                rung.budget,
            )?;
            // Weight-sharing estimators train on the strategy's samples first, as in `Search`.
            let strategy = &mut self.strategy;
            estimator.prepare(&mut || {
                strategy
                    .sample_for_training()
                    .map_err(|e| burn_nas_estimator::EstimatorError::Sampler(e.to_string()))
            })?;
            let proposals = &self.progress.proposals;
            let children: Vec<(&A, Option<&A>)> = self
                .progress
                .survivors
                .iter()
                .map(|&i| (&proposals[i].arch, proposals[i].parent.as_ref()))
                .collect();
            estimate_children(estimator, &children, &AtomicBool::new(false))?
        };
        self.progress.seconds += start.elapsed().as_secs_f64();
        let survivors = self.progress.survivors.clone();
        if let Some((index, e)) = estimates
            .iter()
            .enumerate()
            .find(|(_, e)| !e.reward.is_finite())
        {
            return Err(StrategyError::BadReward {
                index,
                reward: e.reward,
            }
            .into());
        }
        if rung_index == 0 {
            for (&i, e) in survivors.iter().zip(&estimates) {
                self.progress.first_rewards[i] = Some(e.reward);
            }
        }
        // The next rung's survivors: the best by reward (ties: the earlier in this rung, i.e.
        // the better at the previous one).
        let mut order: Vec<usize> = (0..survivors.len()).collect();
        order.sort_by(|&a, &b| {
            estimates[b]
                .reward
                .total_cmp(&estimates[a].reward)
                .then(a.cmp(&b))
        });
        let keep = bracket
            .rungs
            .get(rung_index + 1)
            .map_or(0, |next| next.candidates.min(survivors.len()));
        let mut promoted = vec![false; survivors.len()];
        for &k in &order[..keep] {
            promoted[k] = true;
        }
        for (k, (&i, e)) in survivors.iter().zip(estimates).enumerate() {
            log::info!(
                "bracket {} rung {} (budget {}): candidate {i} reward {:.4}{}",
                self.progress.bracket,
                rung_index,
                rung.budget,
                e.reward,
                if promoted[k] { ", promoted" } else { "" }
            );
            self.progress.history.push(RungEvaluation {
                bracket: self.progress.bracket,
                rung: rung_index,
                budget: rung.budget,
                candidate: i,
                arch: self.progress.proposals[i].arch.clone(),
                reward: e.reward,
                metrics: e.metrics,
                promoted: promoted[k],
            });
        }
        self.progress.survivors = order[..keep].iter().map(|&k| survivors[k]).collect();
        self.progress.rung += 1;
        Ok(())
    }

    /// The strategy learns from the bracket's first rung; the next bracket starts afresh.
    fn finish_bracket(&mut self) -> Result<()> {
        let proposals = std::mem::take(&mut self.progress.proposals);
        let mut results: Vec<(Proposal<A>, f64)> = Vec::with_capacity(proposals.len());
        for (proposal, reward) in proposals.into_iter().zip(&self.progress.first_rewards) {
            // Every candidate is estimated at the first rung; a checkpoint edited to say
            // otherwise is damaged.
            let reward = reward.ok_or_else(|| SearchError::Checkpoint {
                path: self
                    .run
                    .as_ref()
                    .map_or_else(Default::default, |r| r.path().to_path_buf()),
                reason: "a candidate of the bracket has no first-rung reward".into(),
            })?;
            results.push((proposal, reward));
        }
        self.strategy.observe(&results)?;
        self.progress.bracket += 1;
        self.progress.rung = 0;
        self.progress.survivors.clear();
        self.progress.first_rewards.clear();
        Ok(())
    }

    /// Writes the checkpoint, if there is a run directory.
    fn save(&self) -> Result<()> {
        let Some(run) = &self.run else {
            return Ok(());
        };
        let mut estimators = BTreeMap::new();
        for (&budget, state) in &self.saved {
            estimators.insert(
                budget,
                SavedEstimator {
                    json: state.json.clone(),
                    blobs: state.blobs.clone(),
                },
            );
        }
        for (&budget, estimator) in &self.estimators {
            let state = estimator.save_state()?;
            estimators.insert(
                budget,
                SavedEstimator {
                    json: state.json,
                    blobs: state.blobs,
                },
            );
        }
        let ckpt = Checkpoint {
            format_version: FORMAT_VERSION,
            space: self.space_name.clone(),
            strategy: self.strategy.name().to_string(),
            config: self.config.clone(),
            progress: self.progress.clone(),
            strategy_state: self.strategy.save_state()?,
            estimators,
        };
        let json = serde_json::to_vec(&ckpt).map_err(|e| SearchError::Checkpoint {
            path: run.path().to_path_buf(),
            reason: format!("cannot serialize: {e}"),
        })?;
        run.write(MULTI_FIDELITY_FILE, &json)
    }

    /// What the search found so far and what it cost.
    ///
    /// # Errors
    /// [`SearchError::NothingToDerive`] before any candidate reached the full budget.
    pub fn outcome(&self) -> Result<MultiFidelityOutcome<A>> {
        let history = &self.progress.history;
        let best = history
            .iter()
            .filter(|e| e.budget == self.config.max_budget)
            .max_by(|a, b| {
                a.reward
                    .total_cmp(&b.reward)
                    .then(b.candidate.cmp(&a.candidate))
            })
            .ok_or_else(|| {
                SearchError::NothingToDerive("no candidate has reached the full budget yet".into())
            })?;
        let budget_spent: usize = history.iter().map(|e| e.budget).sum();
        let candidates = history.iter().filter(|e| e.rung == 0).count();
        Ok(MultiFidelityOutcome {
            best: best.arch.clone(),
            best_reward: best.reward,
            brackets: self.progress.bracket,
            candidates,
            budget_spent,
            budget_if_full: candidates * self.config.max_budget,
            budget_saved: (candidates * self.config.max_budget).saturating_sub(budget_spent),
            full_budget_equivalents: budget_spent as f64 / self.config.max_budget as f64,
            epochs_trained: history.iter().map(|e| e.metrics.epochs()).sum(),
            seconds: self.progress.seconds,
        })
    }
}

/// The estimator of `budget`, built by `factory` (and given its saved state) on first use.
fn estimator_at<'a, A>(
    estimators: &'a mut BTreeMap<usize, Box<dyn Estimator<A>>>,
    factory: &mut EstimatorFactory<A>,
    saved: &mut BTreeMap<usize, EstimatorState>,
    config: &HalvingConfig,
    budget: usize,
) -> Result<&'a mut Box<dyn Estimator<A>>> {
    match estimators.entry(budget) {
        Entry::Occupied(entry) => Ok(entry.into_mut()),
        Entry::Vacant(entry) => {
            let mut estimator = factory(&config.fidelity_at(budget))?;
            if let Some(state) = saved.get(&budget) {
                estimator.load_state(state)?;
                saved.remove(&budget);
            }
            Ok(entry.insert(estimator))
        }
    }
}

/// Whether a checkpoint's progress is a position in `brackets` (a damaged or edited file must
/// not make the search loop, index out of bounds or change the schedule).
fn check_progress<A>(
    progress: &Progress<A>,
    brackets: &[Bracket],
) -> std::result::Result<(), String> {
    if progress.bracket > brackets.len() {
        return Err(format!(
            "it has {} brackets done of {}",
            progress.bracket,
            brackets.len()
        ));
    }
    let Some(bracket) = brackets.get(progress.bracket) else {
        return Ok(());
    };
    if progress.proposals.is_empty() {
        return if progress.rung == 0 {
            Ok(())
        } else {
            Err("a bracket in progress has no candidates".into())
        };
    }
    let n = bracket.rungs[0].candidates;
    if progress.rung > bracket.rungs.len() {
        return Err(format!(
            "rung {} of a bracket with {}",
            progress.rung,
            bracket.rungs.len()
        ));
    }
    if progress.proposals.len() != n || progress.first_rewards.len() != n {
        return Err(format!(
            "the bracket has {} candidates and {} first-rung rewards where the schedule has {n}",
            progress.proposals.len(),
            progress.first_rewards.len()
        ));
    }
    let expected = bracket.rungs.get(progress.rung).map_or(0, |r| r.candidates);
    if progress.survivors.len() != expected || progress.survivors.iter().any(|&i| i >= n) {
        return Err(format!(
            "rung {} has survivors {:?} where the schedule has {expected} of {n} candidates",
            progress.rung, progress.survivors
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::SavedEstimator;

    #[test]
    fn blobs_are_base64_and_old_byte_arrays_still_read() {
        let saved = SavedEstimator {
            json: serde_json::json!({"k": 1}),
            blobs: [("w.bpk".to_string(), vec![0u8, 1, 254, 255])].into(),
        };
        let text = serde_json::to_string(&saved).unwrap();
        assert!(text.contains(r#""w.bpk":"AAH+/w==""#), "{text}");
        let back: SavedEstimator = serde_json::from_str(&text).unwrap();
        assert_eq!(back.blobs, saved.blobs);
        // As written before 2026-12-03.
        let old: SavedEstimator =
            serde_json::from_str(r#"{"json":{"k":1},"blobs":{"w.bpk":[0,1,254,255]}}"#).unwrap();
        assert_eq!(old.blobs, saved.blobs);
        let damaged = serde_json::from_str::<SavedEstimator>(r#"{"json":1,"blobs":{"w":"@@"}}"#);
        assert!(damaged.is_err());
    }
}
