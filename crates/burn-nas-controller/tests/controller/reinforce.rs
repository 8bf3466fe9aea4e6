//! The REINFORCE controller on synthetic tasks with known optima, its skip penalty, its
//! agreement between sampling and scoring, its presets, and exact resume.

use burn::tensor::Device;
use burn_nas_controller::RandomSearch;
use burn_nas_controller::synthetic::agreement;
use burn_nas_controller::{Reinforce, ReinforceConfig, SearchStrategy, StrategyError};
use burn_nas_space::{
    ArchError, Decision, DecisionGroup, Decisions, MacroOp, MacroSpace, MicroSpace, NasRlSpace,
    SearchSpace, Token,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// NAS-RL's 2×35 LSTM with bounded logits, a faster learning rate and a position embedding
/// (so that save/load and greedy derivation cover every kind of parameter).
fn learner() -> ReinforceConfig {
    ReinforceConfig {
        tanh_constant: Some(2.5),
        lr: 0.02,
        baseline_decay: 0.9,
        position_embedding: true,
        ..ReinforceConfig::nas_rl()
    }
}

/// A space of `n` independent 4-way choices sharing one head: the controller must tell the
/// positions apart through its LSTM state (and position embedding).
#[derive(Clone)]
struct Choices {
    decisions: Decisions,
}

impl Choices {
    fn new(n: usize) -> Self {
        let block = vec![Decision::categorical(4, "op")];
        let group = DecisionGroup {
            name: "g".into(),
            initial_anchors: 0,
            blocks: vec![block; n],
        };
        Choices {
            decisions: Decisions::new(vec![group]).unwrap(),
        }
    }
}

impl SearchSpace for Choices {
    type Arch = Vec<Token>;
    fn name(&self) -> &str {
        "choices"
    }
    fn decisions(&self) -> &Decisions {
        &self.decisions
    }
    fn decode(&self, tokens: &[Token]) -> Result<Vec<Token>, ArchError> {
        self.decisions.check(tokens)?;
        Ok(tokens.to_vec())
    }
    fn encode(&self, arch: &Vec<Token>) -> Result<Vec<Token>, ArchError> {
        self.decisions.check(arch)?;
        Ok(arch.clone())
    }
}

/// Decision units of `space`: one per choice, one per skip bit (what `agreement` counts).
fn units<S: SearchSpace>(space: &S) -> usize {
    space
        .decisions()
        .as_slice()
        .iter()
        .map(|d| match d {
            Decision::SkipSet { among } => *among,
            _ => 1,
        })
        .sum()
}

/// Expected reward of uniform sampling on the hidden-target task.
fn chance<S: SearchSpace>(space: &S) -> f64 {
    let hits: f64 = space
        .decisions()
        .as_slice()
        .iter()
        .map(|d| match d {
            Decision::Categorical { options: n, .. } | Decision::SelectInput { among: n } => {
                1.0 / *n as f64
            }
            Decision::SkipSet { among } => *among as f64 / 2.0,
        })
        .sum();
    hits / units(space) as f64
}

/// The settings of the synthetic-task tests. They differ from the paper presets: NAS-RL's
/// 2×35 LSTM (init U(−0.08, 0.08), with biases) but unbounded logits, Adam lr 0.01, baseline
/// decay 0.9, a learned position embedding on the LSTM input (`position_embedding`), and an
/// entropy bonus on the loss of `0.2 / units` — the reward is the mean over `units` decision
/// units, so one unit's policy gradient scales as `1 / units`, and so must the entropy term
/// that keeps the policy from collapsing before it has explored (larger stalls short of the
/// target, smaller lets it collapse).
fn synthetic_learner<S: SearchSpace>(space: &S) -> ReinforceConfig {
    ReinforceConfig {
        tanh_constant: None,
        lr: 0.01,
        entropy_loss_weight: 0.2 / units(space) as f64,
        baseline_decay: 0.9,
        position_embedding: true,
        ..ReinforceConfig::nas_rl()
    }
}

/// How a run on the hidden-target task went.
struct Run {
    /// Mean reward of the first update's samples.
    first: f64,
    /// Mean reward of the samples of the last 5 updates.
    last: f64,
    /// Best reward of any sample.
    best: f64,
    /// Samples evaluated.
    evaluations: usize,
    /// Mean sample entropy of the first update and of the last 5.
    entropy: (f64, f64),
    target: Vec<Token>,
}

/// `n` proposals of `c`, each with its agreement with `target` as reward.
fn scored<S: SearchSpace + Clone>(
    c: &mut Reinforce<S>,
    n: usize,
    target: &[Token],
) -> Vec<(burn_nas_controller::Proposal<S::Arch>, f64)> {
    c.propose(n)
        .unwrap()
        .into_iter()
        .map(|p| {
            let r = agreement(&p.tokens, target);
            (p, r)
        })
        .collect()
}

/// Samples per update in the synthetic-task runs.
const SAMPLES: usize = 40;

/// Runs `updates` updates of `SAMPLES` samples on the hidden-target task with `seed`.
fn learn<S: SearchSpace + Clone>(space: &S, updates: usize, seed: u64) -> Run
where
    S::Arch: Clone,
{
    let target = space
        .decisions()
        .sample(&mut ChaCha8Rng::seed_from_u64(100 + seed));
    let mut c = Reinforce::new(
        space.clone(),
        synthetic_learner(space).with_seed(seed),
        Device::flex(),
    )
    .unwrap();
    let (mut means, mut entropies, mut best, mut evaluations) = (Vec::new(), Vec::new(), 0.0f64, 0);
    for _ in 0..updates {
        let results = scored(&mut c, SAMPLES, &target);
        evaluations += results.len();
        let n = results.len() as f64;
        means.push(results.iter().map(|(_, r)| r).sum::<f64>() / n);
        entropies.push(
            results
                .iter()
                .map(|(p, _)| p.entropy.unwrap_or(0.0))
                .sum::<f64>()
                / n,
        );
        best = results.iter().map(|(_, r)| *r).fold(best, f64::max);
        c.observe(&results).unwrap();
    }
    let tail = |v: &[f64]| v[v.len() - 5..].iter().sum::<f64>() / 5.0;
    Run {
        first: means[0],
        last: tail(&means),
        best,
        evaluations,
        entropy: (entropies[0], tail(&entropies)),
        target,
    }
}

fn random_best<S: SearchSpace + Clone>(space: &S, evaluations: usize, target: &[Token]) -> f64
where
    S::Arch: Clone,
{
    let mut random = RandomSearch::new(space.clone(), 7);
    random
        .propose(evaluations)
        .unwrap()
        .iter()
        .map(|p| agreement(&p.tokens, target))
        .fold(0.0, f64::max)
}

/// The bar on one space: from chance to a mean reward ≥ 0.9 within `updates` updates,
/// a best reward above random search's at the same number of evaluations, and a falling
/// policy entropy.
fn reaches_the_target<S: SearchSpace + Clone>(space: &S, name: &str, updates: usize)
where
    S::Arch: Clone,
{
    let run = learn(space, updates, 1);
    let random = random_best(space, run.evaluations, &run.target);
    let chance = chance(space);
    let Run {
        first,
        last,
        best,
        evaluations,
        entropy: (e0, e1),
        ..
    } = run;
    println!(
        "{name} ({} units): mean reward {first:.3} (chance {chance:.3}) -> {last:.3} in {updates} updates; best {best:.3} vs random {random:.3} at {evaluations}; entropy {e0:.1} -> {e1:.1}",
        units(space)
    );
    assert!(
        (first - chance).abs() < 0.1,
        "{name}: first {first} vs chance {chance}"
    );
    assert!(last >= 0.9, "{name}: {first} -> {last}");
    assert!(best > random, "{name}: best {best} vs random {random}");
    assert!(e1 < 0.25 * e0, "{name}: entropy {e0} -> {e1}");
}

#[test]
fn controller_learns_a_hidden_target_of_independent_choices() {
    // Measured: see docs/controller.md.
    reaches_the_target(&Choices::new(10), "10 choices", 200);
}

#[test]
fn controller_reaches_0_9_on_the_enas_micro_space() {
    // B = 5, the five default ops: 20 input choices and 20 op choices. Measured: see
    // docs/controller.md.
    reaches_the_target(&MicroSpace::default(), "enas_micro, B = 5", 300);
}

#[test]
fn controller_reaches_0_9_on_the_enas_macro_space() {
    // 6 layers, all six ops: 6 op choices and 15 skip bits. The skip bits (one sigmoid per
    // earlier layer from the anchor attention) are learned last, hence more updates.
    reaches_the_target(
        &MacroSpace::new(6, &MacroOp::ALL).unwrap(),
        "enas_macro, 6 layers",
        400,
    );
}

#[test]
fn controller_reaches_0_9_on_the_nas_rl_space() {
    // 6 layers with strides {1, 2, 3}: 24 choices and 15 skip bits.
    reaches_the_target(
        &NasRlSpace::new(6)
            .unwrap()
            .with_strides(&[1, 2, 3])
            .unwrap(),
        "nas_rl, 6 layers with strides",
        300,
    );
}

/// The skip density a controller reaches under the skip penalty alone (constant reward).
fn skip_density_under_penalty(two_way: bool) -> (f64, f64) {
    let space = MacroSpace::new(8, &MacroOp::ALL).unwrap();
    let config = ReinforceConfig {
        lr: 0.02,
        entropy_weight: 0.0,
        skip_two_way_softmax: two_way,
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
    for _ in 0..300 {
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
    (start, end)
}

#[test]
fn skip_penalty_alone_moves_skip_density_to_the_target() {
    // Sigmoid skips: the penalty's probability is the sampling probability.
    let (start, end) = skip_density_under_penalty(false);
    println!("sigmoid skips: density {start:.3} -> {end:.3} (target 0.4)");
    assert!((end - 0.4).abs() <= 0.03, "skip density {end}");
    // The official ENAS code (the preset) samples from σ(2l) but penalises σ(l): σ(l) → 0.4
    // means a sampled density of σ(2·logit(0.4)) = 0.308.
    assert!(ReinforceConfig::enas_macro().skip_two_way_softmax);
    let (start, end) = skip_density_under_penalty(true);
    let official = 1.0 / (1.0 + (-2.0 * (0.4f64 / 0.6).ln()).exp());
    println!("two-way skips: density {start:.3} -> {end:.3} (expected {official:.3})");
    assert!((end - official).abs() <= 0.03, "skip density {end}");
}

/// Every sampled architecture's log-probability equals its re-scoring (relative error `tol`),
/// and is negative.
fn rescoring_agrees<S: SearchSpace>(space: S, config: ReinforceConfig, tol: f64) {
    let mut controller = Reinforce::new(space, config, Device::flex()).unwrap();
    for p in controller.propose(5).unwrap() {
        let sampled = p.log_prob.unwrap();
        let rescored = controller.log_prob(&p.tokens).unwrap();
        assert!(
            (sampled - rescored).abs() < tol * sampled.abs().max(1.0),
            "{sampled} vs {rescored}"
        );
        assert!(sampled < 0.0);
    }
}

#[test]
fn sampled_log_probs_equal_rescored_ones() {
    let positions = ReinforceConfig {
        position_embedding: true,
        ..ReinforceConfig::nas_rl()
    };
    // The official micro controller's extra anchor step per node, with a position per step.
    let micro_positions = ReinforceConfig {
        position_embedding: true,
        ..ReinforceConfig::enas_micro()
    };
    for config in [
        ReinforceConfig::enas_micro(),
        micro_positions,
        ReinforceConfig::nas_rl(),
        positions,
    ] {
        rescoring_agrees(MicroSpace::default(), config, 1e-5);
    }
    // NAS-RL with the anchor point first in each layer (Zoph & Le's figure).
    let anchor_first = NasRlSpace::new(6)
        .unwrap()
        .with_strides(&[1, 2, 3])
        .unwrap()
        .with_anchor_first()
        .unwrap();
    rescoring_agrees(anchor_first, ReinforceConfig::nas_rl(), 1e-5);
    rescoring_agrees(MacroSpace::default(), ReinforceConfig::enas_macro(), 1e-4);
}

#[test]
fn the_micro_preset_steps_once_more_per_node_and_restarts_its_input() {
    // As the official micro controller: after a node's two ops one more LSTM step, whose
    // state is the node's anchor, and every node starts from the learned start input.
    let official = ReinforceConfig::enas_micro();
    assert!(official.anchor_step && official.reset_input_per_block);
    let log_probs = |config: ReinforceConfig| -> Vec<f64> {
        Reinforce::new(MicroSpace::default(), config, Device::flex())
            .unwrap()
            .propose(8)
            .unwrap()
            .iter()
            .map(|p| p.log_prob.unwrap())
            .collect()
    };
    let with_both = log_probs(official.clone());
    // The same weights and sampling stream: each option alone changes the distributions.
    for (anchor_step, reset_input_per_block) in [(false, true), (true, false), (false, false)] {
        let other = log_probs(ReinforceConfig {
            anchor_step,
            reset_input_per_block,
            ..official.clone()
        });
        assert_ne!(with_both, other, "{anchor_step} {reset_input_per_block}");
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
fn a_state_is_not_resumed_on_another_decision_order() {
    // The same tokens, weights and heads, but each NAS-RL layer's skip set moved to the front:
    // resuming across that change would silently reinterpret every token.
    let last = NasRlSpace::new(4).unwrap();
    let first = last.clone().with_anchor_first().unwrap();
    let saved = Reinforce::new(last.clone(), ReinforceConfig::nas_rl(), Device::flex())
        .unwrap()
        .save_state()
        .unwrap();
    let mut other = Reinforce::new(first, ReinforceConfig::nas_rl(), Device::flex()).unwrap();
    let err = other.load_state(&saved).unwrap_err();
    assert!(
        matches!(err, StrategyError::State { .. }) && err.to_string().contains("order"),
        "{err}"
    );
    let mut same = Reinforce::new(last, ReinforceConfig::nas_rl(), Device::flex()).unwrap();
    same.load_state(&saved).unwrap();
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
    // The official controller biases the sampler whose arc becomes the normal cell.
    assert_eq!(
        (
            micro.fixed_bias[0].group.as_str(),
            micro.fixed_bias[0].head.as_str()
        ),
        ("normal", "micro_op")
    );
    // The presets build for their spaces, and the micro op biases are refused by a space whose
    // op head has another size.
    Reinforce::new(MicroSpace::default(), micro.clone(), Device::flex()).unwrap();
    Reinforce::new(NasRlSpace::new(4).unwrap(), nas_rl, Device::flex()).unwrap();
    let small = MicroSpace::new(5, &burn_nas_space::MicroOp::ALL[..3]).unwrap();
    assert!(matches!(
        Reinforce::new(small, micro.clone(), Device::flex()),
        Err(StrategyError::InvalidSetting { .. })
    ));
    // Biases naming a group or head the space lacks are refused, not silently ignored.
    let mut misnamed = micro.clone();
    misnamed.fixed_bias[0].group = "norml".into();
    let err = Reinforce::new(MicroSpace::default(), misnamed, Device::flex())
        .err()
        .expect("unknown group refused");
    assert!(err.to_string().contains("norml"), "{err}");
    let mut misnamed = micro;
    misnamed.learned_bias[0].head = "op".into();
    assert!(matches!(
        Reinforce::new(MicroSpace::default(), misnamed, Device::flex()),
        Err(StrategyError::InvalidSetting {
            field: "learned_bias",
            ..
        })
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

/// Mean reward of the first 20 and the last 20 of `updates` updates of `samples` each, with
/// `config` unchanged but for its seed, when the reward is the share of decisions that pick
/// their last option (ENAS micro: identity, and each node's newest input; no skips).
fn preset_run<S: SearchSpace + Clone>(
    space: &S,
    config: ReinforceConfig,
    samples: usize,
    updates: usize,
) -> (f64, f64) {
    // The last option of every decision (ENAS micro: identity, and each node's newest input);
    // skip bits: none.
    let target: Vec<Token> = space
        .decisions()
        .as_slice()
        .iter()
        .map(|d| match d {
            Decision::Categorical { options: n, .. } | Decision::SelectInput { among: n } => {
                Token::Choice(n - 1)
            }
            Decision::SkipSet { among } => Token::Subset(vec![false; *among]),
        })
        .collect();
    let mut c = Reinforce::new(space.clone(), config.with_seed(1), Device::flex()).unwrap();
    let mut means = Vec::with_capacity(updates);
    for _ in 0..updates {
        let results = scored(&mut c, samples, &target);
        means.push(results.iter().map(|(_, r)| r).sum::<f64>() / results.len() as f64);
        c.observe(&results).unwrap();
    }
    let window = 20.min(updates);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    (mean(&means[..window]), mean(&means[updates - window..]))
}

/// Runs a preset exactly as shipped (learning rate, tanh constants, temperature, baseline
/// decay, op biases, skip penalty), with its paper's samples per update, on its own space, and
/// checks its mean reward: at least `floor` over the last 20 updates and `gain` above the first
/// 20. Measured (seed 1): NAS-RL 0.362 -> 0.984 in 300 updates; ENAS macro 0.460 -> 0.795 and
/// ENAS micro 0.220 -> 0.351 in 600 (ENAS micro's op logits are bounded to ±0.44 and its
/// fixed bias works against identity on the normal cell: it cannot pass ~0.55 here; before
/// the preset took the official extra anchor step and input reset per node, 0.403). On a
/// hidden *random* target per position, which only a position embedding makes easy, the two
/// ENAS presets stay at chance for 1,500 updates (docs/controller.md). One test per preset, so
/// that they run side by side.
fn preset_learns<S: SearchSpace + Clone>(
    name: &str,
    space: &S,
    config: ReinforceConfig,
    (samples, updates): (usize, usize),
    floor: f64,
    gain: f64,
) {
    let (first, last) = preset_run(space, config, samples, updates);
    println!("{name}: mean reward {first:.3} (first 20 updates) -> {last:.3} (last 20)");
    assert!(last >= floor, "{name}: {first} -> {last}, floor {floor}");
    assert!(
        last - first >= gain,
        "{name}: {first} -> {last}, gain {gain}"
    );
}

fn nas_rl_space() -> NasRlSpace {
    NasRlSpace::new(6)
        .unwrap()
        .with_strides(&[1, 2, 3])
        .unwrap()
}

#[test]
fn the_nas_rl_preset_learns_a_known_optimum() {
    let space = nas_rl_space();
    preset_learns(
        "nas_rl",
        &space,
        ReinforceConfig::nas_rl(),
        (10, 300),
        0.9,
        0.15,
    );
}

#[test]
fn the_nas_rl_preset_learns_a_known_optimum_with_anchors_first() {
    // Each layer's anchor point first, as in the paper's figure.
    let space = nas_rl_space().with_anchor_first().unwrap();
    preset_learns(
        "nas_rl, anchor first",
        &space,
        ReinforceConfig::nas_rl(),
        (10, 300),
        0.9,
        0.15,
    );
}

#[test]
fn the_enas_macro_preset_learns_a_known_optimum() {
    let space = MacroSpace::new(12, &MacroOp::ALL).unwrap();
    preset_learns(
        "enas_macro",
        &space,
        ReinforceConfig::enas_macro(),
        (20, 600),
        0.7,
        0.15,
    );
}

#[test]
fn the_enas_micro_preset_learns_a_known_optimum() {
    preset_learns(
        "enas_micro",
        &MicroSpace::default(),
        ReinforceConfig::enas_micro(),
        (10, 600),
        0.31,
        0.1,
    );
}
