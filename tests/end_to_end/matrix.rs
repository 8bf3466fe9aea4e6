//! Any strategy × any estimator × any space, on real data: every search strategy (REINFORCE,
//! random search, regularized evolution) with every estimator (training from scratch, low
//! fidelity, learning-curve extrapolation, weight inheritance, shared weights) on every space
//! (NAS-RL, ENAS macro, ENAS micro, and the user-defined chain space of the `custom_space`
//! example) runs a tiny search on the embedded Fashion-MNIST subset through the same `Search`
//! loop. Each of the 57 pairings (shared weights have no NAS-RL supernet) is checked for what
//! it promises: real rewards, a strategy state that saves and loads back to itself, a size
//! penalty that acts, early stops where the curve rule says so, inherited weights exactly where
//! a parent exists, low-fidelity children that are smaller — and an exact resume: stopped after
//! its first round and resumed from the run directory, it gives the uninterrupted run's history
//! (architectures, rewards and baselines bit for bit).
//!
//! Pairings that cannot work do not compile (curve extrapolation needs an estimator that trains
//! epoch by epoch, weight inheritance one that trains children from scratch) or are refused
//! when built (a size penalty on shared weights, which measure no child's size).

use crate::chain;
use crate::search::comparable;
use crate::support;

use burn::tensor::Device;
use burn_nas::estimator::{
    ChildFactory, EstimatorError, ImageShape, Metrics, Objective, SizePenalty, Supernet,
};
use burn_nas::prelude::*;
use burn_nas::search::Evaluation;
use chain::{ChainChild, ChainSpace, ChainSupernet};
use support::{task, training, turn};

/// Children trained and scored per search: 2 rounds of 1 update of 2 proposals.
const EVALUATIONS: usize = 4;

/// The estimators of the matrix.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    FromScratch,
    LowFidelity,
    Curve,
    Inheritance,
    Shared,
}

const KINDS: [Kind; 5] = [
    Kind::FromScratch,
    Kind::LowFidelity,
    Kind::Curve,
    Kind::Inheritance,
    Kind::Shared,
];

/// The strategies of the matrix.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Strategy {
    Reinforce,
    Random,
    Evolution,
}

const STRATEGIES: [Strategy; 3] = [Strategy::Reinforce, Strategy::Random, Strategy::Evolution];

/// A penalty every tiny child exceeds (10 parameters), so the reward must fall below the
/// accuracy whenever the estimator measures sizes.
fn penalty() -> Objective {
    Objective {
        penalty: Some(SizePenalty {
            max_params: Some(10),
            max_macs: None,
            exponent: -0.07,
        }),
        ..Objective::default()
    }
}

fn fidelity(epochs: usize, low: bool) -> Fidelity {
    Fidelity {
        epochs,
        data_fraction: if low { 0.5 } else { 1.0 },
        image_size: low.then_some(10),
        channel_scale: if low { 0.5 } else { 1.0 },
        depth_scale: 1.0,
    }
}

fn strategy<S>(kind: Strategy, space: &S, seed: u64) -> Box<dyn SearchStrategy<S::Arch>>
where
    S: SearchSpace + Clone + 'static,
    S::Arch: Clone + 'static,
{
    match kind {
        // NAS-RL's preset: no biases tied to one space's heads.
        Strategy::Reinforce => Box::new(
            Reinforce::new(
                space.clone(),
                ReinforceConfig::nas_rl().with_seed(seed),
                Device::flex(),
            )
            .unwrap(),
        ),
        Strategy::Random => Box::new(RandomSearch::new(space.clone(), seed)),
        Strategy::Evolution => Box::new(
            RegularizedEvolution::new(
                space.clone(),
                EvolutionConfig {
                    population: 2,
                    sample_size: 2,
                    seed,
                },
            )
            .unwrap(),
        ),
    }
}

/// The shared-weight estimator of a space: `None` for spaces without a supernet (NAS-RL).
type SharedBuilder<'a, A> = Option<&'a dyn Fn(u64) -> Box<dyn Estimator<A>>>;

