//! [`Search`]: a search space × a search strategy × a performance estimator, run in rounds
//! under a budget, checkpointed after every round, resumable exactly.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use burn_nas_controller::{Proposal, SearchStrategy};
use burn_nas_estimator::{Estimate, Estimator, EstimatorError, Metrics, RetrainReport};
use burn_nas_space::{Architecture, SearchSpace};

use crate::checkpoint::{self, CHECKPOINT_VERSION, Checkpoint};
use crate::compare::{RandomComparison, estimate_children};
use crate::config::{Derive, SearchConfig};
use crate::error::{Result, SearchError};
use crate::history::{Evaluation, Phase, search_compute, to_csv, to_jsonl};
use crate::plot::reward_png;
use crate::progress::Bars;
use crate::run_dir::RunDir;
use crate::summary::{Status, Summary};

/// How a call to [`Search::run`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The budget is spent; derive the result.
    BudgetReached,
    /// The stop flag was raised (Ctrl-C): the run directory holds the checkpoint of the last
    /// completed round; the interrupted round is repeated on resume.
    Interrupted,
}

/// The architecture a search settled on.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived<A> {
    /// The architecture.
    pub arch: A,
    /// Its reward (derivation score, or best search reward for multi-trial searches).
    pub reward: f64,
    /// What the estimator measured for it.
    pub estimate: Estimate,
}

/// A neural architecture search: `Search::new(&space, strategy, estimator, config)`.
///
/// Each round: the estimator prepares (ENAS trains its shared weights for an epoch on
/// architectures drawn from the strategy), then `updates_per_round` times the strategy
/// proposes `proposals_per_update` architectures, the estimator scores each and the strategy
/// learns from the rewards. With a [`RunDir`], the history, reward plot, summary and a
/// checkpoint are written after every round, and [`Search::resume`] continues a stopped run
/// exactly (same seed ⇒ same history as an uninterrupted run).
///
/// Any strategy, any estimator (yours too) and any space combine:
///
/// ```
/// use burn_nas_controller::RandomSearch;
/// use burn_nas_estimator::{Estimate, Estimator, Metrics};
/// use burn_nas_search::{Outcome, Search, SearchConfig};
/// use burn_nas_space::{MicroArch, MicroOp, MicroSpace};
///
/// /// A made-up reward: the share of separable 3×3 convolutions in the normal cell.
/// struct SepConvShare;
///
/// impl Estimator<MicroArch> for SepConvShare {
///     fn estimate(&mut self, arch: &MicroArch) -> burn_nas_estimator::Result<Estimate> {
///         let ops: Vec<MicroOp> = arch.normal.nodes.iter().flat_map(|n| n.ops).collect();
///         let share = ops.iter().filter(|&&op| op == MicroOp::SepConv3x3).count() as f64
///             / ops.len() as f64;
///         Ok(Estimate { reward: share, metrics: Metrics::default() })
///     }
/// }
///
/// let space = MicroSpace::default();
/// let mut config = SearchConfig::multi_trial(5, 20); // 5 rounds of 20 architectures
/// config.quiet = true;
/// let mut search = Search::new(&space, RandomSearch::new(space.clone(), 0), SepConvShare, config)?;
/// assert_eq!(search.run()?, Outcome::BudgetReached);
/// assert_eq!(search.history().len(), 100);
/// let best = search.derive()?; // the best evaluated architecture
/// assert!(search.history().iter().all(|e| e.reward <= best.reward));
/// # Ok::<(), burn_nas_search::SearchError>(())
/// ```
pub struct Search<A> {
    space_name: String,
    space_size_log10: f64,
    strategy: Box<dyn SearchStrategy<A>>,
    estimator: Box<dyn Estimator<A>>,
    config: SearchConfig,
    history: Vec<Evaluation>,
    rounds_done: usize,
    elapsed_base: f64,
    session: Option<Instant>,
    run: Option<RunDir>,
    stop: Arc<AtomicBool>,
    bars: Bars,
    extra: serde_json::Value,
    derived: Option<Derived<A>>,
    retrain: Option<RetrainReport>,
    comparison: Option<RandomComparison>,
}

impl<A> std::fmt::Debug for Search<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Search")
            .field("space", &self.space_name)
            .field("strategy", &self.strategy.name())
            .field("estimator", &self.estimator.name())
            .field("config", &self.config)
            .field("rounds_done", &self.rounds_done)
            .field("evaluations", &self.history.len())
            .finish_non_exhaustive()
    }
}

