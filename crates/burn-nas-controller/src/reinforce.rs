//! [`Reinforce`]: the LSTM controller trained with REINFORCE (NAS-RL and ENAS).

use std::collections::BTreeMap;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use burn_nas_nn::{OptimizerSnapshot, WeightsSnapshot};
use burn_nas_space::{Decision, Decisions, HeadId, SearchSpace};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::config::ReinforceConfig;
use crate::depth::DepthSchedule;
use crate::error::{Result, check_rewards, invalid, state};
use crate::params::{TensorValues, import};
use crate::policy::{Drive, Policy, Shaping, Trace, steps};
use crate::strategy::{Proposal, SearchStrategy};

/// What the last controller update did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateStats {
    /// Updates so far.
    pub updates: u64,
    /// The REINFORCE loss of the update.
    pub loss: f64,
    /// Mean reward of the batch (entropy bonus included).
    pub mean_reward: f64,
    /// Baseline after the update.
    pub baseline: f64,
    /// Mean entropy of the batch's samples.
    pub entropy: f64,
    /// Share of skip bits that were on (0 without skip decisions).
    pub skip_density: f64,
}

type Heads = Vec<(HeadId, usize)>;

/// The heads of `space`, each decision's head, and the logit shaping of `config`.
fn parts<S: SearchSpace>(
    space: &S,
    config: &ReinforceConfig,
) -> Result<(Heads, Vec<Option<usize>>, Shaping)> {
    let heads = space.decisions().heads()?;
    let head_of = space
        .decisions()
        .as_slice()
        .iter()
        .map(|d| match d {
            Decision::Categorical { head, .. } => heads.iter().position(|(h, _)| h == head),
            _ => None,
        })
        .collect();
    let groups = space.decisions().groups();
    let mut fixed = vec![vec![None; heads.len()]; groups.len()];
    for bias in &config.fixed_bias {
        let Some(h) = heads.iter().position(|(name, _)| name == &bias.head) else {
            return Err(invalid(
                "fixed_bias",
                format!("the space has no head `{}`", bias.head),
            ));
        };
        if bias.bias.len() != heads[h].1 {
            return Err(invalid(
                "fixed_bias",
                format!(
                    "head `{}` has {} options, the bias {} values",
                    bias.head,
                    heads[h].1,
                    bias.bias.len()
                ),
            ));
        }
        let Some(g) = groups.iter().position(|group| group.name == bias.group) else {
            let names: Vec<&str> = groups.iter().map(|group| group.name.as_str()).collect();
            return Err(invalid(
                "fixed_bias",
                format!(
                    "the space has no decision group `{}` (it has: {})",
                    bias.group,
                    names.join(", ")
                ),
            ));
        };
        fixed[g][h] = Some(bias.bias.iter().map(|&v| v as f32).collect());
    }
    if let Some(bias) = config
        .learned_bias
        .iter()
        .find(|b| !heads.iter().any(|(name, _)| name == &b.head))
    {
        return Err(invalid(
            "learned_bias",
            format!("the space has no head `{}`", bias.head),
        ));
    }
    let shaping = Shaping {
        temperature: config.temperature,
        tanh: config.tanh_constant,
        op_reduce: config.op_tanh_reduce,
        fixed,
        skip_target: config.skip_target,
        skip_two_way: config.skip_two_way_softmax,
        anchor_step: config.anchor_step,
        reset_input: config.reset_input_per_block,
    };
    Ok((heads, head_of, shaping))
}

