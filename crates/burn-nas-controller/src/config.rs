//! [`ReinforceConfig`]: every setting of the REINFORCE controller, with the reference presets.

use burn_nas_space::enas_micro::MICRO_OP_HEAD;
use burn_nas_space::{GroupId, HeadId, MicroSpace};
use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};

/// A bias added to the logits of one head inside one decision group (ENAS micro adds a fixed
/// `[0.25, 0.25, −0.25, −0.25, −0.25]` to the normal cell's op logits).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixedBias {
    /// Decision group ([`MicroSpace::NORMAL_CELL`]); one the space does not have is refused
    /// when the controller is built.
    pub group: GroupId,
    /// Categorical head ([`MICRO_OP_HEAD`]); one the space does not have is refused when the
    /// controller is built.
    pub head: HeadId,
    /// One value per option, added after logit shaping.
    pub bias: Vec<f64>,
}

/// A learned bias of one head's logits with its initial value (ENAS micro: `[10, 10, 0, 0, 0]`
/// on the op head).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearnedBias {
    /// Categorical head; one the space does not have is refused when the controller is built.
    pub head: HeadId,
    /// Initial value, one per option.
    pub init: Vec<f64>,
}

/// Settings of [`Reinforce`](crate::Reinforce).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReinforceConfig {
    /// LSTM hidden units (also the embedding size).
    pub hidden: usize,
    /// LSTM layers.
    pub layers: usize,
    /// Whether the LSTM has biases (ENAS: no).
    pub lstm_bias: bool,
    /// Weights start uniform in `[−init_range, init_range]`.
    pub init_range: f64,
    /// Logits are divided by this temperature (`None`: no division).
    pub temperature: Option<f64>,
    /// Logits become `c · tanh(logits)` (`None`: unbounded).
    pub tanh_constant: Option<f64>,
    /// Categorical (op) logits use `c / op_tanh_reduce` (ENAS micro: 2.5; 1 = same as others).
    pub op_tanh_reduce: f64,
    /// Learned logit biases per head.
    pub learned_bias: Vec<LearnedBias>,
    /// Fixed logit biases per group and head.
    pub fixed_bias: Vec<FixedBias>,
    /// Adam learning rate.
    pub lr: f64,
    /// Adam β1 (ENAS: 0).
    pub beta1: f64,
    /// Adam β2.
    pub beta2: f64,
    /// Adam ε (ENAS: 1e-3).
    pub eps: f64,
    /// Decay of the moving-average baseline: `b ← decay·b + (1 − decay)·R`.
    pub baseline_decay: f64,
    /// Weight of the sample entropy added to the reward (ENAS: 1e-4).
    pub entropy_weight: f64,
    /// Weight of an entropy bonus on the loss (`loss −= w · H`, A2C-style): its gradient keeps
    /// the policy from collapsing before it has explored. 0 in the reference presets.
    #[serde(default)]
    pub entropy_loss_weight: f64,
    /// Add a learned embedding of the step index to the LSTM input at every step (one vector
    /// per decision and per initial anchor), so that the state tells the positions apart from
    /// the first update on. Off in the reference presets (NAS-RL and ENAS feed only the
    /// previous token's embedding).
    #[serde(default)]
    pub position_embedding: bool,
    /// After each block's decisions (an ENAS node, a NAS-RL layer), one more LSTM step, fed the
    /// last decision's embedding, whose state becomes the block's anchor — as the official
    /// ENAS micro controller (`micro_controller.py`: a `stack_lstm` step after the node's two
    /// ops). `false`: the anchor is the state at the block's last decision.
    #[serde(default)]
    pub anchor_step: bool,
    /// Start every block from the learned start input instead of the previous decision's
    /// embedding — as the official ENAS micro controller (`inputs = self.g_emb` after each
    /// node).
    #[serde(default)]
    pub reset_input_per_block: bool,
    /// Target density of skip connections (ENAS macro: 0.4).
    pub skip_target: Option<f64>,
    /// Weight of the KL penalty between skip probabilities and the target (ENAS macro: 0.8);
    /// as in the official code, each layer's KL is summed over its skip bits and the sums are
    /// averaged over layers.
    pub skip_weight: f64,
    /// Sample each skip bit from a two-way softmax over `[−l, l]`, i.e. with probability
    /// σ(2l) for the shaped logit l, and take the skip penalty on σ(l): what the official ENAS
    /// macro controller does (`general_controller.py`). Off: σ(l) for both, NAS-RL's sigmoid.
    #[serde(default)]
    pub skip_two_way_softmax: bool,
    /// Seed of weight initialisation and sampling.
    pub seed: u64,
}