impl<A: Architecture> Search<A> {
    /// A search of `space` with `strategy` (built for the same space) and `estimator`.
    ///
    /// # Errors
    /// Invalid settings.
    pub fn new<S: SearchSpace<Arch = A>>(
        space: &S,
        strategy: impl SearchStrategy<A> + 'static,
        estimator: impl Estimator<A> + 'static,
        config: SearchConfig,
    ) -> Result<Self> {
        config.validate()?;
        let bars = Bars::new(config.quiet, config.budget.rounds.map(|r| r as u64));
        let mut estimator: Box<dyn Estimator<A>> = Box::new(estimator);
        estimator.set_batch_observer(Some(bars.observer()));
        Ok(Search {
            space_name: space.name().to_string(),
            space_size_log10: space.size().log10,
            strategy: Box::new(strategy),
            estimator,
            config,
            history: Vec::new(),
            rounds_done: 0,
            elapsed_base: 0.0,
            session: None,
            run: None,
            stop: Arc::new(AtomicBool::new(false)),
            bars,
            extra: serde_json::Value::Null,
            derived: None,
            retrain: None,
            comparison: None,
        })
    }

    /// Writes outputs and checkpoints into `run` (a fresh directory from [`RunDir::create`]).
    pub fn with_run_dir(mut self, run: RunDir) -> Self {
        self.run = Some(run);
        self
    }

    /// Records `extra` (dataset, device, command line…) in `summary.json`.
    pub fn with_extra(mut self, extra: serde_json::Value) -> Self {
        self.extra = extra;
        self
    }

    /// Continues the run in `run` from its checkpoint: the strategy, the estimator (built with
    /// the same settings as the original run) and the history are restored; the run directory
    /// becomes this search's. The budget of `config` given to [`new`](Self::new) applies, so a
    /// finished run can also be extended.
    ///
    /// # Errors
    /// [`SearchError::Checkpoint`] when the checkpoint is damaged or was written by a search of
    /// another space, strategy or estimator; state errors of the strategy or the estimator.
    pub fn resume(mut self, run: RunDir) -> Result<Self> {
        let (ckpt, state) = checkpoint::load(&run)?;
        let mismatch = |what: &str, saved: &str, now: &str| SearchError::Checkpoint {
            path: run.path().to_path_buf(),
            reason: format!("it was written by a search with {what} `{saved}`, not `{now}`"),
        };
        if ckpt.space != self.space_name {
            return Err(mismatch("space", &ckpt.space, &self.space_name));
        }
        if ckpt.strategy != self.strategy.name() {
            return Err(mismatch("strategy", &ckpt.strategy, self.strategy.name()));
        }
        if ckpt.estimator != self.estimator.name() {
            return Err(mismatch(
                "estimator",
                &ckpt.estimator,
                self.estimator.name(),
            ));
        }
        self.strategy.load_state(&ckpt.strategy_state)?;
        self.estimator.load_state(&state)?;
        log::info!(
            "resuming {} after round {} ({} evaluations, {:.0} s)",
            run.path().display(),
            ckpt.rounds_done,
            ckpt.history.len(),
            ckpt.elapsed
        );
        self.history = ckpt.history;
        self.rounds_done = ckpt.rounds_done;
        self.elapsed_base = ckpt.elapsed;
        self.run = Some(run);
        Ok(self)
    }

    /// A flag that stops the search after the current evaluation when set (install it in a
    /// Ctrl-C handler).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Every evaluation so far, in order.
    pub fn history(&self) -> &[Evaluation] {
        &self.history
    }

    /// Rounds completed.
    pub fn rounds_done(&self) -> usize {
        self.rounds_done
    }

    /// The run directory, if any.
    pub fn run_dir(&self) -> Option<&RunDir> {
        self.run.as_ref()
    }

    /// The estimator (e.g. to reach its shared weights after the search).
    pub fn estimator(&self) -> &dyn Estimator<A> {
        self.estimator.as_ref()
    }

    /// The strategy.
    pub fn strategy(&self) -> &dyn SearchStrategy<A> {
        self.strategy.as_ref()
    }

    fn search_evaluations(&self) -> usize {
        self.history
            .iter()
            .filter(|e| e.phase == Phase::Search)
            .count()
    }

