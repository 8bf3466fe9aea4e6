//! Regularized (aging) evolution, Real et al., "Regularized Evolution for Image Classifier
//! Architecture Search", AAAI 2019.

use std::collections::VecDeque;

use burn_nas_space::{SearchSpace, Token};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Result, check_rewards, invalid, state};
use crate::mutation::mutate;
use crate::random::check_header;
use crate::strategy::{Proposal, SearchStrategy};

const NAME: &str = "evolution";

/// Settings of [`RegularizedEvolution`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvolutionConfig {
    /// How many of the most recently evaluated architectures form the population (`P` in the
    /// paper). Also the number of uniform random proposals that start the search. Default 100.
    pub population: usize,
    /// How many population members a tournament draws, without replacement, to pick a parent
    /// (`S` in the paper). Larger is greedier. Default 25.
    pub sample_size: usize,
    /// Seed of the random number generator; the same seed gives the same search.
    pub seed: u64,
}

impl Default for EvolutionConfig {
    /// The paper's CIFAR-10 setting: population 100, sample size 25, seed 0.
    fn default() -> Self {
        EvolutionConfig {
            population: 100,
            sample_size: 25,
            seed: 0,
        }
    }
}

impl EvolutionConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`StrategyError::InvalidSetting`](crate::StrategyError::InvalidSetting) naming
    /// `population` when it is below 2 (there would be nothing to compete with), or
    /// `sample_size` when it is 0 or larger than the population.
    pub fn validate(&self) -> Result<()> {
        if self.population < 2 {
            return Err(invalid(
                "population",
                format!("{} is below the minimum of 2", self.population),
            ));
        }
        if self.sample_size == 0 || self.sample_size > self.population {
            return Err(invalid(
                "sample_size",
                format!(
                    "{} is not in 1..={} (the population)",
                    self.sample_size, self.population
                ),
            ));
        }
        Ok(())
    }
}

/// An evaluated architecture.
#[derive(Debug, Clone)]
struct Member<A> {
    arch: A,
    tokens: Vec<Token>,
    reward: f64,
}

/// Regularized evolution (aging evolution) of Real et al. (2019), on any space.
///
/// The search starts with [`population`](EvolutionConfig::population) uniform random
/// architectures. After that, each proposal runs a tournament: it draws
/// [`sample_size`](EvolutionConfig::sample_size) members of the population without
/// replacement, takes the one with the highest reward as parent, and proposes the parent with
/// one decision changed ([`mutate`]); [`Proposal::parent`] holds the parent, so its weights can
/// warm-start the child. Every observed architecture joins the population and the *oldest*
/// member leaves, whatever its reward: this aging is the regularization, since a good
/// architecture only survives by having good descendants.
///
/// Batches work as in the paper's asynchronous setting: random proposals still awaiting their
/// rewards count towards the initial population, so a batch larger than what is missing gets
/// random architectures only for the gap, and tournaments run on the members observed so far.
///
/// # Example
/// ```
/// use burn_nas_controller::synthetic::agreement;
/// use burn_nas_controller::{EvolutionConfig, RegularizedEvolution, SearchStrategy};
/// use burn_nas_space::{MacroSpace, SearchSpace};
/// use rand::SeedableRng;
///
/// let space = MacroSpace::default();
/// // A toy reward: how close an architecture is to a hidden target.
/// let target = space.decisions().sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(1));
/// let config = EvolutionConfig { population: 20, sample_size: 5, seed: 7 };
/// let mut search = RegularizedEvolution::new(space, config)?;
/// for _ in 0..20 {
///     let results: Vec<_> = search
///         .propose(10)?
///         .into_iter()
///         .map(|p| { let reward = agreement(&p.tokens, &target); (p, reward) })
///         .collect();
///     search.observe(&results)?;
/// }
/// assert!(search.best().is_some_and(|(_arch, reward)| reward > 0.5));
/// # Ok::<(), burn_nas_controller::StrategyError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RegularizedEvolution<S: SearchSpace> {
    space: S,
    config: EvolutionConfig,
    rng: ChaCha8Rng,
    /// Oldest first.
    population: VecDeque<Member<S::Arch>>,
    /// Random proposals made but not yet observed.
    pending_random: usize,
    best: Option<Member<S::Arch>>,
}