impl ReinforceConfig {
    /// NAS-RL (Zoph & Le 2017): 2-layer LSTM of 35 units, Adam lr 6e-4, init U(−0.08, 0.08),
    /// baseline: an exponential moving average with decay 0.95 (the paper does not give the decay).
    pub fn nas_rl() -> Self {
        ReinforceConfig {
            hidden: 35,
            layers: 2,
            lstm_bias: true,
            init_range: 0.08,
            temperature: None,
            tanh_constant: None,
            op_tanh_reduce: 1.0,
            learned_bias: Vec::new(),
            fixed_bias: Vec::new(),
            lr: 6e-4,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            baseline_decay: 0.95,
            entropy_weight: 0.0,
            entropy_loss_weight: 0.0,
            position_embedding: false,
            anchor_step: false,
            reset_input_per_block: false,
            skip_target: None,
            skip_weight: 0.0,
            skip_two_way_softmax: false,
            seed: 0,
        }
    }

    /// ENAS macro search (official code): 1×64 LSTM without biases, init U(−0.1, 0.1), tanh
    /// constant 1.5, Adam lr 1e-3 (β1 = 0, ε = 1e-3), baseline decay 0.99, entropy weight
    /// 1e-4, skip target 0.4 with weight 0.8 (each layer's KL summed over its bits, averaged
    /// over layers), skips sampled from a two-way softmax.
    pub fn enas_macro() -> Self {
        ReinforceConfig {
            hidden: 64,
            layers: 1,
            lstm_bias: false,
            init_range: 0.1,
            temperature: None,
            tanh_constant: Some(1.5),
            op_tanh_reduce: 1.0,
            learned_bias: Vec::new(),
            fixed_bias: Vec::new(),
            lr: 1e-3,
            beta1: 0.0,
            beta2: 0.999,
            eps: 1e-3,
            baseline_decay: 0.99,
            entropy_weight: 1e-4,
            entropy_loss_weight: 0.0,
            position_embedding: false,
            anchor_step: false,
            reset_input_per_block: false,
            skip_target: Some(0.4),
            skip_weight: 0.8,
            skip_two_way_softmax: true,
            seed: 0,
        }
    }

    /// ENAS micro search (official code): 1×64 LSTM without biases, temperature 5, tanh
    /// constant 1.1 with op logits reduced by 2.5, learned op bias initialised to
    /// `[10, 10, 0, 0, 0]`, fixed normal-cell op bias `[0.25, 0.25, −0.25, −0.25, −0.25]`
    /// (the official controller adds it in the sampler whose arc becomes the normal cell,
    /// `_build_sampler(use_bias=True)` → `arc_seq_1` → `normal_arc`),
    /// Adam lr 3.5e-3 (β1 = 0, ε = 1e-3), baseline decay 0.99, entropy weight 1e-4.
    ///
    /// The op biases assume the default five ops in ENAS order; for a restricted op set, edit
    /// or clear `learned_bias` / `fixed_bias`.
    pub fn enas_micro() -> Self {
        ReinforceConfig {
            hidden: 64,
            layers: 1,
            lstm_bias: false,
            init_range: 0.1,
            temperature: Some(5.0),
            tanh_constant: Some(1.1),
            op_tanh_reduce: 2.5,
            learned_bias: vec![LearnedBias {
                head: MICRO_OP_HEAD,
                init: vec![10.0, 10.0, 0.0, 0.0, 0.0],
            }],
            fixed_bias: vec![FixedBias {
                group: MicroSpace::NORMAL_CELL,
                head: MICRO_OP_HEAD,
                bias: vec![0.25, 0.25, -0.25, -0.25, -0.25],
            }],
            lr: 3.5e-3,
            beta1: 0.0,
            beta2: 0.999,
            eps: 1e-3,
            baseline_decay: 0.99,
            entropy_weight: 1e-4,
            entropy_loss_weight: 0.0,
            position_embedding: false,
            anchor_step: true,
            reset_input_per_block: true,
            skip_target: None,
            skip_weight: 0.0,
            skip_two_way_softmax: false,
            seed: 0,
        }
    }