    /// `per` summed over the search's evaluations (derivation excluded).
    fn search_epochs(&self, per: impl Fn(&Metrics) -> usize) -> usize {
        self.history
            .iter()
            .filter(|e| e.phase == Phase::Search)
            .map(|e| per(&e.metrics))
            .sum()
    }

    fn budget_reached(&self, elapsed: f64) -> bool {
        let b = &self.config.budget;
        b.rounds.is_some_and(|r| self.rounds_done >= r)
            || b.evaluations
                .is_some_and(|n| self.search_evaluations() >= n)
            || b.seconds.is_some_and(|s| elapsed >= s)
    }

    /// Runs rounds until the budget is reached or the stop flag is raised.
    ///
    /// # Errors
    /// Strategy, estimator or output errors; the checkpoint of the last completed round stays
    /// valid.
    pub fn run(&mut self) -> Result<Outcome> {
        // Time between calls (e.g. before a resume) does not count.
        self.elapsed_base = self.elapsed();
        self.session = Some(Instant::now());
        let outcome = self.run_rounds();
        // Only time spent in `run` counts (not derivation, retraining or time between calls).
        self.elapsed_base = self.elapsed();
        self.session = None;
        let outcome = outcome?;
        if outcome == Outcome::Interrupted {
            self.write_outputs(Status::Interrupted)?;
        }
        Ok(outcome)
    }

    fn run_rounds(&mut self) -> Result<Outcome> {
        if let Some(r) = self.config.budget.rounds {
            self.bars.rounds.set_length(r as u64);
        }
        self.bars.rounds.set_position(self.rounds_done as u64);
        self.write_outputs(Status::Running)?;
        while !self.budget_reached(self.elapsed()) {
            let round_start = self.history.len();
            match self.round() {
                Ok(true) => {}
                Ok(false) => {
                    // Interrupted mid-round: forget the partial round; the checkpoint holds the
                    // state at the end of the previous one.
                    self.history.truncate(round_start);
                    self.bars.finish();
                    self.write_outputs(Status::Interrupted)?;
                    return Ok(Outcome::Interrupted);
                }
                Err(e) => {
                    self.history.truncate(round_start);
                    self.bars.finish();
                    return Err(e);
                }
            }
            self.rounds_done += 1;
            self.checkpoint()?;
            self.write_outputs(Status::Running)?;
            self.bars.rounds.inc(1);
            if self.stop.load(Ordering::SeqCst) {
                self.bars.finish();
                self.write_outputs(Status::Interrupted)?;
                return Ok(Outcome::Interrupted);
            }
        }
        self.bars.finish();
        Ok(Outcome::BudgetReached)
    }

    /// Seconds searched so far, over all sessions of this run.
    pub fn elapsed(&self) -> f64 {
        self.elapsed_base + self.session.map_or(0.0, |s| s.elapsed().as_secs_f64())
    }

    /// One round; `Ok(false)` when interrupted.
    fn round(&mut self) -> Result<bool> {
        let round = self.rounds_done;
        self.bars.batches.set_prefix("shared");
        {
            let strategy = &mut self.strategy;
            let mut sampler = || -> burn_nas_estimator::Result<A> {
                strategy
                    .sample_for_training()
                    .map_err(|e| EstimatorError::Sampler(e.to_string()))
            };
            self.estimator.prepare(&mut sampler)?;
        }
        self.bars.batches.set_prefix("child");
        for update in 0..self.config.updates_per_round {
            let proposals = self.strategy.propose(self.config.proposals_per_update)?;
            let mut results: Vec<(Proposal<A>, f64)> = Vec::with_capacity(proposals.len());
            let mut pending = Vec::with_capacity(proposals.len());
            // The whole update at once: a device pool takes the children as its devices come
            // free, and the stop flag keeps any further child from starting.
            let children: Vec<(&A, Option<&A>)> = proposals
                .iter()
                .map(|p| (&p.arch, p.parent.as_ref()))
                .collect();
            let estimates = match estimate_children(&mut self.estimator, &children, &self.stop) {
                Err(SearchError::Estimator(EstimatorError::Interrupted)) => return Ok(false),
                other => other?,
            };
            for (proposal, estimate) in proposals.iter().zip(estimates) {
                pending.push(self.record(round, update, Phase::Search, proposal, &estimate)?);
                results.push((proposal.clone(), estimate.reward));
            }
            self.strategy.observe(&results)?;
            let baseline = self.strategy.baseline();
            let mean = results.iter().map(|r| r.1).sum::<f64>() / results.len().max(1) as f64;
            for mut e in pending {
                e.baseline = baseline;
                e.index = self.history.len();
                self.history.push(e);
            }
            let best = self.best_search_reward().unwrap_or(f64::NAN);
            self.bars.rounds.set_message(format!(
                "update {}/{}  mean reward {mean:.4}  best {best:.4}",
                update + 1,
                self.config.updates_per_round
            ));
            log::debug!("round {round} update {update}: mean reward {mean:.4}, best {best:.4}");
        }
        Ok(true)
    }