/// The REINFORCE LSTM controller.
///
/// An LSTM emits the space's decisions one by one: each categorical decision through its
/// head's softmax, whose sampled value's embedding is the next input; each input choice
/// through attention over the anchors of earlier blocks (the chosen anchor is the next input);
/// each skip set through one sigmoid per earlier anchor (the mean of the chosen anchors is
/// the next input). With `position_embedding`, a learned vector per step is added to the LSTM
/// input. Logits are shaped `c · tanh(l / T)` as configured. Sampling runs without
/// autodiff; [`observe`](SearchStrategy::observe) re-scores the sampled tokens under autodiff
/// with the same code and takes one Adam step on
/// `Σ_k −log π(a_k)·(R_k − b) / m + skip_weight · KL(p_skip ‖ target)`, where `b` is an
/// exponential moving average of rewards and `R_k` includes the entropy bonus.
///
/// With a [`DepthSchedule`] ([`with_depth_schedule`](Self::with_depth_schedule)) the controller
/// samples only the first layers of the space, more as the search goes on (Zoph & Le's growing
/// depth); the LSTM, heads and optimizer are the same at every depth.
pub struct Reinforce<S: SearchSpace> {
    space: S,
    config: ReinforceConfig,
    device: Device,
    policy: Policy,
    sampler: Option<Policy>,
    /// burn's Adam over the policy's parameters.
    optimizer: ModuleOptimizer,
    baseline: Option<f64>,
    rng: ChaCha8Rng,
    head_of: Vec<Option<usize>>,
    shaping: Shaping,
    stats: UpdateStats,
    /// Children observed so far (what the depth schedule counts).
    children: u64,
    depth: Option<DepthStages<S>>,
}

/// A depth schedule and the space at each depth it passes below the full one.
struct DepthStages<S> {
    schedule: DepthSchedule,
    /// `(depth, space)` for every scheduled depth below the full space's.
    shallower: Vec<(usize, S)>,
    full: usize,
}

/// The space children are sampled from after `children` observed ones.
fn active<'a, S: SearchSpace>(
    space: &'a S,
    depth: Option<&'a DepthStages<S>>,
    children: u64,
) -> &'a S {
    let Some(stages) = depth else {
        return space;
    };
    let layers = stages.schedule.depth_at(children, stages.full);
    stages
        .shallower
        .iter()
        .find(|(d, _)| *d == layers)
        .map_or(space, |(_, s)| s)
}

/// The space whose decisions have `len` tokens: a scheduled shallower one, else the full one
/// (whose check then reports a wrong length).
fn of_length<'a, S: SearchSpace>(
    space: &'a S,
    depth: Option<&'a DepthStages<S>>,
    len: usize,
) -> &'a S {
    depth
        .and_then(|stages| {
            stages
                .shallower
                .iter()
                .find(|(_, s)| s.decisions().len() == len)
        })
        .map_or(space, |(_, s)| s)
}

#[derive(Serialize, Deserialize)]
struct SavedReinforce {
    strategy: String,
    space: String,
    config: ReinforceConfig,
    /// The policy's weights in burn's burnpack format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    policy: Option<WeightsSnapshot>,
    /// The policy's weights as values by parameter path: how states saved before were written
    /// (read, never written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    weights: Option<BTreeMap<String, TensorValues>>,
    /// burn's Adam state (absent in states saved before: those held a hand-written Adam's
    /// moments, under `adam`, which cannot be carried over).
    #[serde(default)]
    optimizer: Option<OptimizerSnapshot>,
    baseline: Option<f64>,
    rng: ChaCha8Rng,
    stats: UpdateStats,
    #[serde(default)]
    children: u64,
    #[serde(default)]
    depth_schedule: Option<DepthSchedule>,
    /// The space's decisions, so that a state is not resumed on another order of the same
    /// tokens (e.g. NAS-RL with its anchor first); absent in states saved before.
    #[serde(default)]
    decisions: Option<Decisions>,
}

/// burn's Adam with the controller's settings (no weight decay, no clipping).
fn adam(config: &ReinforceConfig) -> ModuleOptimizer {
    AdamConfig::new()
        .with_beta_1(config.beta1 as f32)
        .with_beta_2(config.beta2 as f32)
        .with_epsilon(config.eps as f32)
        .init()
}

