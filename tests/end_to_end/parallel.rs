//! Parallel trials on a device pool: two `flex` workers give exactly the sequential history
//! (NAS-RL from scratch, learning-curve extrapolation; weight inheritance is in
//! `parallel_inheritance.rs`); a worker failing mid-search is retired, its child retried on
//! the other worker (also when that worker had already run out of work), and the search
//! completes with the retry recorded; bounded retries end in typed errors; a selector on two
//! workers derives exactly what one derives.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use burn::tensor::Device;
use burn_nas::backend::{DevicePool, FaultInjection, TrialExecutor};
use burn_nas::estimator::BatchObserver;
use burn_nas::prelude::*;
use burn_nas::search::{Evaluation, Phase};

use crate::support;
use support::{
    assert_same_history, nas_rl_controller, nas_rl_estimator, nas_rl_history, nas_rl_space, turn,
};

/// The estimator of [`nas_rl_estimator`] on the pool `devices`, whose child `child` fails on
/// its first attempt after `after_batches` minibatches; `max_retries` when given.
fn faulty_estimator(
    devices: &str,
    child: u64,
    after_batches: usize,
    max_retries: Option<usize>,
) -> TrainFromScratch<NasRlChild> {
    let mut executor = TrialExecutor::new(DevicePool::parse(devices).unwrap())
        .with_fault_injection(FaultInjection {
            trial: child,
            after_steps: after_batches,
        });
    if let Some(retries) = max_retries {
        executor = executor.with_max_retries(retries);
    }
    nas_rl_estimator(None, 1).with_executor(executor)
}

#[test]
fn two_flex_workers_give_the_sequential_nas_rl_history() {
    let _lock = turn();
    let sequential = nas_rl_history(nas_rl_estimator(None, 1));
    let parallel = nas_rl_history(nas_rl_estimator(Some("flex,flex"), 1));
    assert_eq!(sequential.len(), 8);
    assert_same_history(&parallel, &sequential);
    // Not a vacuous comparison: the children differ and learned something.
    assert!(sequential.iter().any(|e| e.arch != sequential[0].arch));
    assert!(sequential.iter().any(|e| e.reward != sequential[0].reward));
    assert!(parallel.iter().all(|e| e.metrics.retries == 0));
}

#[test]
fn a_worker_failing_mid_search_is_retried_on_the_other_device() {
    let _lock = turn();
    let sequential = nas_rl_history(nas_rl_estimator(None, 1));
    // Child 5 (second round) dies after 2 minibatches on whichever worker runs it.
    let faulty = faulty_estimator("flex,flex", 5, 2, None);
    let history = nas_rl_history(faulty);
    assert_same_history(&history, &sequential);
    let retries: Vec<usize> = history.iter().map(|e| e.metrics.retries).collect();
    assert_eq!(retries, [0, 0, 0, 0, 0, 1, 0, 0]);
}

#[test]
fn an_idle_worker_waits_for_a_child_a_failing_device_gives_back() {
    let _lock = turn();
    let space = nas_rl_space();
    let mut strategy = Reinforce::new(space, ReinforceConfig::nas_rl(), Device::flex()).unwrap();
    let arch = strategy.propose(1).unwrap().remove(0).arch;
    // One child, two workers: one trains it, the other finds the queue empty at once. When
    // the first device fails, the idle worker must still be there to take the child back
    // (it used to leave, and the group ended in `NoDevice`).
    let mut estimator = faulty_estimator("flex,flex", 0, 1, None);
    let estimates = estimator
        .estimate_many(&[(&arch, None)], &AtomicBool::new(false))
        .unwrap();
    assert_eq!(estimates.len(), 1);
    assert_eq!(estimates[0].metrics.retries, 1);
    assert_eq!(estimator.failed_devices().len(), 1);
}

/// Counts minibatches, and raises `stop` at the first one when asked to.
struct StopAtFirstBatch {
    stop: Arc<AtomicBool>,
    raise: bool,
    batches: AtomicUsize,
}

impl BatchObserver for StopAtFirstBatch {
    fn on_batch(&self, _done: usize, _total: usize, _loss: f64) {
        self.batches.fetch_add(1, Ordering::SeqCst);
        if self.raise {
            self.stop.store(true, Ordering::SeqCst);
        }
    }
}

