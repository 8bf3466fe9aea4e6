//! NASH-style hill climbing by network morphisms (issue 17): children start from their
//! parent's trained weights carried over exactly, so the climb keeps what its ancestors learned;
//! the strategy resumes exactly from its saved state.

mod support;

use burn::tensor::Device;
use burn_nas::estimator::{ChildFactory, ImageShape};
use burn_nas::prelude::*;
use burn_nas::space::NasRlLayer;
use burn_nas::space::nas_rl::NasRlMorphism;
use burn_nas::space::nn::{export_params, import_params};
use support::{task, training, turn};

fn layer(filters: usize, stride: usize, inputs: Vec<usize>) -> NasRlLayer {
    NasRlLayer::square(3, filters, stride, inputs)
}

fn start() -> NasRlArch {
    NasRlArch {
        layers: vec![layer(24, 1, vec![]), layer(36, 2, vec![0])],
    }
}

fn net() -> NasRlNetConfig {
    NasRlNetConfig::new(10).with_filter_scale(0.25)
}

fn climber(seed: u64) -> MorphismHillClimbing<NasRlArch, NasRlMorphisms> {
    let space = NasRlSpace::new(2).unwrap().with_strides(&[1, 2]).unwrap();
    MorphismHillClimbing::new(
        NasRlMorphisms::new(space, task().image_size(), 5),
        start(),
        HillClimbingConfig {
            morphisms_per_child: 3,
            seed,
        },
    )
}

fn from_scratch() -> TrainFromScratch<NasRlChild> {
    TrainFromScratch::new(
        NasRlChild(net()),
        task(),
        Fidelity::full(1),
        training(1, 3),
        Device::flex(),
    )
    .unwrap()
}

/// Best reward of each step of a 4-step climb (3 children a step, 1 epoch each).
fn climb(estimator: impl Estimator<NasRlArch> + 'static) -> (Vec<f64>, Vec<bool>) {
    let space = NasRlSpace::new(2).unwrap();
    let mut config = SearchConfig::multi_trial(4, 3);
    config.quiet = true;
    let mut search = Search::new(&space, climber(5), estimator, config).unwrap();
    search.run().unwrap();
    let history = search.history();
    assert_eq!(history.len(), 12);
    let best = (0..4)
        .map(|round| {
            history
                .iter()
                .filter(|e| e.round == round)
                .map(|e| e.reward)
                .fold(f64::MIN, f64::max)
        })
        .collect();
    (best, history.iter().map(|e| e.metrics.inherited).collect())
}

#[test]
fn morphed_children_keep_their_ancestors_training() {
    let _turn = turn();
    let (inherited, warm) = climb(WeightInheritance::new(from_scratch(), 6));
    // Every child after the first step starts from its parent's network.
    assert_eq!(warm, [vec![false; 3], vec![true; 9]].concat());
    let (scratch, cold) = climb(from_scratch());
    assert!(cold.iter().all(|w| !w));
    println!("best reward per step: inherited {inherited:?}, from scratch {scratch:?}");
    // The first step is the same (nothing to inherit yet); afterwards every step of the climb
    // carries the training of all earlier ones, where from scratch each child gets one epoch.
    assert!((inherited[0] - scratch[0]).abs() < 1e-9);
    assert!(inherited[3] > inherited[0] + 0.05, "{inherited:?}");
    assert!(
        inherited[3] > scratch[3] + 0.05,
        "{inherited:?} vs {scratch:?}"
    );
}

#[test]
fn the_child_factory_carries_weights_over_only_along_a_morphism() {
    let _turn = turn();
    let device = Device::flex();
    let parent = start();
    let factory = NasRlChild(net());
    let shape = ImageShape {
        channels: 1,
        size: 14,
        classes: 10,
    };
    let parent_net = factory.build(&parent, shape, 1.0, 1.0, &device).unwrap();
    let params = export_params(&parent_net);
    let child = NasRlMorphism::Deepen {
        after: 0,
        kernel: 3,
    }
    .apply(&parent, 14)
    .unwrap();
    let moved = factory
        .transfer(&parent, &child, &params, shape, 1.0, 0)
        .expect("a morphism");
    assert_eq!(moved.len(), params.len() + 5, "one more conv + BN layer");
    let child_net = factory.build(&child, shape, 1.0, 1.0, &device).unwrap();
    let (_, report) = import_params(child_net, &moved);
    assert!(
        report.kept.is_empty(),
        "not carried over: {:?}",
        report.kept
    );
    // Narrowing is no morphism: weight inheritance falls back to copying matching tensors.
    let mut narrower = parent.clone();
    narrower.layers[1].filters = 24;
    assert!(
        factory
            .transfer(&parent, &narrower, &params, shape, 1.0, 0)
            .is_none()
    );
}

#[test]
fn the_climber_resumes_exactly_and_refuses_other_states() {
    let mut a = climber(9);
    let first = a.propose(3).unwrap();
    assert_eq!(first[0].arch, start());
    assert!(first.iter().all(|p| p.parent.is_none()));
    let rewards: Vec<_> = first.into_iter().zip([0.3, 0.6, 0.5]).collect();
    let best = rewards[1].0.arch.clone();
    a.observe(&rewards).unwrap();
    assert_eq!(a.parent(), Some((&best, 0.6)));
    let saved = a.save_state().unwrap();
    let mut b = climber(0);
    b.load_state(&saved).unwrap();
    let (pa, pb) = (a.propose(4).unwrap(), b.propose(4).unwrap());
    assert_eq!(pa, pb);
    assert!(pa.iter().all(|p| p.parent.as_ref() == Some(&best)));
    // Children differ from their parent and are morphisms of it.
    for p in &pa {
        assert_ne!(p.arch, best);
        NasRlMorphism::between(&best, &p.arch, task().image_size()).unwrap();
    }
    let random = RandomSearch::new(NasRlSpace::new(2).unwrap(), 0)
        .save_state()
        .unwrap();
    let err = b.load_state(&random).unwrap_err();
    assert!(err.to_string().contains("random"), "{err}");
    let bad = a.observe(&[(pa[0].clone(), f64::NAN)]).unwrap_err();
    assert!(matches!(bad, StrategyError::BadReward { .. }), "{bad}");
}
