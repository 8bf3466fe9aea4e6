//! The REINFORCE controller on synthetic tasks with known optima, its skip penalty, its
//! agreement between sampling and scoring, its presets, and exact resume.

use burn::tensor::Device;
use burn_nas_controller::synthetic::agreement;
use burn_nas_controller::{Reinforce, ReinforceConfig, SearchStrategy, StrategyError};
use burn_nas_space::{MacroOp, MacroSpace, MicroSpace, NasRlSpace, SearchSpace};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// NAS-RL's 2×35 LSTM with a bounded, learnable-rate setting for the synthetic task.
fn learner() -> ReinforceConfig {
    ReinforceConfig {
        tanh_constant: Some(2.5),
        lr: 0.02,
        baseline_decay: 0.9,
        ..ReinforceConfig::nas_rl()
    }
}

#[test]
fn skip_penalty_alone_moves_skip_density_to_the_target() {
    let space = MacroSpace::new(8, &MacroOp::ALL).unwrap();
    let config = ReinforceConfig {
        lr: 0.02,
        entropy_weight: 0.0,
        ..ReinforceConfig::enas_macro()
    };
    assert_eq!(config.skip_target, Some(0.4));
    let mut controller = Reinforce::new(space, config.with_seed(3), Device::flex()).unwrap();
    let density = |ps: &[burn_nas_controller::Proposal<_>]| {
        let (on, all) = ps.iter().fold(
            (0, 0),
            |(on, all), p: &burn_nas_controller::Proposal<burn_nas_space::MacroArch>| {
                let bits: Vec<bool> = p
                    .tokens
                    .iter()
                    .filter_map(|t| t.subset())
                    .flatten()
                    .copied()
                    .collect();
                (on + bits.iter().filter(|b| **b).count(), all + bits.len())
            },
        );
        on as f64 / all as f64
    };
    let start = density(&controller.propose(200).unwrap());
    for _ in 0..150 {
        // A constant reward: only the penalty carries signal.
        let results: Vec<_> = controller
            .propose(10)
            .unwrap()
            .into_iter()
            .map(|p| (p, 0.5))
            .collect();
        controller.observe(&results).unwrap();
    }
    let end = density(&controller.propose(400).unwrap());
    println!("skip density {start:.3} -> {end:.3} (target 0.4)");
    assert!((end - 0.4).abs() <= 0.05, "skip density {end}");
}

#[test]
fn sampled_log_probs_equal_rescored_ones() {
    for config in [ReinforceConfig::enas_micro(), ReinforceConfig::nas_rl()] {
        let mut controller = Reinforce::new(MicroSpace::default(), config, Device::flex()).unwrap();
        for p in controller.propose(5).unwrap() {
            let sampled = p.log_prob.unwrap();
            let rescored = controller.log_prob(&p.tokens).unwrap();
            assert!(
                (sampled - rescored).abs() < 1e-5 * sampled.abs().max(1.0),
                "{sampled} vs {rescored}"
            );
            assert!(sampled < 0.0);
        }
    }
    let mut controller = Reinforce::new(
        MacroSpace::default(),
        ReinforceConfig::enas_macro(),
        Device::flex(),
    )
    .unwrap();
    for p in controller.propose(5).unwrap() {
        let rescored = controller.log_prob(&p.tokens).unwrap();
        assert!(
            (p.log_prob.unwrap() - rescored).abs() < 1e-4,
            "{:?} vs {rescored}",
            p.log_prob
        );
    }
}

