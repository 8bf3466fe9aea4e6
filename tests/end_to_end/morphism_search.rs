//! NASH-style hill climbing by network morphisms (issue 17): children start from their
//! parent's trained weights carried over exactly, so the climb keeps what its ancestors learned;
//! the strategy resumes exactly from its saved state.

use crate::support;

use burn::tensor::Device;
use burn_nas::estimator::{ChildFactory, ImageShape};
use burn_nas::nn::{export_params, import_params};
use burn_nas::prelude::*;
use burn_nas::space::NasRlLayer;
use burn_nas::space::enas_macro::MacroMorphism;
use burn_nas::space::enas_micro::MicroMorphism;
use burn_nas::space::nas_rl::NasRlMorphism;
use burn_nas::space::{Architecture, MacroArch, MacroOp, MacroSpace, MicroSpace, SearchSpace};
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

/// Best reward of each step of a 4-step climb (3 children a step, 1 epoch each), and which
/// evaluations started from a parent's network.
fn climb<A: Architecture + 'static>(
    space: &impl SearchSpace<Arch = A>,
    climber: impl SearchStrategy<A> + 'static,
    estimator: impl Estimator<A> + 'static,
) -> (Vec<f64>, Vec<bool>) {
    let mut config = SearchConfig::multi_trial(4, 3);
    config.quiet = true;
    let mut search = Search::new(space, climber, estimator, config).unwrap();
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
    (
        best,
        history.iter().map(|e| e.metrics.inherited()).collect(),
    )
}

fn nas_rl_climb(estimator: impl Estimator<NasRlArch> + 'static) -> (Vec<f64>, Vec<bool>) {
    climb(&NasRlSpace::new(2).unwrap(), climber(5), estimator)
}

/// The climb with inheritance gains on the climb from scratch: every step after the first
/// carries the training of all earlier ones, where from scratch each child gets one epoch.
fn check_inheritance_pays(
    (inherited, warm): (Vec<f64>, Vec<bool>),
    (scratch, cold): (Vec<f64>, Vec<bool>),
) {
    // Every child after the first step starts from its parent's network.
    assert_eq!(warm, [vec![false; 3], vec![true; 9]].concat());
    assert!(cold.iter().all(|w| !w));
    println!("best reward per step: inherited {inherited:?}, from scratch {scratch:?}");
    // The first step is the same (nothing to inherit yet).
    assert!((inherited[0] - scratch[0]).abs() < 1e-9);
    assert!(inherited[3] > inherited[0] + 0.05, "{inherited:?}");
    assert!(
        inherited[3] > scratch[3] + 0.05,
        "{inherited:?} vs {scratch:?}"
    );
}

#[test]
fn morphed_children_keep_their_ancestors_training() {
    let _turn = turn();
    check_inheritance_pays(
        nas_rl_climb(WeightInheritance::new(from_scratch(), 6)),
        nas_rl_climb(from_scratch()),
    );
}

/// A 6-layer macro network of separable 3×3 convolutions without skips, 8 channels.
fn macro_start() -> MacroArch {
    MacroArch::from_enas_string("1 1 0 1 0 0 1 0 0 0 1 0 0 0 0 1 0 0 0 0 0").unwrap()
}

fn macro_from_scratch() -> TrainFromScratch<MacroChild> {
    TrainFromScratch::new(
        MacroChild(MacroNetConfig::new(10).with_channels(8)),
        task(),
        Fidelity::full(1),
        training(1, 3),
        Device::flex(),
    )
    .unwrap()
}

fn macro_climb(estimator: impl Estimator<MacroArch> + 'static) -> (Vec<f64>, Vec<bool>) {
    let space = MacroSpace::new(6, &MacroOp::ALL).unwrap();
    let climber = MorphismHillClimbing::new(
        MacroMorphisms::new(space.clone(), 8),
        macro_start(),
        HillClimbingConfig {
            morphisms_per_child: 3,
            seed: 5,
        },
    );
    climb(&space, climber, estimator)
}

#[test]
fn morphed_macro_children_keep_their_ancestors_training() {
    let _turn = turn();
    check_inheritance_pays(
        macro_climb(WeightInheritance::new(macro_from_scratch(), 6)),
        macro_climb(macro_from_scratch()),
    );
}

