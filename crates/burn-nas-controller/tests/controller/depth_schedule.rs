//! NAS-RL's depth schedule (Zoph & Le 2017): the controller samples shallow children first and
//! deeper ones as the search goes on, with one LSTM throughout; the schedule survives a
//! save/load, and pairings that cannot work are refused when the controller is built.

use burn::tensor::Device;
use burn_nas_controller::synthetic::agreement;
use burn_nas_controller::{
    DepthSchedule, Proposal, Reinforce, ReinforceConfig, SearchStrategy, StrategyError,
};
use burn_nas_space::{MicroSpace, NasRlArch, NasRlSpace, SearchSpace, Token};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The synthetic-task settings of `tests/controller/reinforce.rs` (NAS-RL's LSTM, unbounded logits,
/// lr 0.01, a position embedding, an entropy bonus scaled to the decision units).
fn learner(units: usize, seed: u64) -> ReinforceConfig {
    ReinforceConfig {
        tanh_constant: None,
        lr: 0.01,
        entropy_loss_weight: 0.2 / units as f64,
        baseline_decay: 0.9,
        position_embedding: true,
        seed,
        ..ReinforceConfig::nas_rl()
    }
}

/// Decision units of `tokens`: one per choice, one per skip bit.
fn units(tokens: &[Token]) -> usize {
    tokens
        .iter()
        .map(|t| t.subset().map_or(1, <[bool]>::len))
        .sum()
}

/// Each proposal rewarded by the share of `target`'s decision units it gets right: a shallow
/// child can only earn its own layers' share, so a unit is worth the same at every depth (as
/// the entropy bonus assumes).
fn rewarded(
    proposals: Vec<Proposal<NasRlArch>>,
    target: &[Token],
) -> Vec<(Proposal<NasRlArch>, f64)> {
    proposals
        .into_iter()
        .map(|p| {
            let prefix = &target[..p.tokens.len()];
            let r = agreement(&p.tokens, prefix) * units(prefix) as f64 / units(target) as f64;
            (p, r)
        })
        .collect()
}

fn mean(results: &[(Proposal<NasRlArch>, f64)]) -> f64 {
    results.iter().map(|(_, r)| r).sum::<f64>() / results.len() as f64
}

/// Mean agreement of the first layer's decisions with the target's (the part every depth
/// shares).
fn first_layer(results: &[(Proposal<NasRlArch>, f64)], target: &[Token], block: usize) -> f64 {
    results
        .iter()
        .map(|(p, _)| agreement(&p.tokens[..block], &target[..block]))
        .sum::<f64>()
        / results.len() as f64
}

/// Per-update mean reward and mean first-layer agreement of `updates` updates of 40 samples on
/// the 8-layer hidden-target task, with `schedule` or at full depth throughout.
fn hidden_target_run(schedule: Option<DepthSchedule>, updates: u64) -> (Vec<f64>, Vec<f64>) {
    let space = NasRlSpace::new(8).unwrap();
    let block = 4; // height, width, filters, skip set
    let target = space.decisions().sample(&mut ChaCha8Rng::seed_from_u64(3));
    let units = 8 * 3 + 28; // choices + skip bits at full depth
    let mut controller = Reinforce::new(space.clone(), learner(units, 1), Device::flex()).unwrap();
    if let Some(schedule) = schedule {
        controller = controller.with_depth_schedule(schedule).unwrap();
    }
    let (mut means, mut first_layers) = (Vec::new(), Vec::new());
    for update in 0..updates {
        let expected = schedule.map_or(8, |s| s.depth_at(update * 40, 8));
        assert_eq!(controller.active_depth(), schedule.map(|_| expected));
        let results = rewarded(controller.propose(40).unwrap(), &target);
        for (p, _) in &results {
            assert_eq!(p.arch.layers.len(), expected, "update {update}");
            assert_eq!(p.tokens.len(), expected * block);
        }
        means.push(mean(&results));
        first_layers.push(first_layer(&results, &target, block));
        controller.observe(&results).unwrap();
    }
    assert_eq!(controller.children(), updates * 40);
    (means, first_layers)
}

fn average(v: &[f64], range: std::ops::Range<usize>) -> f64 {
    v[range.clone()].iter().sum::<f64>() / range.len() as f64
}

#[test]
fn depth_grows_by_the_schedule_and_learning_carries_across_depths() {
    // 8 layers without strides: 2 layers for the first 2,000 children, then 4, 6 and 8 (50
    // updates of 40 at each depth), then 150 more updates at full depth.
    let schedule = DepthSchedule {
        start: 2,
        step: 2,
        every: 2_000,
    };
    let (means, first_layers) = hidden_target_run(Some(schedule), 300);
    let shallow_start = average(&first_layers, 0..5);
    let shallow_end = average(&first_layers, 45..50);
    let deep_end = average(&first_layers, 295..300);
    let full_first = average(&means, 150..155);
    let full_last = average(&means, 295..300);
    println!(
        "first layer {shallow_start:.3} -> {shallow_end:.3} at 2 layers -> {deep_end:.3} at 8; \
         reward at 8 layers {full_first:.3} -> {full_last:.3}"
    );
    // Measured (seed 1): first layer 0.250 -> 0.96 at 2 layers, 0.99 at the end; reward at
    // 8 layers 0.60 -> 0.73 (docs/controller.md). What the 2-layer children taught is kept
    // when the children grow (one LSTM), and the deeper decisions are learned on top of it.
    assert!(
        shallow_end > shallow_start + 0.5,
        "{shallow_start} -> {shallow_end}"
    );
    assert!(deep_end >= shallow_end - 0.1, "{shallow_end} -> {deep_end}");
    assert!(full_last > full_first + 0.07, "{full_first} -> {full_last}");
    assert!(full_last >= 0.65, "reward at full depth {full_last}");
}

#[test]
fn batches_mixing_depths_are_scored_as_sampled() {
    let space = NasRlSpace::new(6).unwrap().with_strides(&[1, 2]).unwrap();
    let schedule = DepthSchedule {
        start: 2,
        step: 2,
        every: 4,
    };
    let mut controller = Reinforce::new(space, learner(30, 5), Device::flex())
        .unwrap()
        .with_depth_schedule(schedule)
        .unwrap();
    let shallow = controller.propose(4).unwrap();
    controller
        .observe(
            &shallow
                .iter()
                .cloned()
                .map(|p| (p, 0.5))
                .collect::<Vec<_>>(),
        )
        .unwrap();
    assert_eq!(controller.active_depth(), Some(4));
    let deeper = controller.propose(4).unwrap();
    // Sampled and re-scored log-probabilities agree at either depth.
    for p in &deeper {
        let rescored = controller.log_prob(&p.tokens).unwrap();
        let sampled = p.log_prob.unwrap();
        assert!((rescored - sampled).abs() < 1e-4, "{rescored} vs {sampled}");
    }
    assert!(controller.log_prob(&shallow[0].tokens).is_ok());
    // One update over children of both depths (a batch that straddles a growth).
    let mixed: Vec<_> = shallow
        .into_iter()
        .chain(deeper)
        .enumerate()
        .map(|(i, p)| (p, i as f64 / 8.0))
        .collect();
    controller.observe(&mixed).unwrap();
    assert_eq!(controller.children(), 12);
    assert_eq!(controller.active_depth(), Some(6));
    assert!(controller.stats().loss.is_finite());
    // Tokens of a depth the schedule never visits are refused with a typed error.
    let odd = vec![Token::Choice(0); 3];
    assert!(controller.log_prob(&odd).is_err());
}

#[test]
fn a_resumed_schedule_continues_at_the_same_depth() {
    let space = NasRlSpace::new(6).unwrap();
    let schedule = DepthSchedule {
        start: 2,
        step: 2,
        every: 6,
    };
    let target = space.decisions().sample(&mut ChaCha8Rng::seed_from_u64(9));
    let build = |seed| {
        Reinforce::new(space.clone(), learner(30, seed), Device::flex())
            .unwrap()
            .with_depth_schedule(schedule)
            .unwrap()
    };
    let step = |c: &mut Reinforce<NasRlSpace>| {
        let results = rewarded(c.propose(4).unwrap(), &target);
        let tokens: Vec<_> = results.iter().map(|(p, _)| p.tokens.clone()).collect();
        c.observe(&results).unwrap();
        tokens
    };
    let mut straight = build(11);
    let mut first = build(11);
    for _ in 0..3 {
        assert_eq!(step(&mut straight), step(&mut first));
    }
    let saved = first.save_state().unwrap();
    let mut resumed = build(999);
    resumed.load_state(&saved).unwrap();
    assert_eq!(resumed.children(), 12);
    assert_eq!(resumed.active_depth(), Some(6));
    for _ in 0..3 {
        assert_eq!(step(&mut straight), step(&mut resumed));
    }
    // A controller with another schedule (or none) refuses the state.
    let mut other = Reinforce::new(space.clone(), learner(30, 11), Device::flex())
        .unwrap()
        .with_depth_schedule(DepthSchedule {
            every: 7,
            ..schedule
        })
        .unwrap();
    let err = other.load_state(&saved).unwrap_err();
    assert!(
        matches!(err, StrategyError::State { .. }) && err.to_string().contains("2,2,6"),
        "{err}"
    );
    let mut plain = Reinforce::new(space, learner(30, 11), Device::flex()).unwrap();
    assert!(matches!(
        plain.load_state(&saved),
        Err(StrategyError::State { .. })
    ));
}

#[test]
fn impossible_schedules_are_refused_when_the_controller_is_built() {
    let config = ReinforceConfig::nas_rl();
    // A space of fixed shape.
    let err = Reinforce::new(MicroSpace::default(), config.clone(), Device::flex())
        .unwrap()
        .with_depth_schedule(DepthSchedule::paper())
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            StrategyError::InvalidSetting {
                field: "depth_schedule",
                ..
            }
        ),
        "{err}"
    );
    // Starting deeper than the space.
    let err = Reinforce::new(NasRlSpace::new(4).unwrap(), config.clone(), Device::flex())
        .unwrap()
        .with_depth_schedule(DepthSchedule::paper())
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("deeper than the space's 4"),
        "{err}"
    );
    // A schedule that cannot be followed, and text that is not one.
    let zero = DepthSchedule {
        start: 2,
        step: 0,
        every: 10,
    };
    let err = Reinforce::new(NasRlSpace::new(4).unwrap(), config, Device::flex())
        .unwrap()
        .with_depth_schedule(zero)
        .err()
        .unwrap();
    assert!(err.to_string().contains("depth_schedule.step"), "{err}");
    for text in ["6,2", "6,2,x", "0,2,1600", "6,2,1600,1"] {
        assert!(text.parse::<DepthSchedule>().is_err(), "{text}");
    }
    assert_eq!(
        "6, 2, 1600".parse::<DepthSchedule>().unwrap(),
        DepthSchedule::paper()
    );
    assert_eq!(DepthSchedule::paper().to_string(), "6,2,1600");
}

#[test]
fn a_shallower_nas_rl_space_is_a_prefix_of_the_deeper_one() {
    let space = NasRlSpace::new(6)
        .unwrap()
        .with_strides(&[1, 2, 3])
        .unwrap();
    assert_eq!(space.depth(), Some(6));
    let shallow = space.at_depth(3).unwrap();
    assert_eq!(shallow.depth(), Some(3));
    assert!(
        space
            .decisions()
            .as_slice()
            .starts_with(shallow.decisions().as_slice())
    );
    assert_eq!(shallow.strides(), space.strides());
    assert!(space.at_depth(0).is_err());
    assert!(MicroSpace::default().at_depth(3).is_err());
}
