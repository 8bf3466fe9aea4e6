//! [`Policy`]: the LSTM controller network and the one routine that both samples from it and
//! re-scores given tokens — sharing the code is what makes the two agree exactly.

use burn::module::{Module, Param};
use burn::tensor::activation::{log_sigmoid, log_softmax, sigmoid};
use burn::tensor::{Device, Tensor, TensorData};
use burn_nas_space::{Decision, Decisions, HeadId, Token};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::ReinforceConfig;
use crate::error::{Result, invalid};

/// One LSTM layer: `[x, h] · W (+ b)` → input, forget, cell and output gates.
#[derive(Module, Debug)]
pub struct LstmLayer {
    weight: Param<Tensor<2>>,
    bias: Option<Param<Tensor<2>>>,
    hidden: usize,
}

impl LstmLayer {
    fn step(&self, x: Tensor<2>, h: Tensor<2>, c: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let n = self.hidden;
        let mut gates = Tensor::cat(vec![x, h], 1).matmul(self.weight.val());
        if let Some(b) = &self.bias {
            gates = gates + b.val();
        }
        let i = sigmoid(gates.clone().narrow(1, 0, n));
        let f = sigmoid(gates.clone().narrow(1, n, n));
        let g = gates.clone().narrow(1, 2 * n, n).tanh();
        let o = sigmoid(gates.narrow(1, 3 * n, n));
        let c = f * c + i * g;
        let h = o * c.clone().tanh();
        (h, c)
    }
}

/// The controller network: a stacked LSTM, a learned start input, one embedding and one
/// softmax (with an optional learned bias) per categorical head, and the anchor attention
/// `vᵀ tanh(W_prev·h_j + W_curr·h_i)` for input and skip decisions.
#[derive(Module, Debug)]
pub struct Policy {
    lstm: Vec<LstmLayer>,
    start: Param<Tensor<2>>,
    embeddings: Vec<Param<Tensor<2>>>,
    softmax: Vec<Param<Tensor<2>>>,
    biases: Vec<Option<Param<Tensor<2>>>>,
    attn_prev: Param<Tensor<2>>,
    attn_curr: Param<Tensor<2>>,
    attn_v: Param<Tensor<2>>,
    /// One learned input vector per LSTM step (`[steps, H]`), when configured.
    position: Option<Param<Tensor<2>>>,
    hidden: usize,
}

/// How logits are shaped before the softmax / sigmoid.
#[derive(Debug, Clone)]
pub(crate) struct Shaping {
    pub temperature: Option<f64>,
    pub tanh: Option<f64>,
    pub op_reduce: f64,
    /// `fixed[group][head]`: a constant added to that head's logits in that group.
    pub fixed: Vec<Vec<Option<Vec<f32>>>>,
    pub skip_target: Option<f64>,
    /// Skips sampled from a two-way softmax over `[−l, l]` (the official ENAS code), i.e. with
    /// probability σ(2l), the KL penalty still taken on σ(l) as that code does.
    pub skip_two_way: bool,
    /// One more LSTM step after each block; its state is the block's anchor.
    pub anchor_step: bool,
    /// Each block starts from the start input.
    pub reset_input: bool,
}

impl Shaping {
    fn apply(&self, logits: Tensor<2>, op: bool) -> Tensor<2> {
        let logits = match self.temperature {
            Some(t) => logits / t,
            None => logits,
        };
        match self.tanh {
            Some(c) => logits.tanh() * if op { c / self.op_reduce } else { c },
            None => logits,
        }
    }
}

/// Where tokens come from in [`Policy::run`].
pub(crate) enum Drive<'a> {
    /// Sample `count` architectures side by side (or take each decision's most likely value).
    Sample {
        rng: &'a mut ChaCha8Rng,
        greedy: bool,
        count: usize,
    },
    /// Re-score the given token sequences (teacher forcing), side by side.
    Replay(&'a [Vec<Token>]),
}