/// Each factory's transfer gives a child network with the parent's logits (eval mode), and
/// declines what is no morphism.
#[test]
fn macro_and_micro_factories_carry_the_function_over() {
    let _turn = turn();
    let device = Device::flex();
    let shape = ImageShape {
        channels: 1,
        size: 14,
        classes: 10,
    };
    let images = burn::tensor::Tensor::<4>::random(
        [8, 1, 14, 14],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    );
    fn check<A, F: ChildFactory<A>>(
        factory: &F,
        parent: &A,
        child: &A,
        not_a_morph: &A,
        shape: ImageShape,
        images: &burn::tensor::Tensor<4>,
    ) where
        F::Net: Network + burn::module::Module,
    {
        let device = Device::flex();
        let parent_net = factory.build(parent, shape, 1.0, 1.0, &device).unwrap();
        let params = export_params(&parent_net);
        let moved = factory
            .transfer(parent, child, &params, shape, 1.0, 0)
            .expect("a morphism");
        let (child_net, report) = import_params(
            factory.build(child, shape, 1.0, 1.0, &device).unwrap(),
            &moved,
        );
        assert!(
            report.kept.is_empty(),
            "not carried over: {:?}",
            report.kept
        );
        let logits = |net: &F::Net| net.forward(images.clone(), Mode::EVAL);
        let d = (logits(&parent_net) - logits(&child_net))
            .abs()
            .max()
            .into_scalar::<f32>();
        assert!(d <= 1e-4, "logits differ by {d}");
        assert!(
            factory
                .transfer(parent, not_a_morph, &params, shape, 1.0, 0)
                .is_none()
        );
    }
    let parent = macro_start();
    let child = [
        MacroMorphism::AddSkip { from: 0, to: 5 },
        MacroMorphism::EnlargeKernel { layer: 2 },
        MacroMorphism::Deepen { after: 5 },
    ]
    .iter()
    .try_fold(parent.clone(), |a, m| m.apply(&a))
    .unwrap();
    let mut pooled = parent.clone();
    pooled.layers[1].op = MacroOp::MaxPool3x3;
    let factory = MacroChild(MacroNetConfig::new(10).with_channels(8));
    check(&factory, &parent, &child, &pooled, shape, &images);

    let space = MicroSpace::default();
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(4);
    let parent = space.sample(&mut rng).unwrap();
    let child = MicroMorphism::neighbours(&space, &parent)
        .iter()
        .try_fold(parent.clone(), |a, m| m.apply(&a))
        .unwrap();
    assert_ne!(child, parent);
    let other = space.sample(&mut rng).unwrap();
    let factory = MicroChild(
        MicroNetConfig::new(10)
            .with_layers(2)
            .with_channels(4)
            .with_aux_head(false),
    );
    check(&factory, &parent, &child, &other, shape, &images);
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

/// The macro and micro climbers propose morphisms of their parent, encoded in the space (the
/// macro one at a deeper space's depth once a layer is added).
#[test]
fn macro_and_micro_climbers_propose_morphisms_of_the_parent() {
    let space = MacroSpace::new(6, &MacroOp::ALL).unwrap();
    let mut climb = MorphismHillClimbing::new(
        MacroMorphisms::new(space.clone(), 8),
        macro_start(),
        HillClimbingConfig {
            morphisms_per_child: 5,
            seed: 1,
        },
    );
    let mut parent = macro_start();
    let mut deeper = 0;
    for step in 0..4 {
        let proposals = climb.propose(6).unwrap();
        for p in &proposals {
            if step > 0 {
                assert_eq!(p.parent.as_ref(), Some(&parent));
            }
            let from = p.parent.as_ref().unwrap_or(&parent);
            MacroMorphism::between(from, &p.arch).unwrap();
            let depth = MacroSpace::new(p.arch.layers.len(), &MacroOp::ALL).unwrap();
            assert_eq!(depth.decode(&p.tokens).unwrap(), p.arch);
            deeper += usize::from(p.arch.layers.len() > from.layers.len());
        }
        // The last proposal wins: the climb goes on from it.
        parent = proposals.last().unwrap().arch.clone();
        let rewards: Vec<_> = proposals
            .into_iter()
            .enumerate()
            .map(|(i, p)| (p, i as f64 / 10.0))
            .collect();
        climb.observe(&rewards).unwrap();
    }
    assert!(deeper > 0, "no new layer in 24 children");
    assert!(parent.layers.len() <= 8);

    let space = MicroSpace::default();
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(3);
    let start = std::iter::repeat_with(|| space.sample(&mut rng).unwrap())
        .find(|a| MicroMorphism::neighbours(&space, a).len() >= 2)
        .unwrap();
    let mut climb = MorphismHillClimbing::new(
        MicroMorphisms::new(space.clone()),
        start.clone(),
        HillClimbingConfig::default(),
    );
    let first = climb.propose(4).unwrap();
    for p in &first[1..] {
        assert_ne!(p.arch, start);
        let ops = MicroMorphism::between(&start, &p.arch).unwrap();
        assert!(!ops.is_empty() && ops.len() <= 5);
        assert_eq!(space.decode(&p.tokens).unwrap(), p.arch);
    }
}