    fn record(
        &self,
        round: usize,
        update: usize,
        phase: Phase,
        proposal: &Proposal<A>,
        estimate: &Estimate,
    ) -> Result<Evaluation> {
        let arch = serde_json::from_str(&proposal.arch.to_json()).map_err(|e| {
            SearchError::Checkpoint {
                path: Default::default(),
                reason: format!("architecture JSON does not parse back: {e}"),
            }
        })?;
        Ok(Evaluation {
            index: self.history.len(),
            round,
            update,
            phase,
            arch,
            reward: estimate.reward,
            baseline: None,
            entropy: proposal.entropy,
            log_prob: proposal.log_prob,
            has_parent: proposal.parent.is_some(),
            metrics: estimate.metrics.clone(),
            elapsed: self.elapsed(),
        })
    }

    fn best_search_reward(&self) -> Option<f64> {
        self.history
            .iter()
            .filter(|e| e.phase == Phase::Search)
            .map(|e| e.reward)
            .fold(None, |b: Option<f64>, r| Some(b.map_or(r, |b| b.max(r))))
    }

    fn last_mean_reward(&self) -> Option<f64> {
        let last = self
            .history
            .iter()
            .rev()
            .find(|e| e.phase == Phase::Search)?;
        let same: Vec<f64> = self
            .history
            .iter()
            .filter(|e| {
                e.phase == Phase::Search && e.round == last.round && e.update == last.update
            })
            .map(|e| e.reward)
            .collect();
        Some(same.iter().sum::<f64>() / same.len() as f64)
    }

    /// Chooses the final architecture ([`SearchConfig::derive`]): scores the strategy's
    /// candidates or the best evaluated ones again (recorded in the history as
    /// [`Phase::Derive`]), or takes the best evaluated one; writes `best_arch.json`,
    /// `best_arch.dot` and the summary.
    ///
    /// # Errors
    /// [`SearchError::NothingToDerive`] before any evaluation (best-evaluated rule), strategy or
    /// estimator errors, output errors.
    pub fn derive(&mut self) -> Result<Derived<A>> {
        self.derive_by(None)
    }

    /// [`derive`](Self::derive) with the candidates scored by another estimator, `selector`,
    /// instead of the search's own: a two-stage search where a cheap estimator steers the
    /// strategy and a better-ranking one picks the answer (e.g. ENAS's controller proposes and
    /// a short low-fidelity training from scratch selects, which ranks cells far better than
    /// shared weights do; docs/results.md). With [`Derive::Sample`] the strategy's candidates
    /// are scored once each; with [`Derive::Rescore`] the `candidates` best distinct
    /// architectures of the search; with [`Derive::BestEvaluated`] the
    /// [`SELECT_TOP`](Self::SELECT_TOP) best. The candidates go to the selector in one
    /// [`estimate_many`](Estimator::estimate_many) call, so a selector with a device pool
    /// trains them concurrently.
    ///
    /// # Errors
    /// As [`derive`](Self::derive); the selector's errors.
    pub fn derive_with(&mut self, selector: &mut dyn Estimator<A>) -> Result<Derived<A>> {
        self.derive_by(Some(selector))
    }

    /// How many of the best evaluated architectures [`derive_with`](Self::derive_with) re-scores
    /// under [`Derive::BestEvaluated`].
    pub const SELECT_TOP: usize = 10;

