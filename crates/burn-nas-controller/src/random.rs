//! Random search: the baseline every search strategy has to beat.

use burn_nas_space::SearchSpace;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Result, check_rewards, state};
use crate::strategy::{Proposal, SearchStrategy};

const NAME: &str = "random";

/// Uniform random search: every proposal draws one token per decision, uniformly and
/// independently, and rewards are never used.
///
/// Simple as it is, random search is a strong baseline for NAS (Li & Talwalkar, 2019; Yu et
/// al., 2020), so it is the reference other strategies are measured against. Its state is only
/// its random number generator, saved exactly, so a resumed search proposes what an
/// uninterrupted one would have.
///
/// # Example
/// ```
/// use burn_nas_controller::{RandomSearch, SearchStrategy};
/// use burn_nas_space::MicroSpace;
///
/// let mut search = RandomSearch::new(MicroSpace::default(), 42);
/// let proposals = search.propose(4)?;
/// let results: Vec<_> = proposals.into_iter().map(|p| (p, 0.5)).collect();
/// search.observe(&results)?;
/// # Ok::<(), burn_nas_controller::StrategyError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RandomSearch<S: SearchSpace> {
    space: S,
    rng: ChaCha8Rng,
}

/// What [`RandomSearch::save_state`](SearchStrategy::save_state) writes.
#[derive(Serialize, Deserialize)]
struct RandomState {
    strategy: String,
    space: String,
    rng: ChaCha8Rng,
}

impl<S: SearchSpace> RandomSearch<S> {
    /// Random search over `space`; the same `seed` gives the same proposals.
    pub fn new(space: S, seed: u64) -> Self {
        RandomSearch {
            space,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// The space searched.
    pub fn space(&self) -> &S {
        &self.space
    }
}

impl<S: SearchSpace> SearchStrategy<S::Arch> for RandomSearch<S> {
    fn name(&self) -> &'static str {
        NAME
    }

    fn propose(&mut self, n: usize) -> Result<Vec<Proposal<S::Arch>>> {
        (0..n)
            .map(|_| {
                let tokens = self.space.decisions().sample(&mut self.rng);
                let arch = self.space.decode(&tokens)?;
                Ok(Proposal::new(arch, tokens))
            })
            .collect()
    }

    /// Checks that every reward is finite; random search learns nothing from them.
    fn observe(&mut self, results: &[(Proposal<S::Arch>, f64)]) -> Result<()> {
        check_rewards(results.iter().map(|(_, reward)| *reward))
    }

    /// `{"strategy": "random", "space": <space name>, "rng": <ChaCha8 state>}`.
    fn save_state(&self) -> Result<serde_json::Value> {
        let saved = RandomState {
            strategy: NAME.into(),
            space: self.space.name().into(),
            rng: self.rng.clone(),
        };
        serde_json::to_value(saved).map_err(|e| state(NAME, e))
    }

    fn load_state(&mut self, saved: &serde_json::Value) -> Result<()> {
        check_header(saved, NAME, self.space.name())?;
        let saved: RandomState =
            serde_json::from_value(saved.clone()).map_err(|e| state(NAME, e))?;
        self.rng = saved.rng;
        Ok(())
    }
}

/// Checks the `strategy` and `space` tags of a saved state before anything else is read, so
/// that a state of another strategy or space is reported as such rather than as a missing
/// field.
pub(crate) fn check_header(
    saved: &serde_json::Value,
    strategy: &'static str,
    space: &str,
) -> Result<()> {
    let tag = |key: &str| saved.get(key).and_then(serde_json::Value::as_str);
    match tag("strategy") {
        Some(found) if found == strategy => {}
        Some(found) => return Err(state(strategy, format!("it is a `{found}` state"))),
        None => return Err(state(strategy, "no `strategy` tag")),
    }
    match tag("space") {
        Some(found) if found == space => Ok(()),
        Some(found) => Err(state(
            strategy,
            format!("it was saved for space `{found}`, not `{space}`"),
        )),
        None => Err(state(strategy, "no `space` tag")),
    }
}