/// Shared weights over `supernet`, after checking that a size penalty on them is refused (they
/// measure no child's size, so it could never act).
fn shared_weights<A, N>(supernet: impl Fn() -> N, seed: u64) -> Box<dyn Estimator<A>>
where
    A: Sync + 'static,
    N: Supernet<A> + 'static,
{
    let device = Device::flex();
    let refused = SharedWeights::new(supernet(), task(), training(1, seed), 100, device.clone())
        .unwrap()
        .with_objective(penalty());
    let Err(err) = refused else {
        panic!("a size penalty on shared weights must be refused");
    };
    assert!(
        matches!(
            err,
            EstimatorError::InvalidSetting {
                field: "objective.penalty",
                ..
            }
        ),
        "{err}"
    );
    device.seed(seed);
    device.clone().autodiff().seed(seed);
    Box::new(SharedWeights::new(supernet(), task(), training(1, seed), 100, device).unwrap())
}

fn estimator<A, F>(
    kind: Kind,
    factory: &F,
    shared: SharedBuilder<'_, A>,
    seed: u64,
) -> Option<Box<dyn Estimator<A>>>
where
    A: Architecture + Sync + 'static,
    F: ChildFactory<A> + Clone + Sync + 'static,
{
    let scratch = |epochs: usize, low: bool| {
        TrainFromScratch::new(
            factory.clone(),
            task(),
            fidelity(epochs, low),
            training(epochs, seed),
            Device::flex(),
        )
        .unwrap()
    };
    Some(match kind {
        Kind::FromScratch => Box::new(scratch(1, false).with_objective(penalty())),
        Kind::LowFidelity => Box::new(scratch(1, true)),
        // A margin of −1 stops every run after its third epoch once an incumbent exists.
        Kind::Curve => Box::new(CurveExtrapolation::new(scratch(4, false), 3, -1.0)),
        Kind::Inheritance => Box::new(WeightInheritance::new(scratch(1, false), 8)),
        Kind::Shared => return shared.map(|build| build(seed)),
    })
}

/// Full-fidelity child epochs an estimate of `kind` is measured against (`Compute`): its
/// configured epochs, or one standalone epoch for shared weights.
fn expected_full_epochs(kind: Kind) -> f64 {
    match kind {
        Kind::Curve => 4.0,
        _ => 1.0,
    }
}

/// What every run must show, and what its estimator promises.
fn check(label: &str, kind: Kind, strategy: Strategy, history: &[Evaluation]) {
    assert_eq!(history.len(), EVALUATIONS, "{label}");
    for e in history {
        let m: &Metrics = &e.metrics;
        assert!(
            e.reward.is_finite() && (0.0..=1.0).contains(&m.valid_accuracy),
            "{label}: reward {} accuracy {}",
            e.reward,
            m.valid_accuracy
        );
        let compute = m.compute.expect("every estimate reports its compute");
        assert!(
            (compute.spent + compute.saved - expected_full_epochs(kind)).abs() < 1e-9,
            "{label}: {compute:?}"
        );
        match kind {
            Kind::FromScratch => {
                // The size penalty acts: 10 parameters are far below any child.
                assert!(m.params.unwrap() > 10, "{label}");
                assert!(
                    e.reward < m.valid_accuracy || m.valid_accuracy == 0.0,
                    "{label}: penalty not applied ({} vs {})",
                    e.reward,
                    m.valid_accuracy
                );
                assert_eq!(m.epochs(), 1, "{label}");
                // Full fidelity, every epoch trained: nothing saved.
                assert_eq!((compute.spent, compute.saved), (1.0, 0.0), "{label}");
            }
            Kind::LowFidelity => {
                assert_eq!(e.reward, m.valid_accuracy, "{label}");
                assert_eq!(m.epochs(), 1, "{label}");
                assert!(m.params.is_some(), "{label}");
                // Half the images, 10×10 instead of 14×14 and half the width: well under half
                // the cost of a full-fidelity epoch.
                assert!(
                    compute.spent > 0.0 && compute.spent < 0.5,
                    "{label}: {compute:?}"
                );
            }
            Kind::Curve => {
                // Full fidelity: what was saved is exactly the epochs not trained.
                assert_eq!(compute.spent, m.epochs() as f64, "{label}");
            }
            Kind::Inheritance => {
                // A warm start buys accuracy per epoch, not fewer epochs.
                assert_eq!((compute.spent, compute.saved), (1.0, 0.0), "{label}");
                // Weights are inherited exactly when the strategy names a parent (evolution's
                // mutations; REINFORCE and random search never do).
                assert_eq!(m.inherited(), e.has_parent, "{label}, child {}", e.index);
            }
            Kind::Shared => {
                assert!(m.training.is_none(), "{label}: {m:?}");
                assert!(m.params.is_none(), "{label}");
            }
        }
        if kind != Kind::Inheritance {
            assert!(!m.inherited(), "{label}");
        }
    }
    if kind == Kind::Shared {
        // Two supernet epochs (one per round), booked on each round's first estimate, plus
        // four scorings of 100 of 600 training images' worth of forward passes.
        let spent: f64 = history
            .iter()
            .map(|e| e.metrics.compute.unwrap().spent)
            .sum();
        let expected = 2.0 + 4.0 * 100.0 / (3.0 * task().train.len() as f64);
        assert!(
            (spent - expected).abs() < 1e-9,
            "{label}: {spent} vs {expected}"
        );
    }
    if kind == Kind::Curve {
        // The first child sets the incumbent and trains all 4 epochs; every later one is
        // stopped after 3 and rewarded with its prediction.
        assert!(!history[0].metrics.stopped_early(), "{label}");
        assert_eq!(history[0].metrics.epochs(), 4, "{label}");
        // Four epochs learn: the rewards are real accuracies (measured 0.21–0.68; chance 0.1).
        assert!(history[0].metrics.valid_accuracy > 0.15, "{label}");
        for e in &history[1..] {
            let run = e.metrics.training.as_ref().expect("a training run");
            assert!(run.stopped_early, "{label}, child {}", e.index);
            assert_eq!((run.epochs, run.epochs_saved), (3, 1), "{label}");
            assert_eq!(Some(e.reward), run.predicted_accuracy, "{label}");
        }
    }
    if strategy == Strategy::Evolution {
        // After the random population of 2, every child is a mutation of a parent.
        assert!(history[2..].iter().all(|e| e.has_parent), "{label}");
    } else {
        assert!(history.iter().all(|e| !e.has_parent), "{label}");
    }
    if strategy == Strategy::Reinforce {
        assert!(
            history
                .iter()
                .all(|e| e.baseline.is_some() && e.log_prob.is_some()),
            "{label}"
        );
    }
}