impl<S: SearchSpace> Reinforce<S> {
    /// A controller for `space` with `config`, running on `device` (a CPU device is plenty:
    /// the controller is tiny).
    ///
    /// # Errors
    /// Invalid settings, a bias whose length differs from its head's option count, or a space
    /// whose heads are inconsistent.
    pub fn new(space: S, config: ReinforceConfig, device: Device) -> Result<Self> {
        config.validate()?;
        let (heads, head_of, shaping) = parts(&space, &config)?;
        let policy = Policy::new(
            &heads,
            steps(space.decisions(), config.anchor_step),
            &config,
            &device.clone().autodiff(),
        )?;
        Ok(Reinforce {
            shaping,
            optimizer: adam(&config),
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            space,
            config,
            device,
            policy,
            sampler: None,
            baseline: None,
            head_of,
            stats: UpdateStats::default(),
            children: 0,
            depth: None,
        })
    }

    /// The same controller sampling children whose depth grows by `schedule`, up to the
    /// space's depth (Zoph & Le: 6 layers, 2 more every 1,600 children).
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use burn_nas_controller::{DepthSchedule, Reinforce, ReinforceConfig, SearchStrategy};
    /// use burn_nas_space::NasRlSpace;
    ///
    /// let space = NasRlSpace::new(10)?;
    /// let schedule = DepthSchedule { start: 4, step: 2, every: 8 };
    /// let mut controller = Reinforce::new(space, ReinforceConfig::nas_rl(), Device::flex())?
    ///     .with_depth_schedule(schedule)?;
    /// let children = controller.propose(8)?;
    /// assert!(children.iter().all(|c| c.arch.layers.len() == 4));
    /// let rewarded: Vec<_> = children.into_iter().map(|c| (c, 0.5)).collect();
    /// controller.observe(&rewarded)?;
    /// assert_eq!(controller.active_depth(), Some(6));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// An invalid schedule, a space of fixed depth, a schedule that starts deeper than the
    /// space, or a space whose shallower versions' decisions are not a prefix of its own.
    pub fn with_depth_schedule(mut self, schedule: DepthSchedule) -> Result<Self> {
        schedule.validate()?;
        let Some(full) = self.space.depth() else {
            return Err(invalid(
                "depth_schedule",
                format!(
                    "space `{}` has a fixed depth; a depth schedule needs a space that can \
                     be built at several depths, such as NAS-RL's",
                    self.space.name()
                ),
            ));
        };
        if schedule.start > full {
            return Err(invalid(
                "depth_schedule.start",
                format!(
                    "the schedule starts at {} layers, deeper than the space's {full}",
                    schedule.start
                ),
            ));
        }
        let mut shallower = Vec::new();
        let mut layers = schedule.start;
        while layers < full {
            let space = self.space.at_depth(layers)?;
            if !self
                .space
                .decisions()
                .as_slice()
                .starts_with(space.decisions().as_slice())
            {
                return Err(invalid(
                    "depth_schedule",
                    format!(
                        "the decisions of space `{}` at {layers} layers are not a prefix of \
                         its decisions at {full}",
                        self.space.name()
                    ),
                ));
            }
            shallower.push((layers, space));
            layers += schedule.step;
        }
        self.depth = Some(DepthStages {
            schedule,
            shallower,
            full,
        });
        Ok(self)
    }

    /// The depth the next children are sampled at, under a depth schedule; `None` without one.
    pub fn active_depth(&self) -> Option<usize> {
        self.depth
            .as_ref()
            .map(|stages| stages.schedule.depth_at(self.children, stages.full))
    }

    /// Children observed so far (what a depth schedule counts).
    pub fn children(&self) -> u64 {
        self.children
    }

    /// The space.
    pub fn space(&self) -> &S {
        &self.space
    }

    /// The settings.
    pub fn config(&self) -> &ReinforceConfig {
        &self.config
    }

    /// The moving-average baseline (`None` before the first update).
    pub fn baseline(&self) -> Option<f64> {
        self.baseline
    }