/// What [`RegularizedEvolution::save_state`](SearchStrategy::save_state) writes.
#[derive(Serialize, Deserialize)]
struct EvolutionState {
    strategy: String,
    space: String,
    config: EvolutionConfig,
    rng: ChaCha8Rng,
    /// Oldest first.
    population: Vec<SavedMember>,
    pending_random: usize,
    best: Option<SavedMember>,
}

/// A member as saved: the architecture is decoded again from its tokens on loading.
#[derive(Serialize, Deserialize)]
struct SavedMember {
    tokens: Vec<Token>,
    #[serde(with = "exact_f64")]
    reward: f64,
}

impl<S: SearchSpace> RegularizedEvolution<S> {
    /// Regularized evolution over `space`.
    ///
    /// # Errors
    /// [`StrategyError::InvalidSetting`](crate::StrategyError::InvalidSetting) for impossible
    /// settings (see [`EvolutionConfig::validate`]).
    pub fn new(space: S, config: EvolutionConfig) -> Result<Self> {
        config.validate()?;
        Ok(RegularizedEvolution {
            space,
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            config,
            population: VecDeque::new(),
            pending_random: 0,
            best: None,
        })
    }

    /// The space searched.
    pub fn space(&self) -> &S {
        &self.space
    }

    /// The settings (after [`load_state`](SearchStrategy::load_state), the saved ones).
    pub fn config(&self) -> &EvolutionConfig {
        &self.config
    }

    /// The best architecture observed so far with its reward (the first one on ties), or `None`
    /// before any observation. It is kept even after it has aged out of the population.
    pub fn best(&self) -> Option<(&S::Arch, f64)> {
        self.best.as_ref().map(|m| (&m.arch, m.reward))
    }

    /// The current population with rewards, oldest first.
    pub fn population(&self) -> impl Iterator<Item = (&S::Arch, f64)> + '_ {
        self.population.iter().map(|m| (&m.arch, m.reward))
    }

    /// A uniformly random architecture of the space, not counted as pending.
    fn random_sample(&mut self) -> Result<Proposal<S::Arch>> {
        let tokens = self.space.decisions().sample(&mut self.rng);
        let arch = self.space.decode(&tokens)?;
        Ok(Proposal::new(arch, tokens))
    }

    /// A random proposal of the initial population, pending until its reward is observed.
    fn random_proposal(&mut self) -> Result<Proposal<S::Arch>> {
        let proposal = self.random_sample()?;
        self.pending_random += 1;
        Ok(proposal)
    }

    /// A tournament among `sample_size` distinct members, then one mutation of the winner.
    /// The population must not be empty.
    fn evolved_proposal(&mut self) -> Result<Proposal<S::Arch>> {
        let members = self.population.len();
        let drawn = self.config.sample_size.min(members);
        let mut parent: Option<&Member<S::Arch>> = None;
        for i in rand::seq::index::sample(&mut self.rng, members, drawn) {
            let candidate = &self.population[i];
            if parent.is_none_or(|p| candidate.reward > p.reward) {
                parent = Some(candidate);
            }
        }
        let Some(parent) = parent else {
            return Err(state(NAME, "a tournament needs a non-empty population"));
        };
        let tokens = mutate(self.space.decisions(), &parent.tokens, &mut self.rng)?;
        let arch = self.space.decode(&tokens)?;
        Ok(Proposal {
            parent: Some(parent.arch.clone()),
            ..Proposal::new(arch, tokens)
        })
    }

    fn restore(&self, saved: SavedMember) -> Result<Member<S::Arch>> {
        // A state of a same-named space with other settings has tokens that do not fit.
        let arch = self
            .space
            .decode(&saved.tokens)
            .map_err(|e| state(NAME, format!("saved tokens do not fit the space: {e}")))?;
        if !saved.reward.is_finite() {
            return Err(state(
                NAME,
                format!("reward {} is not finite", saved.reward),
            ));
        }
        Ok(Member {
            arch,
            tokens: saved.tokens,
            reward: saved.reward,
        })
    }
}