    fn derive_by(&mut self, selector: Option<&mut dyn Estimator<A>>) -> Result<Derived<A>> {
        // Derivation candidates of an earlier call (a resumed finished run) are replaced.
        self.history.retain(|e| e.phase == Phase::Search);
        // The candidates to score and the estimates averaged per candidate; `None`: take the
        // best evaluated architecture as it is.
        let candidates = match self.config.derive {
            Derive::Sample { candidates, scores } => {
                Some((self.strategy.derive(candidates)?, scores))
            }
            Derive::BestEvaluated if selector.is_some() => {
                Some((self.best_evaluated(Self::SELECT_TOP)?, 1))
            }
            Derive::Rescore { candidates, scores } => {
                Some((self.best_evaluated(candidates)?, scores))
            }
            Derive::BestEvaluated => None,
        };
        let derived = match candidates {
            Some((candidates, scores)) => {
                let round = self.rounds_done;
                let mut best: Option<Derived<A>> = None;
                let estimates = match selector {
                    Some(selector) => {
                        let children: Vec<(&A, Option<&A>)> =
                            candidates.iter().map(|p| (&p.arch, None)).collect();
                        // Derivation is not interrupted: it finishes what a finished search began.
                        estimate_children(selector, &children, &AtomicBool::new(false))?
                    }
                    None => candidates
                        .iter()
                        .map(|p| self.averaged_estimate(&p.arch, scores))
                        .collect::<Result<_>>()?,
                };
                for (proposal, estimate) in candidates.into_iter().zip(estimates) {
                    let mut e = self.record(round, 0, Phase::Derive, &proposal, &estimate)?;
                    e.index = self.history.len();
                    self.history.push(e);
                    if best.as_ref().is_none_or(|b| estimate.reward > b.reward) {
                        best = Some(Derived {
                            reward: estimate.reward,
                            arch: proposal.arch,
                            estimate,
                        });
                    }
                }
                best.ok_or_else(|| {
                    SearchError::NothingToDerive("the strategy derived no candidate".into())
                })?
            }
            None => {
                let best = self
                    .history
                    .iter()
                    .filter(|e| e.phase == Phase::Search)
                    .max_by(|a, b| a.reward.total_cmp(&b.reward))
                    .ok_or_else(|| {
                        SearchError::NothingToDerive("no architecture was evaluated".into())
                    })?;
                Derived {
                    arch: A::from_json(&best.arch.to_string())?,
                    reward: best.reward,
                    estimate: Estimate {
                        reward: best.reward,
                        metrics: best.metrics.clone(),
                    },
                }
            }
        };
        self.derived = Some(derived.clone());
        if let Some(run) = &self.run {
            run.write("best_arch.json", derived.arch.to_json().as_bytes())?;
            run.write("best_arch.dot", derived.arch.to_dot().as_bytes())?;
        }
        self.write_outputs(Status::Finished)?;
        Ok(derived)
    }

    /// The `n` best distinct architectures of the search phase, best first, as proposals.
    fn best_evaluated(&self, n: usize) -> Result<Vec<Proposal<A>>> {
        let mut evaluated: Vec<&Evaluation> = self
            .history
            .iter()
            .filter(|e| e.phase == Phase::Search)
            .collect();
        evaluated.sort_by(|a, b| b.reward.total_cmp(&a.reward));
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for e in evaluated {
            if out.len() == n {
                break;
            }
            let json = e.arch.to_string();
            if seen.insert(json.clone()) {
                // Only the architecture is needed: derivation records keep no tokens.
                out.push(Proposal::new(A::from_json(&json)?, Vec::new()));
            }
        }
        if out.is_empty() {
            return Err(SearchError::NothingToDerive(
                "no architecture was evaluated".into(),
            ));
        }
        Ok(out)
    }

    /// The mean of `scores` estimates of `arch` (reward, validation accuracy and loss; times
    /// add up).
    fn averaged_estimate(&mut self, arch: &A, scores: usize) -> Result<Estimate> {
        let repeated = vec![(arch, None); scores.max(1)];
        let mut estimates =
            estimate_children(&mut self.estimator, &repeated, &AtomicBool::new(false))?.into_iter();
        let mut estimate = estimates.next().ok_or_else(|| {
            SearchError::NothingToDerive("the estimator returned no estimate".into())
        })?;
        if scores <= 1 {
            return Ok(estimate);
        }
        let (mut reward, mut accuracy) = (estimate.reward, estimate.metrics.valid_accuracy);
        let mut loss = estimate.metrics.valid_loss;
        for next in estimates {
            reward += next.reward;
            accuracy += next.metrics.valid_accuracy;
            loss = loss.zip(next.metrics.valid_loss).map(|(a, b)| a + b);
            estimate.metrics.seconds += next.metrics.seconds;
        }
        let n = scores as f64;
        estimate.reward = reward / n;
        estimate.metrics.valid_accuracy = accuracy / n;
        estimate.metrics.valid_loss = loss.map(|l| l / n);
        Ok(estimate)
    }