/// Runs the searches of one space (15, or 12 without a supernet) and checks each.
fn matrix<S, F>(name: &str, space: S, factory: F, shared: SharedBuilder<'_, S::Arch>)
where
    S: SearchSpace + Clone + 'static,
    S::Arch: Architecture + Clone + Sync + 'static,
    F: ChildFactory<S::Arch> + Clone + Sync + 'static,
{
    let _turn = turn();
    for (i, kind) in KINDS.into_iter().enumerate() {
        for (j, strategy_kind) in STRATEGIES.into_iter().enumerate() {
            let label = format!("{name} × {strategy_kind:?} × {kind:?}");
            let seed = (10 * i + j) as u64;
            // A fresh search of `rounds` rounds (`None`: no such pairing).
            let build = |rounds: usize| {
                let estimator = estimator(kind, &factory, shared, seed)?;
                let config = SearchConfig {
                    proposals_per_update: 2,
                    updates_per_round: 1,
                    budget: Budget::rounds(rounds),
                    derive: Derive::BestEvaluated,
                    quiet: true,
                };
                Some(
                    Search::new(
                        &space,
                        strategy(strategy_kind, &space, seed),
                        estimator,
                        config,
                    )
                    .unwrap_or_else(|e| panic!("{label}: {e}")),
                )
            };
            let Some(mut search) = build(2) else {
                continue;
            };
            let outcome = search.run().unwrap_or_else(|e| panic!("{label}: {e}"));
            assert_eq!(outcome, Outcome::BudgetReached, "{label}");
            // Stopped after the first round and resumed from its run directory, the same
            // pairing gives the same history as the uninterrupted run.
            let dir = support::scratch_dir(&format!("matrix-{name}-{i}-{j}"));
            let mut first = build(1)
                .unwrap()
                .with_run_dir(RunDir::create(&dir, IfExists::Refuse).unwrap());
            first.run().unwrap_or_else(|e| panic!("{label}: {e}"));
            drop(first);
            let mut resumed = build(2)
                .unwrap()
                .resume(RunDir::open(&dir).unwrap())
                .unwrap_or_else(|e| panic!("{label}: resume: {e}"));
            resumed.run().unwrap_or_else(|e| panic!("{label}: {e}"));
            assert_eq!(
                comparable(resumed.history()),
                comparable(search.history()),
                "{label}: the resumed run differs from the uninterrupted one"
            );
            std::fs::remove_dir_all(&dir).unwrap();
            check(&label, kind, strategy_kind, search.history());
            for e in search.history() {
                let arch = S::Arch::from_json(&e.arch.to_string())
                    .unwrap_or_else(|err| panic!("{label}: {err}"));
                space.validate(&arch).unwrap();
            }
            // The strategy's state saves, loads into a fresh strategy of the same kind and
            // saves back to the same state (burn's optimizer record lists its parameters in
            // hash order, so its bytes are compared by what they decode to elsewhere: the
            // controller's exact-resume test).
            let saved = search.strategy().save_state().unwrap();
            let mut fresh = strategy(strategy_kind, &space, seed + 1000);
            fresh
                .load_state(&saved)
                .unwrap_or_else(|e| panic!("{label}: {e}"));
            let again = fresh.save_state().unwrap();
            assert!(
                without_record(again) == without_record(saved),
                "{label}: the state changed through a save and load"
            );
            let derived = search.derive().unwrap_or_else(|e| panic!("{label}: {e}"));
            space.validate(&derived.arch).unwrap();
            println!(
                "{label}: rewards {:?}",
                search
                    .history()
                    .iter()
                    .map(|e| (e.reward * 1000.0).round() / 1000.0)
                    .collect::<Vec<_>>()
            );
        }
    }
}

/// A strategy state without the bytes of a burn optimizer record.
fn without_record(mut state: serde_json::Value) -> serde_json::Value {
    if let Some(optimizer) = state.get_mut("optimizer").and_then(|o| o.as_object_mut()) {
        optimizer.remove("record");
    }
    state
}

fn shape() -> ImageShape {
    ImageShape {
        channels: task().channels(),
        size: task().image_size(),
        classes: task().classes(),
    }
}

#[test]
fn nas_rl_runs_with_every_strategy_and_estimator() {
    // NAS-RL trains every child (Zoph & Le): the space has no supernet, so no shared weights.
    let space = NasRlSpace::with_options(2, &[1, 3], &[1, 3], &[4, 8], Some(&[1, 2])).unwrap();
    matrix("nas_rl", space, NasRlChild(NasRlNetConfig::new(10)), None);
}

#[test]
fn enas_macro_runs_with_every_strategy_and_estimator() {
    let space = MacroSpace::new(3, &MacroOp::ALL).unwrap();
    let supernet_space = space.clone();
    let shared = move |seed| {
        shared_weights(
            || {
                MacroSupernetConfig::new(10)
                    .with_in_channels(1)
                    .with_image_size(14)
                    .with_channels(4)
                    .init(&supernet_space, &Device::flex().autodiff())
                    .unwrap()
            },
            seed,
        )
    };
    matrix(
        "enas_macro",
        space,
        MacroChild(MacroNetConfig::new(10).with_channels(4)),
        Some(&shared),
    );
}

#[test]
fn enas_micro_runs_with_every_strategy_and_estimator() {
    let space = MicroSpace::new(2, &MicroOp::ALL).unwrap();
    let supernet_space = space.clone();
    let shared = move |seed| {
        shared_weights(
            || {
                MicroSupernetConfig::new(10)
                    .with_in_channels(1)
                    .with_image_size(14)
                    .with_layers(1)
                    .with_channels(4)
                    .init(&supernet_space, &Device::flex().autodiff())
                    .unwrap()
            },
            seed,
        )
    };
    matrix(
        "enas_micro",
        space,
        MicroChild(MicroNetConfig::new(10).with_layers(1).with_channels(4)),
        Some(&shared),
    );
}

#[test]
fn a_user_defined_space_runs_with_every_strategy_and_estimator() {
    let shared = |seed| {
        shared_weights(
            || ChainSupernet::new(3, 8, shape(), &Device::flex().autodiff()),
            seed,
        )
    };
    matrix(
        "chain (user-defined)",
        ChainSpace::new(3).unwrap(),
        ChainChild { channels: 8 },
        Some(&shared),
    );
}
