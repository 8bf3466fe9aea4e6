//! A space defined outside the library (`examples/chain/mod.rs`, the `custom_space` example's)
//! goes through everything a built-in space does: its architectures round-trip through tokens,
//! JSON and DOT; REINFORCE with shared weights and regularized evolution with low-fidelity
//! training search it on real data; successive halving schedules it; the found architecture
//! retrains.

use crate::chain;
use crate::support;

use burn::tensor::Device;
use burn_nas::estimator::{ImageShape, RetrainRegistry};
use burn_nas::prelude::*;
use chain::{ChainArch, ChainChild, ChainSpace, ChainSupernet};
use rand::SeedableRng;

fn shape() -> ImageShape {
    let task = support::task();
    ImageShape {
        channels: task.channels(),
        size: task.image_size(),
        classes: task.classes(),
    }
}

#[test]
fn architectures_round_trip_and_bad_input_is_typed() {
    let space = ChainSpace::new(5).unwrap();
    assert_eq!(space.size().count().round(), 8f64.powi(5));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    for _ in 0..20 {
        let arch = space.sample(&mut rng).unwrap();
        assert_eq!(space.decode(&space.encode(&arch).unwrap()).unwrap(), arch);
        assert_eq!(ChainArch::from_json(&arch.to_json()).unwrap(), arch);
        assert!(arch.to_dot().starts_with("digraph"));
    }
    // Another space's document and a token out of range are typed errors.
    let nas_rl = NasRlSpace::new(2).unwrap().sample(&mut rng).unwrap();
    assert!(matches!(
        ChainArch::from_json(&nas_rl.to_json()),
        Err(ArchError::WrongSpace { .. })
    ));
    let mut tokens = space.encode(&space.sample(&mut rng).unwrap()).unwrap();
    tokens[0] = Token::Choice(9);
    assert!(space.decode(&tokens).is_err());
    assert!(ChainSpace::new(0).is_err());
}

/// ENAS on the user's space: the controller samples chains, the supernet trains on them, every
/// reward is a real accuracy, and the controller's baseline follows the rewards.
#[test]
fn reinforce_with_shared_weights_searches_the_chain_space() {
    let _turn = support::turn();
    let space = ChainSpace::new(3).unwrap();
    let device = Device::flex();
    device.seed(0);
    let supernet = ChainSupernet::new(3, 16, shape(), &device.clone().autodiff());
    let estimator = SharedWeights::new(
        supernet,
        support::task(),
        support::training(1, 0),
        100,
        device.clone(),
    )
    .unwrap();
    let controller = ReinforceConfig {
        fixed_bias: Vec::new(),
        learned_bias: Vec::new(),
        skip_target: None,
        skip_weight: 0.0,
        seed: 4,
        ..ReinforceConfig::enas_macro()
    };
    let strategy = Reinforce::new(space.clone(), controller, device.clone()).unwrap();
    let mut config = SearchConfig::enas_micro(4);
    config.updates_per_round = 3;
    config.proposals_per_update = 4;
    config.quiet = true;
    let mut search = Search::new(&space, strategy, estimator, config).unwrap();
    assert_eq!(search.run().unwrap(), Outcome::BudgetReached);
    let history = search.history();
    assert_eq!(history.len(), 4 * 3 * 4);
    assert!(history.iter().all(|e| (0.0..=1.0).contains(&e.reward)));
    assert!(
        history
            .iter()
            .all(|e| e.baseline.is_some() && e.log_prob.is_some())
    );
    // The shared weights learn: the rewards rise from chance (0.1) round after round (measured:
    // 0.11, 0.16, 0.16, 0.27).
    let means: Vec<f64> = (0..4)
        .map(|round| {
            let of: Vec<f64> = history
                .iter()
                .filter(|e| e.round == round)
                .map(|e| e.reward)
                .collect();
            of.iter().sum::<f64>() / of.len() as f64
        })
        .collect();
    assert!(
        means[3] > 0.2 && means[3] > means[0] + 0.08,
        "mean reward per round {means:?}"
    );
    let derived = search.derive().unwrap();
    space.validate(&derived.arch).unwrap();
}