    /// Statistics of the last update.
    pub fn stats(&self) -> &UpdateStats {
        &self.stats
    }

    fn sample(&mut self, count: usize, greedy: bool) -> Result<Vec<Proposal<S::Arch>>> {
        if self.sampler.is_none() {
            self.sampler = Some(self.policy.valid());
        }
        let Some(sampler) = self.sampler.as_ref() else {
            return Err(invalid("policy", "no sampling copy"));
        };
        let space = active(&self.space, self.depth.as_ref(), self.children);
        let trace = sampler.run(
            space.decisions(),
            &self.head_of,
            &self.shaping,
            Drive::Sample {
                rng: &mut self.rng,
                greedy,
                count,
            },
        )?;
        let log_probs: Vec<f32> = trace.log_prob.into_data().iter::<f32>().collect();
        let entropies: Vec<f32> = trace.entropy.into_data().iter::<f32>().collect();
        trace
            .tokens
            .into_iter()
            .zip(log_probs.into_iter().zip(entropies))
            .map(|(tokens, (lp, ent))| {
                Ok(Proposal {
                    arch: space.decode(&tokens)?,
                    tokens,
                    parent: None,
                    log_prob: Some(f64::from(lp)),
                    entropy: Some(f64::from(ent)),
                })
            })
            .collect()
    }

    /// The most likely architecture: the argmax of every decision in turn.
    ///
    /// # Errors
    /// As [`SearchStrategy::propose`].
    pub fn greedy(&mut self) -> Result<Proposal<S::Arch>> {
        self.sample(1, true)?
            .pop()
            .ok_or_else(|| invalid("policy", "greedy pass produced nothing"))
    }

    /// Log-probability of `tokens` under the current policy, re-scored exactly as an update
    /// scores them (teacher forcing, on the autodiff device).
    ///
    /// # Errors
    /// Tokens that do not fit the space.
    pub fn log_prob(&self, tokens: &[burn_nas_space::Token]) -> Result<f64> {
        let trace = self.replay(&[tokens.to_vec()])?;
        Ok(f64::from(trace.log_prob.into_scalar::<f32>()))
    }

    /// Re-scores `rows` (token sequences of one length) under the autodiff policy, with the
    /// decisions of the depth that length belongs to.
    fn replay(&self, rows: &[Vec<burn_nas_space::Token>]) -> Result<Trace> {
        let len = rows.first().map_or(0, Vec::len);
        let space = of_length(&self.space, self.depth.as_ref(), len);
        self.policy.run(
            space.decisions(),
            &self.head_of,
            &self.shaping,
            Drive::Replay(rows),
        )
    }
}