/// What one pass over the decisions produced, one row per architecture.
pub(crate) struct Trace {
    pub tokens: Vec<Vec<Token>>,
    /// Σ_t log π(a_t), `[m]`.
    pub log_prob: Tensor<1>,
    /// Σ_t entropy of the decisions' distributions, `[m]`.
    pub entropy: Tensor<1>,
    /// Σ KL(Bernoulli(p_skip) ‖ Bernoulli(target)) over skip bits `[m]`, with the number of
    /// skip decisions (layers with at least one possible skip) per row.
    pub skip_kl: Option<(Tensor<1>, usize)>,
    /// Skip bits on / total, over all rows.
    pub skips: (usize, usize),
}

/// LSTM steps of one pass over `decisions`: one per initial anchor and one per decision, and
/// one per block with `anchor_step`.
pub(crate) fn steps(decisions: &Decisions, anchor_step: bool) -> usize {
    decisions
        .groups()
        .iter()
        .map(|g| {
            let extra = if anchor_step { g.blocks.len() } else { 0 };
            g.initial_anchors + g.blocks.iter().map(Vec::len).sum::<usize>() + extra
        })
        .sum()
}

/// A parameter drawn uniformly from `[−range, range]` with the controller's own RNG, so that
/// initialisation depends on the seed alone (not on a device RNG other code may share).
fn uniform<const D: usize>(
    shape: [usize; D],
    range: f64,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Param<Tensor<D>> {
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n)
        .map(|_| rng.random_range(-range..range) as f32)
        .collect();
    Param::from_tensor(Tensor::from_data(TensorData::new(values, shape), device))
}

fn matrix(values: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values, [rows, cols]), device)
}

fn row(values: &[f32], device: &Device) -> Tensor<2> {
    matrix(values.to_vec(), 1, values.len(), device)
}