/// Evolution with low-fidelity training on the user's space, then the found chain retrained as a
/// fixed network: children learn, mutations stay in the space, and the retrained network beats
/// chance by far.
#[test]
fn evolution_with_low_fidelity_searches_and_retrains_the_chain_space() {
    let _turn = support::turn();
    let space = ChainSpace::new(3).unwrap();
    let device = Device::flex();
    let child = ChainChild { channels: 8 };
    let estimator = TrainFromScratch::new(
        child.clone(),
        support::task(),
        support::half_data(1),
        support::training(1, 2),
        device.clone(),
    )
    .unwrap();
    let strategy = RegularizedEvolution::new(
        space.clone(),
        EvolutionConfig {
            population: 4,
            sample_size: 2,
            seed: 2,
        },
    )
    .unwrap();
    let mut config = SearchConfig::multi_trial(3, 3);
    config.quiet = true;
    let mut search = Search::new(&space, strategy, estimator, config).unwrap();
    assert_eq!(search.run().unwrap(), Outcome::BudgetReached);
    let history = search.history();
    assert_eq!(history.len(), 9);
    // After the random initial population, children are mutations.
    assert!(history.iter().skip(4).all(|e| e.has_parent));
    assert!(
        history
            .iter()
            .all(|e| e.metrics.epochs() == 1 && e.metrics.params.is_some())
    );
    let derived = search.derive().unwrap();
    // Retrained from its JSON document, as the `retrain` tool does: through a registry that
    // knows the user's space beside a built-in one.
    let mut registry = RetrainRegistry::new();
    registry
        .register(NasRlChild(NasRlNetConfig::new(10)))
        .unwrap()
        .register(child)
        .unwrap();
    let json = derived.arch.to_json();
    let retrained = registry
        .retrain_json(
            &json,
            support::task(),
            &support::training(3, 2),
            &device,
            |_| {},
        )
        .unwrap();
    assert_eq!(retrained.space, "chain");
    assert_eq!(
        ChainArch::from_json(&retrained.arch_json).unwrap(),
        derived.arch
    );
    assert!(!retrained.weights.is_empty());
    // Measured: 0.71 (chance 0.10).
    let test = retrained.report.test_accuracy.unwrap();
    assert!(test > 0.5, "retrained test accuracy {test}");
    // A space nobody registered is a typed error naming those that are.
    let micro = MicroSpace::default()
        .sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0))
        .unwrap()
        .to_json();
    let err = registry
        .retrain_json(
            &micro,
            support::task(),
            &support::training(1, 2),
            &device,
            |_| {},
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("chain") && err.to_string().contains("enas_micro"),
        "{err}"
    );
}

/// Successive halving schedules the user's space like any other.
#[test]
fn successive_halving_schedules_the_chain_space() {
    let _turn = support::turn();
    let space = ChainSpace::new(3).unwrap();
    let config = HalvingConfig {
        eta: 2,
        min_budget: 1,
        max_budget: 2,
        axis: BudgetAxis::Epochs,
        full: support::half_data(2),
        schedule: Schedule::SuccessiveHalving { candidates: 4 },
    };
    let factory: burn_nas::search::EstimatorFactory<ChainArch> = Box::new(|fidelity: &Fidelity| {
        let estimator = TrainFromScratch::new(
            ChainChild { channels: 8 },
            support::task(),
            fidelity.clone(),
            support::training(fidelity.epochs, 5),
            Device::flex(),
        )?;
        Ok(Box::new(estimator) as Box<dyn Estimator<ChainArch>>)
    });
    let mut search =
        MultiFidelitySearch::new(&space, RandomSearch::new(space.clone(), 3), factory, config)
            .unwrap();
    let outcome = search.run().unwrap();
    assert_eq!(search.history().len(), 4 + 2);
    assert_eq!(outcome.budget_spent, 4 + 2 * 2);
    space.validate(&outcome.best).unwrap();
}

/// A user-defined space's architecture JSON holds under damage as the built-in spaces' do
/// (`crates/burn-nas-space/tests/space/parsers_fuzz.rs`): a damaged document parses into a
/// valid chain that round-trips, or fails with a typed error — read by the space's own
/// `from_json` and by `space_of`, which the retrain registry reads first.
#[test]
fn damaged_chain_json_parses_or_fails_typed() {
    use crate::checkpoint_fuzz::{fixed_runner, paths, replace_or_remove, replacement};
    use proptest::prelude::*;
    use proptest::sample::Index;
    use serde_json::Value;
    use std::cell::Cell;

    let space = ChainSpace::new(4).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let documents: Vec<Value> = (0..4)
        .map(|_| serde_json::from_str(&space.sample(&mut rng).unwrap().to_json()).unwrap())
        .collect();
    let (parsed, refused) = (Cell::new(0), Cell::new(0));
    let damages = prop::collection::vec((any::<Index>(), prop::option::of(replacement())), 1..4);
    fixed_runner(400)
        .run(&(0..documents.len(), damages), |(d, damages)| {
            let mut value = documents[d].clone();
            for (at, by) in &damages {
                let mut all = Vec::new();
                paths(&value, &mut Vec::new(), &mut all);
                replace_or_remove(&mut value, at.get::<Vec<String>>(&all), by.as_ref());
            }
            let text = value.to_string();
            let _ = burn_nas::space::space_of(&text);
            match ChainArch::from_json(&text) {
                Ok(arch) => {
                    arch.validate().unwrap();
                    prop_assert_eq!(ChainArch::from_json(&arch.to_json()).unwrap(), arch);
                    parsed.set(parsed.get() + 1);
                }
                Err(e) => {
                    // Typed: the JSON path, the space, the version, or the chain's own check.
                    prop_assert!(
                        matches!(
                            e,
                            ArchError::InvalidJson { .. }
                                | ArchError::WrongSpace { .. }
                                | ArchError::UnsupportedVersion { .. }
                                | ArchError::Custom(_)
                        ),
                        "{e:?}"
                    );
                    refused.set(refused.get() + 1);
                }
            }
            Ok(())
        })
        .unwrap();
    // Both outcomes happen, so neither branch is vacuous.
    assert!(
        parsed.get() > 0 && refused.get() > 0,
        "{parsed:?} {refused:?}"
    );
}