    /// The same settings with the controller values the ENAS paper states (Pham et al. 2018,
    /// §3): an LSTM of 100 units, Adam learning rate 3.5e-4, tanh constant 2.5 and
    /// temperature 5. [`enas_micro`](Self::enas_micro) and [`enas_macro`](Self::enas_macro)
    /// follow the official code instead (64 units; lr 3.5e-3 / 1e-3; tanh 1.1 / 1.5; the
    /// macro search without a temperature). Everything else (biases, op reduction, skip
    /// penalty, baseline) is kept.
    ///
    /// ```
    /// use burn_nas_controller::ReinforceConfig;
    /// let paper = ReinforceConfig::enas_micro().with_enas_paper_values();
    /// assert_eq!((paper.hidden, paper.lr), (100, 3.5e-4));
    /// assert_eq!((paper.tanh_constant, paper.temperature), (Some(2.5), Some(5.0)));
    /// ```
    pub fn with_enas_paper_values(mut self) -> Self {
        self.hidden = 100;
        self.lr = 3.5e-4;
        self.tanh_constant = Some(2.5);
        self.temperature = Some(5.0);
        self
    }

    /// The same settings with another seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The same settings with another learning rate.
    pub fn with_lr(mut self, lr: f64) -> Self {
        self.lr = lr;
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`StrategyError::InvalidSetting`](crate::StrategyError::InvalidSetting) naming the
    /// first impossible one.
    pub fn validate(&self) -> Result<()> {
        if self.hidden == 0 {
            return Err(invalid("hidden", "must be at least 1"));
        }
        if self.layers == 0 {
            return Err(invalid("layers", "must be at least 1"));
        }
        if !(self.init_range > 0.0 && self.init_range.is_finite()) {
            return Err(invalid("init_range", "must be positive"));
        }
        if self
            .temperature
            .is_some_and(|t| !(t > 0.0 && t.is_finite()))
        {
            return Err(invalid("temperature", "must be positive"));
        }
        if self
            .tanh_constant
            .is_some_and(|c| !(c > 0.0 && c.is_finite()))
        {
            return Err(invalid("tanh_constant", "must be positive"));
        }
        if !(self.op_tanh_reduce > 0.0 && self.op_tanh_reduce.is_finite()) {
            return Err(invalid("op_tanh_reduce", "must be positive"));
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(invalid("lr", "must be positive"));
        }
        if !(0.0..1.0).contains(&self.beta1) || !(0.0..1.0).contains(&self.beta2) {
            return Err(invalid("beta1/beta2", "must be in [0, 1)"));
        }
        if self.eps.is_nan() || self.eps <= 0.0 {
            return Err(invalid("eps", "must be positive"));
        }
        if !(0.0..1.0).contains(&self.baseline_decay) {
            return Err(invalid("baseline_decay", "must be in [0, 1)"));
        }
        if self.skip_target.is_some_and(|t| !(t > 0.0 && t < 1.0)) {
            return Err(invalid("skip_target", "must be in (0, 1)"));
        }
        if !(self.skip_weight >= 0.0
            && self.entropy_weight >= 0.0
            && self.entropy_loss_weight >= 0.0)
        {
            return Err(invalid("skip_weight/entropy_weight", "must be ≥ 0"));
        }
        Ok(())
    }
}