fn host(t: Tensor<2>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

/// Rows of `[m, n]` summed to `[m]`.
fn row_sums(t: Tensor<2>) -> Tensor<1> {
    let [m, _] = t.dims();
    t.sum_dim(1).reshape([m])
}

/// `Σ_j mask[:, j] · values[j]` for `values[j]: [m, H]` → `[m, H]`.
fn mix(mask: Tensor<2>, values: &[Tensor<2>]) -> Tensor<2> {
    let [m, k] = mask.dims();
    let stacked: Tensor<3> = Tensor::stack(values[..k].to_vec(), 1);
    let [_, _, h] = stacked.dims();
    (mask.unsqueeze_dim::<3>(2) * stacked)
        .sum_dim(1)
        .reshape([m, h])
}

fn one_hot(choices: &[usize], n: usize, device: &Device) -> Tensor<2> {
    let mut values = vec![0.0f32; choices.len() * n];
    for (i, &c) in choices.iter().enumerate() {
        values[i * n + c] = 1.0;
    }
    matrix(values, choices.len(), n, device)
}

fn pick(probs: &[f32], rng: &mut ChaCha8Rng, greedy: bool) -> usize {
    if greedy {
        return probs
            .iter()
            .enumerate()
            .fold(
                (0, f32::MIN),
                |best, (i, &p)| if p > best.1 { (i, p) } else { best },
            )
            .0;
    }
    let u: f32 = rng.random();
    let mut acc = 0.0;
    for (i, &p) in probs.iter().enumerate() {
        acc += p;
        if u < acc {
            return i;
        }
    }
    // Rounding left u above the total: take the last option with any mass.
    probs.iter().rposition(|&p| p > 0.0).unwrap_or(0)
}

impl Policy {
    /// A policy for `heads` (name, options) with `config`'s sizes, on `device`; `steps` is the
    /// number of LSTM steps of one pass (see [`steps`]).
    pub(crate) fn new(
        heads: &[(HeadId, usize)],
        steps: usize,
        config: &ReinforceConfig,
        device: &Device,
    ) -> Result<Policy> {
        let (h, r) = (config.hidden, config.init_range);
        // A stream of its own, derived from the seed, so sampling randomness stays separate.
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0x5EED_1417_0C0A_7A11);
        let rng = &mut rng;
        let lstm = (0..config.layers)
            .map(|_| {
                let weight = uniform([2 * h, 4 * h], r, rng, device);
                let bias = config
                    .lstm_bias
                    .then(|| uniform([1, 4 * h], r, rng, device));
                LstmLayer {
                    weight,
                    bias,
                    hidden: h,
                }
            })
            .collect();
        let mut biases = Vec::with_capacity(heads.len());
        for (name, n) in heads {
            let bias = match config.learned_bias.iter().find(|b| &b.head == name) {
                Some(b) if b.init.len() != *n => {
                    return Err(invalid(
                        "learned_bias",
                        format!(
                            "head `{name}` has {n} options, its bias {} values",
                            b.init.len()
                        ),
                    ));
                }
                Some(b) => {
                    let init: Vec<f32> = b.init.iter().map(|&v| v as f32).collect();
                    Some(Param::from_tensor(row(&init, device)))
                }
                None => None,
            };
            biases.push(bias);
        }
        Ok(Policy {
            lstm,
            start: uniform([1, h], r, rng, device),
            embeddings: heads
                .iter()
                .map(|(_, n)| uniform([*n, h], r, rng, device))
                .collect(),
            softmax: heads
                .iter()
                .map(|(_, n)| uniform([h, *n], r, rng, device))
                .collect(),
            biases,
            attn_prev: uniform([h, h], r, rng, device),
            attn_curr: uniform([h, h], r, rng, device),
            attn_v: uniform([h, 1], r, rng, device),
            position: config
                .position_embedding
                .then(|| uniform([steps.max(1), h], r, rng, device)),
            hidden: h,
        })
    }

    fn step(
        &self,
        mut x: Tensor<2>,
        index: &mut usize,
        hs: &mut [Tensor<2>],
        cs: &mut [Tensor<2>],
    ) -> Tensor<2> {
        if let Some(p) = &self.position {
            x = x + p.val().narrow(0, *index, 1);
        }
        *index += 1;
        for (layer, (h, c)) in self.lstm.iter().zip(hs.iter_mut().zip(cs.iter_mut())) {
            let (h2, c2) = layer.step(x, h.clone(), c.clone());
            *h = h2.clone();
            *c = c2;
            x = h2;
        }
        x
    }

    /// Attention scores `[m, among]` of the current states `top: [m, H]` against the first
    /// `among` anchor keys (`[m, H]` each).
    fn attention(&self, keys: &[Tensor<2>], among: usize, top: &Tensor<2>) -> Tensor<2> {
        let query = top.clone().matmul(self.attn_curr.val());
        let scores: Vec<Tensor<2>> = keys[..among]
            .iter()
            .map(|k| (k.clone() + query.clone()).tanh().matmul(self.attn_v.val()))
            .collect();
        Tensor::cat(scores, 1)
    }

    /// One pass over `decisions` for `m` architectures side by side: samples tokens or replays
    /// given ones, accumulating per-row log-probability, entropy and skip penalty.
    /// `head_of[i]` is decision `i`'s head.
    pub(crate) fn run(
        &self,
        decisions: &Decisions,
        head_of: &[Option<usize>],
        shaping: &Shaping,
        mut drive: Drive<'_>,
    ) -> Result<Trace> {
        let m = match &drive {
            Drive::Sample { count, .. } => *count,
            Drive::Replay(rows) => {
                for tokens in rows.iter() {
                    decisions.check(tokens)?;
                }
                rows.len()
            }
        };
        let device = self.start.val().device();
        let zeros = || Tensor::<2>::zeros([m, self.hidden], &device);
        let mut hs: Vec<Tensor<2>> = (0..self.lstm.len()).map(|_| zeros()).collect();
        let mut cs = hs.clone();
        let mut log_prob = Tensor::<1>::zeros([m], &device);
        let mut entropy = Tensor::<1>::zeros([m], &device);
        let mut skip_kl: Option<(Tensor<1>, usize)> = None;
        let mut skips = (0, 0);
        let mut tokens: Vec<Vec<Token>> = vec![Vec::with_capacity(decisions.len()); m];
        if m == 0 {
            return Ok(Trace {
                tokens,
                log_prob,
                entropy,
                skip_kl,
                skips,
            });
        }
        let start = self.start.val().repeat_dim(0, m);
        let mut flat = 0;
        let mut index = 0;
        for (g, group) in decisions.groups().iter().enumerate() {
            let mut values: Vec<Tensor<2>> = Vec::new();
            let mut keys: Vec<Tensor<2>> = Vec::new();
            let mut x = start.clone();
            for _ in 0..group.initial_anchors {
                let top = self.step(x.clone(), &mut index, &mut hs, &mut cs);
                values.push(zeros());
                keys.push(top.matmul(self.attn_prev.val()));
            }
            for block in &group.blocks {
                if shaping.reset_input {
                    x = start.clone();
                }
                let mut top = zeros();
                // Zoph & Le's anchor point: the state at the block's skip decision, wherever
                // the space puts it (NAS-RL may put it first); else the block's last state.
                let mut skip_state = None;
                for decision in block {
                    top = self.step(x, &mut index, &mut hs, &mut cs);
                    if matches!(decision, Decision::SkipSet { .. }) {
                        skip_state = Some(top.clone());
                    }
                    x = match decision {
                        Decision::Categorical { .. } => {
                            let Some(head) = head_of.get(flat).copied().flatten() else {
                                return Err(invalid(
                                    "heads",
                                    format!("decision {flat} has no head"),
                                ));
                            };
                            let mut logits = top.clone().matmul(self.softmax[head].val());
                            if let Some(b) = &self.biases[head] {
                                logits = logits + b.val();
                            }
                            let mut logits = shaping.apply(logits, true);
                            if let Some(Some(bias)) = shaping.fixed.get(g).and_then(|f| f.get(head))
                            {
                                logits = logits + row(bias, &device);
                            }
                            let mask = self.choose(
                                logits,
                                &mut drive,
                                flat,
                                &mut tokens,
                                &mut log_prob,
                                &mut entropy,
                            );
                            mask.matmul(self.embeddings[head].val())
                        }
                        Decision::SelectInput { among } => {
                            let logits = shaping.apply(self.attention(&keys, *among, &top), false);
                            let mask = self.choose(
                                logits,
                                &mut drive,
                                flat,
                                &mut tokens,
                                &mut log_prob,
                                &mut entropy,
                            );
                            mix(mask, &values)
                        }
                        Decision::SkipSet { among: 0 } => {
                            for row in tokens.iter_mut() {
                                row.push(Token::Subset(Vec::new()));
                            }
                            start.clone()
                        }
                        Decision::SkipSet { among } => {
                            let among = *among;
                            let shaped = shaping.apply(self.attention(&keys, among, &top), false);
                            // The official ENAS code samples from softmax([−l, l]) = σ(2l).
                            let logits = if shaping.skip_two_way {
                                shaped.clone() * 2.0
                            } else {
                                shaped.clone()
                            };
                            let bits: Vec<Vec<bool>> = match &mut drive {
                                Drive::Sample { rng, greedy, .. } => host(sigmoid(logits.clone()))
                                    .chunks(among)
                                    .map(|ps| {
                                        ps.iter()
                                            .map(|&p| {
                                                if *greedy {
                                                    p > 0.5
                                                } else {
                                                    rng.random::<f32>() < p
                                                }
                                            })
                                            .collect()
                                    })
                                    .collect(),
                                Drive::Replay(rows) => rows
                                    .iter()
                                    .map(|t| {
                                        t[flat].subset().map(<[bool]>::to_vec).unwrap_or_default()
                                    })
                                    .collect(),
                            };
                            let mut mask_values = Vec::with_capacity(m * among);
                            let mut counts = Vec::with_capacity(m);
                            for b in &bits {
                                let on = b.iter().filter(|x| **x).count();
                                skips.0 += on;
                                skips.1 += among;
                                counts.push(1.0 + on as f32);
                                mask_values.extend(b.iter().map(|&x| f32::from(u8::from(x))));
                            }
                            let mask = matrix(mask_values, m, among, &device);
                            let (lp1, lp0) = (log_sigmoid(logits.clone()), log_sigmoid(-logits));
                            let (p1, p0) = (lp1.clone().exp(), lp0.clone().exp());
                            let chosen =
                                mask.clone() * lp1.clone() + (-mask.clone() + 1.0) * lp0.clone();
                            log_prob = log_prob + row_sums(chosen);
                            entropy = entropy
                                - row_sums(p1.clone() * lp1.clone() + p0.clone() * lp0.clone());
                            if let Some(rho) = shaping.skip_target {
                                // On σ(l) even when sampling from σ(2l), as the official code.
                                let (p1, p0, lp1, lp0) = if shaping.skip_two_way {
                                    let (lq1, lq0) =
                                        (log_sigmoid(shaped.clone()), log_sigmoid(-shaped));
                                    (lq1.clone().exp(), lq0.clone().exp(), lq1, lq0)
                                } else {
                                    (p1, p0, lp1, lp0)
                                };
                                let kl =
                                    row_sums(p1 * (lp1 - rho.ln()) + p0 * (lp0 - (1.0 - rho).ln()));
                                // Summed over the layer's bits, counted per layer: the
                                // official code averages per-layer sums over layers.
                                skip_kl = Some(match skip_kl {
                                    Some((s, n)) => (s + kl, n + 1),
                                    None => (kl, 1),
                                });
                            }
                            for (row, b) in tokens.iter_mut().zip(bits) {
                                row.push(Token::Subset(b));
                            }
                            mix(mask, &values) / matrix(counts, m, 1, &device)
                        }
                    };
                    flat += 1;
                }
                let anchor = if shaping.anchor_step {
                    self.step(x.clone(), &mut index, &mut hs, &mut cs)
                } else {
                    skip_state.unwrap_or(top)
                };
                values.push(anchor.clone());
                keys.push(anchor.matmul(self.attn_prev.val()));
            }
        }
        Ok(Trace {
            tokens,
            log_prob,
            entropy,
            skip_kl,
            skips,
        })
    }

    /// Chooses one value per row from `logits: [m, n]`, records tokens, log-probabilities and
    /// entropies, and returns the one-hot mask of the choices.
    fn choose(
        &self,
        logits: Tensor<2>,
        drive: &mut Drive<'_>,
        flat: usize,
        tokens: &mut [Vec<Token>],
        log_prob: &mut Tensor<1>,
        entropy: &mut Tensor<1>,
    ) -> Tensor<2> {
        let [_, n] = logits.dims();
        let logp = log_softmax(logits, 1);
        let choices: Vec<usize> = match drive {
            Drive::Sample { rng, greedy, .. } => host(logp.clone().exp())
                .chunks(n)
                .map(|probs| pick(probs, rng, *greedy))
                .collect(),
            // Checked against the decisions before the pass.
            Drive::Replay(rows) => rows.iter().map(|t| t[flat].choice().unwrap_or(0)).collect(),
        };
        let mask = one_hot(&choices, n, &logp.device());
        *log_prob = log_prob.clone() + row_sums(logp.clone() * mask.clone());
        *entropy = entropy.clone() - row_sums(logp.clone().exp() * logp);
        for (row, c) in tokens.iter_mut().zip(choices) {
            row.push(Token::Choice(c));
        }
        mask
    }
}