#[test]
fn a_raised_stop_flag_lets_running_children_finish_and_starts_no_other() {
    let _lock = turn();
    let space = nas_rl_space();
    let mut strategy = Reinforce::new(space, ReinforceConfig::nas_rl(), Device::flex()).unwrap();
    let archs: Vec<NasRlArch> = strategy
        .propose(3)
        .unwrap()
        .into_iter()
        .map(|p| p.arch)
        .collect();
    let children: Vec<(&NasRlArch, Option<&NasRlArch>)> = archs.iter().map(|a| (a, None)).collect();
    let observed = |devices: Option<&str>, raise: bool| {
        let stop = Arc::new(AtomicBool::new(false));
        let observer = Arc::new(StopAtFirstBatch {
            stop: stop.clone(),
            raise,
            batches: AtomicUsize::new(0),
        });
        let mut estimator = nas_rl_estimator(devices, 1);
        estimator.set_batch_observer(Some(observer.clone()));
        let result = estimator.estimate_many(&children[..if raise { 3 } else { 1 }], &stop);
        (result, observer.batches.load(Ordering::SeqCst))
    };
    let (one, per_child) = observed(None, false);
    assert_eq!(one.unwrap().len(), 1);
    assert!(per_child > 1);

    // One device: the flag, raised in the first child's first minibatch, lets that child
    // finish and starts neither of the others.
    let (result, batches) = observed(None, true);
    assert!(
        matches!(result, Err(EstimatorError::Interrupted)),
        "{result:?}"
    );
    assert_eq!(batches, per_child);
    // Two devices: the children running when it is raised finish (one or two, as the threads
    // go), the third never starts.
    let (result, batches) = observed(Some("flex,flex"), true);
    assert!(
        matches!(result, Err(EstimatorError::Interrupted)),
        "{result:?}"
    );
    assert!(
        batches == per_child || batches == 2 * per_child,
        "{batches} minibatches"
    );
    // A flag already raised starts nothing.
    let mut estimator = nas_rl_estimator(Some("flex,flex"), 1);
    let result = estimator.estimate_many(&children, &AtomicBool::new(true));
    assert!(
        matches!(result, Err(EstimatorError::Interrupted)),
        "{result:?}"
    );
}

#[test]
fn retries_are_bounded_and_failures_typed() {
    let _lock = turn();
    let space = nas_rl_space();
    let mut strategy = Reinforce::new(space, ReinforceConfig::nas_rl(), Device::flex()).unwrap();
    let arch = strategy.propose(1).unwrap().remove(0).arch;
    // One device: after it fails nothing is left to retry on.
    let mut alone = faulty_estimator("flex", 0, 0, None);
    let err = alone
        .estimate_many(&[(&arch, None)], &AtomicBool::new(false))
        .unwrap_err();
    assert!(matches!(err, EstimatorError::NoDevice(_)), "{err}");
    assert_eq!(alone.failed_devices(), vec![0]);
    // No retry allowed: the failure itself is the error.
    let mut strict = faulty_estimator("flex,flex", 0, 0, Some(0));
    let err = strict
        .estimate_many(&[(&arch, None)], &AtomicBool::new(false))
        .unwrap_err();
    assert!(
        matches!(
            &err,
            EstimatorError::DeviceFailed {
                child: 0,
                attempts: 1,
                ..
            }
        ),
        "{err}"
    );
    // The surviving worker still trains the next group.
    let estimates = strict
        .estimate_many(&[(&arch, None), (&arch, None)], &AtomicBool::new(false))
        .unwrap();
    assert_eq!(estimates.len(), 2);
    assert_eq!(strict.failed_devices().len(), 1);
}

#[test]
fn curve_extrapolation_on_two_workers_matches_per_group_rule() {
    let _lock = turn();
    // 4 epochs: the curve is fitted after 3; a margin of +1 never stops a run (the prediction
    // plus 1 is never below an accuracy), so the group rule and the per-child rule agree and
    // the histories must be equal, predictions included.
    let sequential = nas_rl_history(CurveExtrapolation::new(nas_rl_estimator(None, 4), 3, 1.0));
    let parallel = nas_rl_history(CurveExtrapolation::new(
        nas_rl_estimator(Some("flex,flex"), 4),
        3,
        1.0,
    ));
    assert_same_history(&parallel, &sequential);
    assert!(parallel.iter().all(|e| {
        e.metrics
            .training
            .as_ref()
            .is_some_and(|t| t.predicted_accuracy.is_some())
    }));
}

#[test]
fn a_selector_on_two_workers_derives_what_one_worker_derives() {
    let _lock = turn();
    let space = nas_rl_space();
    let strategy = nas_rl_controller(&space);
    let mut config = SearchConfig::multi_trial(1, 4);
    config.quiet = true;
    config.derive = Derive::Rescore {
        candidates: 4,
        scores: 1,
    };
    let mut search = Search::new(&space, strategy, nas_rl_estimator(None, 1), config).unwrap();
    assert_eq!(search.run().unwrap(), Outcome::BudgetReached);
    // The same candidates (the search's 4 best) selected by a fresh selector each time: one
    // worker, then two (the candidates go to it two at a time).
    let mut derivations = Vec::new();
    for devices in [None, Some("flex,flex")] {
        let mut selector = nas_rl_estimator(devices, 1);
        assert_eq!(
            selector.parallelism(),
            if devices.is_some() { 2 } else { 1 }
        );
        let derived = search.derive_with(&mut selector).unwrap();
        let scored: Vec<Evaluation> = search
            .history()
            .iter()
            .filter(|e| e.phase == Phase::Derive)
            .cloned()
            .collect();
        derivations.push((derived.arch, scored));
    }
    let (sequential, pooled) = (&derivations[0], &derivations[1]);
    assert_eq!(sequential.1.len(), 4);
    assert!(
        sequential
            .1
            .iter()
            .any(|e| e.reward != sequential.1[0].reward)
    );
    assert_same_history(&pooled.1, &sequential.1);
    assert_eq!(pooled.0, sequential.0);
}