impl<S: SearchSpace> SearchStrategy<S::Arch> for Reinforce<S> {
    fn name(&self) -> &'static str {
        "reinforce"
    }

    fn baseline(&self) -> Option<f64> {
        self.baseline
    }

    fn propose(&mut self, n: usize) -> Result<Vec<Proposal<S::Arch>>> {
        self.sample(n, false)
    }

    fn observe(&mut self, results: &[(Proposal<S::Arch>, f64)]) -> Result<()> {
        check_rewards(results.iter().map(|(_, r)| *r))?;
        if results.is_empty() {
            return Ok(());
        }
        // Rows of one length (one depth) are re-scored together; without a depth schedule
        // that is the whole batch.
        let mut by_length: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, (p, _)) in results.iter().enumerate() {
            by_length.entry(p.tokens.len()).or_default().push(i);
        }
        let mut traces = Vec::with_capacity(by_length.len());
        let mut entropies = vec![0f32; results.len()];
        for rows_at in by_length.into_values() {
            let rows: Vec<_> = rows_at
                .iter()
                .map(|&i| results[i].0.tokens.clone())
                .collect();
            let trace = self.replay(&rows)?;
            let row_entropies: Vec<f32> = trace.entropy.clone().into_data().iter::<f32>().collect();
            for (&i, e) in rows_at.iter().zip(row_entropies) {
                entropies[i] = e;
            }
            traces.push((rows_at, trace));
        }
        // The baseline moves sample by sample, as in the reference code; each sample's
        // advantage is taken against the baseline before it.
        let mut advantages = Vec::with_capacity(results.len());
        let mut reward_sum = 0.0;
        for ((_, reward), entropy) in results.iter().zip(&entropies) {
            let reward = reward + self.config.entropy_weight * f64::from(*entropy);
            let baseline = self.baseline.unwrap_or(reward);
            advantages.push((reward - baseline) as f32);
            self.baseline = Some(
                self.config.baseline_decay * baseline + (1.0 - self.config.baseline_decay) * reward,
            );
            reward_sum += reward;
        }
        let m = results.len() as f64;
        let mut loss: Option<Tensor<1>> = None;
        let (mut on, mut bits) = (0, 0);
        for (rows_at, trace) in traces {
            let device = trace.log_prob.device();
            let advantage = Tensor::<1>::from_data(
                burn::tensor::TensorData::new(
                    rows_at.iter().map(|&i| advantages[i]).collect::<Vec<f32>>(),
                    [rows_at.len()],
                ),
                &device,
            );
            let mut part = (trace.log_prob * advantage).sum().neg() / m;
            if self.config.entropy_loss_weight > 0.0 {
                part = part - trace.entropy.clone().sum() * (self.config.entropy_loss_weight / m);
            }
            // ENAS's skip penalty: each layer's KL summed over its bits, averaged over layers.
            if let (Some((kl, layers)), true) = (trace.skip_kl, self.config.skip_weight > 0.0) {
                part = part + kl.sum() * (self.config.skip_weight / (layers.max(1) as f64 * m));
            }
            on += trace.skips.0;
            bits += trace.skips.1;
            loss = Some(match loss {
                Some(total) => total + part,
                None => part,
            });
        }
        let Some(loss) = loss else {
            return Err(invalid("policy", "no rows were re-scored"));
        };
        let entropy_sum: f64 = entropies.iter().map(|&e| f64::from(e)).sum();
        let loss_value = f64::from(loss.clone().into_scalar::<f32>());
        let grads = GradientsParams::from_grads(loss.backward(), &self.policy);
        // Modules are cheap handles; the clone is replaced by the stepped policy at once.
        let policy = self.policy.clone();
        self.policy = self.optimizer.step(self.config.lr, policy, grads);
        self.sampler = None;
        self.children += results.len() as u64;
        self.stats = UpdateStats {
            updates: self.stats.updates + 1,
            loss: loss_value,
            mean_reward: reward_sum / m,
            baseline: self.baseline.unwrap_or(0.0),
            entropy: entropy_sum / m,
            skip_density: if bits == 0 {
                0.0
            } else {
                on as f64 / bits as f64
            },
        };
        Ok(())
    }

    fn save_state(&self) -> Result<serde_json::Value> {
        let saved = SavedReinforce {
            strategy: "reinforce".into(),
            space: self.space.name().to_string(),
            config: self.config.clone(),
            policy: Some(WeightsSnapshot::of(&self.policy).map_err(|e| state("reinforce", e))?),
            weights: None,
            optimizer: Some(
                OptimizerSnapshot::of(&self.optimizer, &self.policy)
                    .map_err(|e| state("reinforce", e))?,
            ),
            baseline: self.baseline,
            rng: self.rng.clone(),
            stats: self.stats.clone(),
            children: self.children,
            depth_schedule: self.depth.as_ref().map(|stages| stages.schedule),
            decisions: Some(self.space.decisions().clone()),
        };
        serde_json::to_value(saved).map_err(|e| state("reinforce", e))
    }

    fn load_state(&mut self, value: &serde_json::Value) -> Result<()> {
        let saved: SavedReinforce =
            serde_json::from_value(value.clone()).map_err(|e| state("reinforce", e))?;
        if saved.strategy != "reinforce" {
            return Err(state(
                "reinforce",
                format!("the state is of strategy `{}`", saved.strategy),
            ));
        }
        if saved.space != self.space.name() {
            return Err(state(
                "reinforce",
                format!(
                    "the state is for space `{}`, not `{}`",
                    saved.space,
                    self.space.name()
                ),
            ));
        }
        if saved
            .decisions
            .as_ref()
            .is_some_and(|d| d != self.space.decisions())
        {
            return Err(state(
                "reinforce",
                "the state was saved for another list or order of decisions of this space",
            ));
        }
        let schedule = self.depth.as_ref().map(|stages| stages.schedule);
        if saved.depth_schedule != schedule {
            let show = |s: Option<DepthSchedule>| s.map_or("none".to_string(), |s| s.to_string());
            return Err(state(
                "reinforce",
                format!(
                    "the state was saved with depth schedule {}, this controller has {}",
                    show(saved.depth_schedule),
                    show(schedule)
                ),
            ));
        }
        saved.config.validate()?;
        let (heads, head_of, shaping) = parts(&self.space, &saved.config)?;
        let fresh = Policy::new(
            &heads,
            steps(self.space.decisions(), saved.config.anchor_step),
            &saved.config,
            &self.device.clone().autodiff(),
        )?;
        let policy = match (&saved.policy, &saved.weights) {
            (Some(snapshot), _) => snapshot.restore(fresh).map_err(|e| state("reinforce", e))?,
            (None, Some(values)) => import(fresh, values).map_err(|missing| {
                state(
                    "reinforce",
                    format!("weights missing or misshaped: {}", missing.join(", ")),
                )
            })?,
            (None, None) => return Err(state("reinforce", "the state holds no policy weights")),
        };
        let Some(optimizer) = &saved.optimizer else {
            return Err(state(
                "reinforce",
                "the state holds no burn optimizer state: it was saved by a version whose \
                 controller used a hand-written Adam, whose moments cannot be carried over \
                 (resume with that version, or start a new search)",
            ));
        };
        let (optimizer, policy) = optimizer
            .restore(adam(&saved.config), policy)
            .map_err(|e| state("reinforce", e))?;
        self.policy = policy;
        self.optimizer = optimizer;
        self.head_of = head_of;
        self.shaping = shaping;
        self.sampler = None;
        self.config = saved.config;
        self.baseline = saved.baseline;
        self.rng = saved.rng;
        self.stats = saved.stats;
        self.children = saved.children;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StrategyError;
    use burn_nas_nn::export_params;
    use burn_nas_space::NasRlSpace;

    /// A state written before the policy's weights were burnpack (values by parameter path)
    /// resumes to the same weights; damaged burnpack bytes are a typed error.
    #[test]
    fn states_with_weights_by_path_still_load() {
        let space = NasRlSpace::new(3).unwrap();
        let config = ReinforceConfig::nas_rl().with_seed(5);
        let saved_by = Reinforce::new(space.clone(), config.clone(), Device::flex()).unwrap();
        let mut state = saved_by.save_state().unwrap();
        let object = state.as_object_mut().unwrap();
        assert!(object.remove("policy").is_some());
        object.insert(
            "weights".into(),
            serde_json::to_value(export_params(&saved_by.policy)).unwrap(),
        );
        let mut old = Reinforce::new(space, config.with_seed(9), Device::flex()).unwrap();
        assert_ne!(export_params(&old.policy), export_params(&saved_by.policy));
        old.load_state(&state).unwrap();
        assert_eq!(export_params(&old.policy), export_params(&saved_by.policy));

        let mut damaged = saved_by.save_state().unwrap();
        damaged["policy"]["burnpack"] = "AAAA".into();
        assert!(matches!(
            old.load_state(&damaged),
            Err(StrategyError::State { .. })
        ));
    }
}