#[test]
fn save_load_continue_equals_an_uninterrupted_run() {
    let space = MacroSpace::new(5, &MacroOp::ALL).unwrap();
    let target = space.decisions().sample(&mut ChaCha8Rng::seed_from_u64(5));
    let step = |c: &mut Reinforce<MacroSpace>| {
        let ps = c.propose(4).unwrap();
        let tokens: Vec<_> = ps.iter().map(|p| p.tokens.clone()).collect();
        let results: Vec<_> = ps
            .into_iter()
            .map(|p| {
                let r = agreement(&p.tokens, &target);
                (p, r)
            })
            .collect();
        c.observe(&results).unwrap();
        tokens
    };
    let config = learner().with_seed(11);
    let mut straight = Reinforce::new(space.clone(), config.clone(), Device::flex()).unwrap();
    let mut first = Reinforce::new(space.clone(), config.clone(), Device::flex()).unwrap();
    for _ in 0..5 {
        assert_eq!(step(&mut straight), step(&mut first));
    }
    let text = serde_json::to_string(&first.save_state().unwrap()).unwrap();
    let mut resumed = Reinforce::new(space.clone(), config.with_seed(999), Device::flex()).unwrap();
    resumed
        .load_state(&serde_json::from_str(&text).unwrap())
        .unwrap();
    assert_eq!(resumed.baseline(), first.baseline());
    for _ in 0..5 {
        assert_eq!(step(&mut straight), step(&mut resumed));
    }
    // A state for another space is refused.
    let mut other = Reinforce::new(MicroSpace::default(), learner(), Device::flex()).unwrap();
    let state = serde_json::from_str(&text).unwrap();
    assert!(matches!(
        other.load_state(&state),
        Err(StrategyError::State { .. })
    ));
}

#[test]
fn presets_match_the_reference_settings() {
    let nas_rl = ReinforceConfig::nas_rl();
    assert_eq!(
        (nas_rl.layers, nas_rl.hidden, nas_rl.init_range, nas_rl.lr),
        (2, 35, 0.08, 6e-4)
    );
    let macro_ = ReinforceConfig::enas_macro();
    assert_eq!(
        (
            macro_.layers,
            macro_.hidden,
            macro_.lstm_bias,
            macro_.init_range
        ),
        (1, 64, false, 0.1)
    );
    assert_eq!(
        (macro_.lr, macro_.beta1, macro_.eps, macro_.tanh_constant),
        (1e-3, 0.0, 1e-3, Some(1.5))
    );
    assert_eq!(
        (
            macro_.skip_target,
            macro_.skip_weight,
            macro_.entropy_weight,
            macro_.baseline_decay
        ),
        (Some(0.4), 0.8, 1e-4, 0.99)
    );
    let micro = ReinforceConfig::enas_micro();
    assert_eq!(
        (
            micro.lr,
            micro.temperature,
            micro.tanh_constant,
            micro.op_tanh_reduce
        ),
        (3.5e-3, Some(5.0), Some(1.1), 2.5)
    );
    assert_eq!(
        micro.fixed_bias[0].bias,
        vec![0.25, 0.25, -0.25, -0.25, -0.25]
    );
    // The presets build for their spaces, and the micro op biases are refused by a space whose
    // op head has another size.
    Reinforce::new(MicroSpace::default(), micro.clone(), Device::flex()).unwrap();
    Reinforce::new(NasRlSpace::new(4).unwrap(), nas_rl, Device::flex()).unwrap();
    let small = MicroSpace::new(5, &burn_nas_space::MicroOp::ALL[..3]).unwrap();
    assert!(matches!(
        Reinforce::new(small, micro, Device::flex()),
        Err(StrategyError::InvalidSetting { .. })
    ));
}

#[test]
fn greedy_derivation_is_deterministic() {
    let mut c = Reinforce::new(
        MacroSpace::new(4, &MacroOp::ALL).unwrap(),
        learner(),
        Device::flex(),
    )
    .unwrap();
    let a = c.greedy().unwrap();
    let b = c.greedy().unwrap();
    assert_eq!(a.tokens, b.tokens);
    // Its log-probability is scored like any sample's.
    let rescored = c.log_prob(&a.tokens).unwrap();
    assert!((a.log_prob.unwrap() - rescored).abs() < 1e-4);
}