impl<S: SearchSpace> SearchStrategy<S::Arch> for RegularizedEvolution<S> {
    fn name(&self) -> &'static str {
        NAME
    }

    fn propose(&mut self, n: usize) -> Result<Vec<Proposal<S::Arch>>> {
        let filled = self.population.len() + self.pending_random;
        let gap = self.config.population.saturating_sub(filled);
        (0..n)
            .map(|i| {
                // With nothing observed yet (everything still pending) there is no parent to
                // pick, so the only possible proposal is a random one.
                if i < gap || self.population.is_empty() {
                    self.random_proposal()
                } else {
                    self.evolved_proposal()
                }
            })
            .collect()
    }

    /// Training samples for shared weights follow the population without becoming proposals:
    /// uniformly random while it is empty, else a tournament winner's mutation. A random
    /// sample here is not counted as pending, so supernet training never eats into the random
    /// initial population.
    fn sample_for_training(&mut self) -> Result<S::Arch> {
        let sample = if self.population.is_empty() {
            self.random_sample()?
        } else {
            self.evolved_proposal()?
        };
        Ok(sample.arch)
    }

    /// Adds every result to the population in order, the oldest members leaving once it
    /// holds more than [`population`](EvolutionConfig::population). The whole batch is
    /// checked first, so an error leaves the strategy unchanged.
    fn observe(&mut self, results: &[(Proposal<S::Arch>, f64)]) -> Result<()> {
        check_rewards(results.iter().map(|(_, reward)| *reward))?;
        let mut members = Vec::with_capacity(results.len());
        for (proposal, reward) in results {
            // Decode rather than trust `proposal.arch`, so population and tokens agree.
            let arch = self.space.decode(&proposal.tokens)?;
            members.push(Member {
                arch,
                tokens: proposal.tokens.clone(),
                reward: *reward,
            });
        }
        let random = results.iter().filter(|(p, _)| p.parent.is_none()).count();
        self.pending_random = self.pending_random.saturating_sub(random);
        for member in members {
            if self.best.as_ref().is_none_or(|b| member.reward > b.reward) {
                self.best = Some(member.clone());
            }
            self.population.push_back(member);
            if self.population.len() > self.config.population {
                self.population.pop_front();
            }
        }
        Ok(())
    }

    /// Strategy and space tags, settings, RNG, population (tokens and rewards, oldest first),
    /// the number of random proposals awaiting rewards, and the best member. Rewards are
    /// written as decimal strings, which read back bit for bit.
    fn save_state(&self) -> Result<serde_json::Value> {
        let save = |m: &Member<S::Arch>| SavedMember {
            tokens: m.tokens.clone(),
            reward: m.reward,
        };
        let saved = EvolutionState {
            strategy: NAME.into(),
            space: self.space.name().into(),
            config: self.config.clone(),
            rng: self.rng.clone(),
            population: self.population.iter().map(save).collect(),
            pending_random: self.pending_random,
            best: self.best.as_ref().map(save),
        };
        serde_json::to_value(saved).map_err(|e| state(NAME, e))
    }

    fn load_state(&mut self, saved: &serde_json::Value) -> Result<()> {
        check_header(saved, NAME, self.space.name())?;
        let saved: EvolutionState =
            serde_json::from_value(saved.clone()).map_err(|e| state(NAME, e))?;
        saved
            .config
            .validate()
            .map_err(|e| state(NAME, format!("saved settings: {e}")))?;
        if saved.population.len() > saved.config.population {
            return Err(state(
                NAME,
                format!(
                    "{} members saved for a population of {}",
                    saved.population.len(),
                    saved.config.population
                ),
            ));
        }
        // Build everything before assigning, so a damaged state leaves `self` unchanged.
        let population = saved
            .population
            .into_iter()
            .map(|m| self.restore(m))
            .collect::<Result<VecDeque<_>>>()?;
        let best = saved.best.map(|m| self.restore(m)).transpose()?;
        self.config = saved.config;
        self.rng = saved.rng;
        self.population = population;
        self.pending_random = saved.pending_random;
        self.best = best;
        Ok(())
    }
}

/// Serde for an `f64` as its shortest decimal string: serde_json's default number parser is
/// only approximately correct (about one reward in ten, such as 1/11, reads back one bit off),
/// while Rust's `str::parse` is exact, so a resumed search breaks tournament ties the same way.
mod exact_f64 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.to_string())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse()
            .map_err(|e| D::Error::custom(format!("reward `{text}`: {e}")))
    }
}
