//! The [`SearchStrategy`] trait and [`Proposal`]s.

use burn_nas_space::Token;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// One architecture a strategy wants evaluated, with what the strategy needs back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal<A> {
    /// The architecture.
    pub arch: A,
    /// Its tokens in the space's decision order.
    pub tokens: Vec<Token>,
    /// The architecture it was mutated from (evolution), so weight inheritance can warm-start.
    pub parent: Option<A>,
    /// Log-probability of the tokens under the policy when sampled (REINFORCE).
    pub log_prob: Option<f64>,
    /// Entropy of the policy's decisions along this sample (REINFORCE).
    pub entropy: Option<f64>,
}

impl<A> Proposal<A> {
    /// A proposal with only an architecture and its tokens.
    pub fn new(arch: A, tokens: Vec<Token>) -> Self {
        Proposal {
            arch,
            tokens,
            parent: None,
            log_prob: None,
            entropy: None,
        }
    }
}

/// A search strategy: proposes architectures, learns from their rewards, and can save and
/// restore everything it knows so that a search resumes exactly.
///
/// Strategies see a space only through its decisions, so each works on every space.
pub trait SearchStrategy<A> {
    /// A short name for logs and reports.
    fn name(&self) -> &'static str;

    /// Proposes `n` architectures to evaluate.
    ///
    /// # Errors
    /// The space rejects sampled tokens (a bug in the space) or the strategy's state is unusable.
    fn propose(&mut self, n: usize) -> Result<Vec<Proposal<A>>>;

    /// One architecture for a weight-sharing estimator to train its supernet on (what a search
    /// hands to the estimator's `prepare` as its sampler). Unlike
    /// [`propose`](Self::propose) it must not count as a proposal awaiting its reward: by
    /// default one fresh proposal, which is right for strategies without pending state (random
    /// search, REINFORCE sampling its policy).
    ///
    /// # Errors
    /// As [`propose`](Self::propose), or an empty proposal list.
    fn sample_for_training(&mut self) -> Result<A> {
        self.propose(1)?
            .pop()
            .map(|p| p.arch)
            .ok_or_else(|| crate::error::state(self.name(), "proposed nothing to train on"))
    }

    /// Learns from evaluated proposals and their rewards (higher is better).
    ///
    /// # Errors
    /// Non-finite rewards, or proposals that do not belong to the space.
    fn observe(&mut self, results: &[(Proposal<A>, f64)]) -> Result<()>;

    /// The reward baseline the strategy compares rewards with (REINFORCE's moving average),
    /// for reports; `None` for strategies without one.
    fn baseline(&self) -> Option<f64> {
        None
    }

    /// Architectures for the final answer: by default `n` fresh proposals (REINFORCE samples
    /// from its trained policy).
    ///
    /// # Errors
    /// As [`propose`](Self::propose).
    fn derive(&mut self, n: usize) -> Result<Vec<Proposal<A>>> {
        self.propose(n)
    }

    /// The complete state (RNG, learned weights, optimizer, baseline, population…) as JSON.
    ///
    /// # Errors
    /// The state cannot be serialized.
    fn save_state(&self) -> Result<serde_json::Value>;

    /// Restores a state written by [`save_state`](Self::save_state) of the same strategy and
    /// space.
    ///
    /// # Errors
    /// [`StrategyError::State`](crate::StrategyError::State) for a state of another strategy
    /// or space, or a damaged one.
    fn load_state(&mut self, state: &serde_json::Value) -> Result<()>;
}

/// A boxed strategy (e.g. chosen at run time) is a strategy.
impl<A, S: SearchStrategy<A> + ?Sized> SearchStrategy<A> for Box<S> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn propose(&mut self, n: usize) -> Result<Vec<Proposal<A>>> {
        (**self).propose(n)
    }
    fn sample_for_training(&mut self) -> Result<A> {
        (**self).sample_for_training()
    }
    fn observe(&mut self, results: &[(Proposal<A>, f64)]) -> Result<()> {
        (**self).observe(results)
    }
    fn baseline(&self) -> Option<f64> {
        (**self).baseline()
    }
    fn derive(&mut self, n: usize) -> Result<Vec<Proposal<A>>> {
        (**self).derive(n)
    }
    fn save_state(&self) -> Result<serde_json::Value> {
        (**self).save_state()
    }
    fn load_state(&mut self, state: &serde_json::Value) -> Result<()> {
        (**self).load_state(state)
    }
}