    /// Records the retraining of the derived architecture: `report` goes into `summary.json`,
    /// `weights` (burnpack bytes, see `burn_nas_estimator::module_to_bytes`) into
    /// `retrained.bpk`.
    ///
    /// # Errors
    /// Output errors.
    pub fn record_retrain(&mut self, report: RetrainReport, weights: Option<&[u8]>) -> Result<()> {
        if let (Some(run), Some(bytes)) = (&self.run, weights) {
            run.write("retrained.bpk", bytes)?;
            let json =
                serde_json::to_string_pretty(&report).map_err(|e| SearchError::Checkpoint {
                    path: run.path().to_path_buf(),
                    reason: format!("the retraining report does not serialize: {e}"),
                })?;
            run.write("retrain.json", json.as_bytes())?;
        }
        self.retrain = Some(report);
        self.write_outputs(Status::Finished)
    }

    /// Records how the derived architecture ranks against uniformly random ones retrained under
    /// the same protocol ([`compare_with_random`](crate::compare_with_random)): the comparison
    /// goes into `summary.json` (`compare_random`), its picture into `compare_random.png`.
    ///
    /// # Errors
    /// Drawing or output errors.
    pub fn record_comparison(&mut self, comparison: RandomComparison) -> Result<()> {
        if let Some(run) = &self.run {
            run.write("compare_random.png", &comparison.png()?)?;
        }
        self.comparison = Some(comparison);
        self.write_outputs(Status::Finished)
    }

    /// The summary as it stands.
    pub fn summary(&self, status: Status) -> Summary {
        let (compute_spent, compute_saved) = search_compute(&self.history);
        Summary {
            status,
            space: self.space_name.clone(),
            space_size_log10: self.space_size_log10,
            strategy: self.strategy.name().to_string(),
            estimator: self.estimator.name().to_string(),
            config: self.config.clone(),
            rounds: self.rounds_done,
            evaluations: self.search_evaluations(),
            epochs_trained: self.search_epochs(Metrics::epochs),
            epochs_saved: self.search_epochs(|m| m.training.as_ref().map_or(0, |t| t.epochs_saved)),
            compute_spent,
            compute_saved,
            seconds: self.elapsed(),
            best_search_reward: self.best_search_reward(),
            last_mean_reward: self.last_mean_reward(),
            best_arch: self
                .derived
                .as_ref()
                .and_then(|d| serde_json::from_str(&d.arch.to_json()).ok()),
            best_reward: self.derived.as_ref().map(|d| d.reward),
            retrain: self.retrain.clone(),
            compare_random: self.comparison.clone(),
            extra: self.extra.clone(),
        }
    }

    fn write_outputs(&self, status: Status) -> Result<()> {
        let Some(run) = &self.run else {
            return Ok(());
        };
        run.write("history.jsonl", to_jsonl(&self.history).as_bytes())?;
        run.write("history.csv", to_csv(&self.history).as_bytes())?;
        // The compute the speed-ups saved goes under the x axis (`plot`).
        let title = format!(
            "{} on {} with {}",
            self.strategy.name(),
            self.space_name,
            self.estimator.name()
        );
        let png = reward_png(&self.history, &title, &run.file("reward.png"))?;
        run.write("reward.png", &png)?;
        let summary = serde_json::to_string_pretty(&self.summary(status)).map_err(|e| {
            SearchError::Checkpoint {
                path: run.path().to_path_buf(),
                reason: format!("summary does not serialize: {e}"),
            }
        })?;
        run.write("summary.json", summary.as_bytes())
    }

    fn checkpoint(&self) -> Result<()> {
        let Some(run) = &self.run else {
            return Ok(());
        };
        let state = self.estimator.save_state()?;
        let ckpt = Checkpoint {
            format_version: CHECKPOINT_VERSION,
            space: self.space_name.clone(),
            strategy: self.strategy.name().to_string(),
            estimator: self.estimator.name().to_string(),
            rounds_done: self.rounds_done,
            elapsed: self.elapsed(),
            history: self.history.clone(),
            strategy_state: self.strategy.save_state()?,
            estimator_state: state.json.clone(),
            estimator_blobs: state.blobs.keys().cloned().collect(),
        };
        checkpoint::save(run, &ckpt, &state)
    }
}
