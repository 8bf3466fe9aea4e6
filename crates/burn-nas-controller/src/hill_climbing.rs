//! [`MorphismHillClimbing`]: NASH-style hill climbing by network morphisms (Elsken, Metzen &
//! Hutter 2018, "Simple and efficient architecture search for CNNs").

use burn_nas_space::enas_macro::MacroMorphism;
use burn_nas_space::enas_micro::MicroMorphism;
use burn_nas_space::nas_rl::NasRlMorphism;
use burn_nas_space::{
    Architecture, MacroArch, MacroSpace, MicroArch, MicroSpace, NasRlArch, NasRlSpace, SearchSpace,
    Token,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Result, check_rewards, state};
use crate::random::check_header;
use crate::strategy::{Proposal, SearchStrategy};

const NAME: &str = "hill_climbing";

/// An architecture one function-preserving morphism away from another.
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbour<A> {
    /// The morphed architecture.
    pub arch: A,
    /// The operator's kind (e.g. `"widen"`); the climber picks a kind uniformly first, so
    /// operators with many variants do not crowd out the others.
    pub kind: &'static str,
    /// No further morphism may follow this one in the same child (weight transfer supports it
    /// only as the last step, e.g. a new layer).
    pub last: bool,
}

/// The function-preserving morphisms of a space's architectures: what
/// [`MorphismHillClimbing`] needs of a space.
pub trait Morphisms<A> {
    /// The space's name (saved with the strategy's state).
    fn space_name(&self) -> &str;

    /// Every architecture one morphism away from `arch` that the space allows.
    fn neighbours(&self, arch: &A) -> Vec<Neighbour<A>>;

    /// The tokens of `arch` (which may be deeper than the space it started in).
    ///
    /// # Errors
    /// `arch` is not in the space at its depth.
    fn tokens(&self, arch: &A) -> Result<Vec<Token>>;
}

/// The NAS-RL morphisms of [`NasRlMorphism`] that stay in a [`NasRlSpace`]'s options, for
/// networks trained on `image_size` × `image_size` inputs, up to `max_depth` layers.
#[derive(Debug, Clone)]
pub struct NasRlMorphisms {
    space: NasRlSpace,
    image_size: usize,
    max_depth: usize,
}

impl NasRlMorphisms {
    /// Morphisms within `space`'s options for `image_size`-pixel inputs (the size the
    /// children are trained at: [`NasRlMorphism::apply`] checks padding and input sizes
    /// against it), growing to at most `max_depth` layers.
    pub fn new(space: NasRlSpace, image_size: usize, max_depth: usize) -> Self {
        NasRlMorphisms {
            space,
            image_size,
            max_depth,
        }
    }
}

impl Morphisms<NasRlArch> for NasRlMorphisms {
    fn space_name(&self) -> &str {
        self.space.name()
    }

    fn neighbours(&self, arch: &NasRlArch) -> Vec<Neighbour<NasRlArch>> {
        NasRlMorphism::neighbours(&self.space, arch, self.image_size, self.max_depth)
            .into_iter()
            .filter_map(|m| {
                let (kind, last) = match m {
                    NasRlMorphism::Widen { .. } => ("widen", false),
                    NasRlMorphism::EnlargeKernel { .. } => ("enlarge_kernel", false),
                    NasRlMorphism::AddSkip { .. } => ("add_skip", false),
                    NasRlMorphism::Deepen { .. } => ("deepen", true),
                };
                Some(Neighbour {
                    arch: m.apply(arch, self.image_size).ok()?,
                    kind,
                    last,
                })
            })
            .collect()
    }

    fn tokens(&self, arch: &NasRlArch) -> Result<Vec<Token>> {
        Ok(self.space.at_depth(arch.layers.len())?.encode(arch)?)
    }
}

/// The ENAS macro morphisms of [`MacroMorphism`] whose ops stay among a [`MacroSpace`]'s,
/// growing to at most `max_depth` layers (pass the space's own depth to stay in it).
#[derive(Debug, Clone)]
pub struct MacroMorphisms {
    space: MacroSpace,
    max_depth: usize,
}

impl MacroMorphisms {
    /// Morphisms within `space`'s ops, up to `max_depth` layers.
    pub fn new(space: MacroSpace, max_depth: usize) -> Self {
        MacroMorphisms { space, max_depth }
    }
}

impl Morphisms<MacroArch> for MacroMorphisms {
    fn space_name(&self) -> &str {
        self.space.name()
    }

    fn neighbours(&self, arch: &MacroArch) -> Vec<Neighbour<MacroArch>> {
        MacroMorphism::neighbours(&self.space, arch, self.max_depth)
            .into_iter()
            .filter_map(|m| {
                let (kind, last) = match m {
                    MacroMorphism::AddSkip { .. } => ("add_skip", false),
                    MacroMorphism::EnlargeKernel { .. } => ("enlarge_kernel", false),
                    MacroMorphism::SeparableToFull { .. } => ("separable_to_full", false),
                    MacroMorphism::Deepen { .. } => ("deepen", true),
                };
                Some(Neighbour {
                    arch: m.apply(arch).ok()?,
                    kind,
                    last,
                })
            })
            .collect()
    }

    fn tokens(&self, arch: &MacroArch) -> Result<Vec<Token>> {
        Ok(MacroSpace::new(arch.layers.len(), self.space.ops())?.encode(arch)?)
    }
}

/// The ENAS micro morphisms of [`MicroMorphism`] (a node's `sep_conv_3x3` grows to 5×5) in a
/// [`MicroSpace`]. The only function-preserving change the micro space allows: a climb with
/// it can only enlarge kernels, at most `4B` steps.
#[derive(Debug, Clone)]
pub struct MicroMorphisms {
    space: MicroSpace,
}

impl MicroMorphisms {
    /// Morphisms within `space`.
    pub fn new(space: MicroSpace) -> Self {
        MicroMorphisms { space }
    }
}

impl Morphisms<MicroArch> for MicroMorphisms {
    fn space_name(&self) -> &str {
        self.space.name()
    }

    fn neighbours(&self, arch: &MicroArch) -> Vec<Neighbour<MicroArch>> {
        MicroMorphism::neighbours(&self.space, arch)
            .into_iter()
            .filter_map(|m| {
                Some(Neighbour {
                    arch: m.apply(arch).ok()?,
                    kind: "enlarge_kernel",
                    last: false,
                })
            })
            .collect()
    }

    fn tokens(&self, arch: &MicroArch) -> Result<Vec<Token>> {
        Ok(self.space.encode(arch)?)
    }
}

/// Settings of [`MorphismHillClimbing`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HillClimbingConfig {
    /// Morphisms applied in sequence to the parent to make one child (NASH: 5).
    pub morphisms_per_child: usize,
    /// Seed of the morphism draws.
    pub seed: u64,
}

impl Default for HillClimbingConfig {
    /// NASH's 5 morphisms per child, seed 0.
    fn default() -> Self {
        HillClimbingConfig {
            morphisms_per_child: 5,
            seed: 0,
        }
    }
}

/// Hill climbing by network morphisms (NASH, Elsken et al. 2018): each step proposes children
/// of the current parent, each made by a few random function-preserving morphisms, trains them
/// briefly starting from the parent's trained weights, and the best child becomes the next
/// parent.
///
/// The first step evaluates the start architecture and morphs of it (no parent yet: trained
/// from scratch). Every later proposal names its parent, so an estimator that accepts one —
/// `WeightInheritance` over a child factory that carries weights across morphisms
/// (`NasRlChild`: [`NasRlMorphism::transfer`]) — starts each child from a network computing
/// its parent's function; let it keep two steps' worth of trained networks (the parent may be
/// the first of its step, and all of its step and the next are stored after it). Each child
/// gets at most one morphism marked [`last`](Neighbour::last) (a new layer), as its final one.
///
/// Rewards of successive steps are not comparable with one-shot training: a child's network
/// carries all its ancestors' training. Compare against other strategies at equal total
/// training (e.g. epochs) and retrain the answers alike (docs/results.md).
///
/// # Example
/// ```
/// use burn_nas_controller::{HillClimbingConfig, MorphismHillClimbing, NasRlMorphisms, SearchStrategy};
/// use burn_nas_space::{NasRlArch, NasRlLayer, NasRlSpace};
///
/// let space = NasRlSpace::new(2)?;
/// let start = NasRlArch { layers: vec![NasRlLayer::square(3, 24, 1, vec![])] };
/// let mut climb = MorphismHillClimbing::new(
///     NasRlMorphisms::new(space, 28, 4), start.clone(), HillClimbingConfig::default());
/// let first = climb.propose(3)?;
/// assert_eq!(first[0].arch, start);
/// let rewards: Vec<_> = first.into_iter().zip([0.5, 0.7, 0.6]).collect();
/// let best = rewards[1].0.arch.clone();
/// climb.observe(&rewards)?;
/// assert!(climb.propose(2)?.iter().all(|p| p.parent.as_ref() == Some(&best)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct MorphismHillClimbing<A, M> {
    morphisms: M,
    config: HillClimbingConfig,
    start: A,
    parent: Option<(A, f64)>,
    steps: usize,
    rng: ChaCha8Rng,
}

/// What [`MorphismHillClimbing::save_state`](SearchStrategy::save_state) writes.
#[derive(Serialize, Deserialize)]
struct HillClimbingState {
    strategy: String,
    space: String,
    config: HillClimbingConfig,
    /// The parent as architecture JSON, and its reward.
    parent: Option<(String, f64)>,
    steps: usize,
    rng: ChaCha8Rng,
}

impl<A: Architecture, M: Morphisms<A>> MorphismHillClimbing<A, M> {
    /// Climbs from `start` (NASH starts from a small network) with `morphisms`.
    pub fn new(morphisms: M, start: A, config: HillClimbingConfig) -> Self {
        let rng = ChaCha8Rng::seed_from_u64(config.seed);
        MorphismHillClimbing {
            morphisms,
            config,
            start,
            parent: None,
            steps: 0,
            rng,
        }
    }

    /// The current parent and its reward (`None` before the first step is observed).
    pub fn parent(&self) -> Option<(&A, f64)> {
        self.parent.as_ref().map(|(a, r)| (a, *r))
    }

    /// Steps observed so far.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// A child of `from`: up to `morphisms_per_child` morphisms, each of a kind drawn
    /// uniformly among those that apply, stopping after one marked `last`.
    fn child(&mut self, from: &A) -> A {
        let mut arch = from.clone();
        for _ in 0..self.config.morphisms_per_child.max(1) {
            let neighbours = self.morphisms.neighbours(&arch);
            let mut kinds: Vec<&'static str> = neighbours.iter().map(|n| n.kind).collect();
            kinds.sort_unstable();
            kinds.dedup();
            if kinds.is_empty() {
                break;
            }
            let kind = kinds[self.rng.random_range(0..kinds.len())];
            let of_kind: Vec<&Neighbour<A>> =
                neighbours.iter().filter(|n| n.kind == kind).collect();
            let pick = of_kind[self.rng.random_range(0..of_kind.len())];
            arch = pick.arch.clone();
            if pick.last {
                break;
            }
        }
        arch
    }

    fn proposal(&self, arch: A, parent: Option<A>) -> Result<Proposal<A>> {
        let tokens = self.morphisms.tokens(&arch)?;
        Ok(Proposal {
            parent,
            ..Proposal::new(arch, tokens)
        })
    }
}

impl<A: Architecture, M: Morphisms<A>> SearchStrategy<A> for MorphismHillClimbing<A, M> {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Before the first observed step: the start architecture and `n − 1` children of it,
    /// without a parent. After: `n` children of the current parent, each naming it.
    fn propose(&mut self, n: usize) -> Result<Vec<Proposal<A>>> {
        match self.parent.clone() {
            None => {
                let start = self.start.clone();
                let mut out = Vec::with_capacity(n);
                if n > 0 {
                    out.push(self.proposal(start.clone(), None)?);
                }
                for _ in 1..n {
                    let child = self.child(&start);
                    out.push(self.proposal(child, None)?);
                }
                Ok(out)
            }
            Some((parent, _)) => (0..n)
                .map(|_| {
                    let child = self.child(&parent);
                    self.proposal(child, Some(parent.clone()))
                })
                .collect(),
        }
    }

    /// The parent's current network, for weight-sharing estimators (there is nothing to
    /// share; this keeps the default from drawing children).
    fn sample_for_training(&mut self) -> Result<A> {
        Ok(self
            .parent
            .as_ref()
            .map_or_else(|| self.start.clone(), |(a, _)| a.clone()))
    }

    /// The best proposal of the step becomes the parent (NASH keeps the best child, whose
    /// network carries its parent's training plus its own).
    fn observe(&mut self, results: &[(Proposal<A>, f64)]) -> Result<()> {
        check_rewards(results.iter().map(|(_, r)| *r))?;
        if let Some((best, reward)) = results.iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
            self.parent = Some((best.arch.clone(), *reward));
            self.steps += 1;
        }
        Ok(())
    }

    /// The current parent first, then children of it.
    fn derive(&mut self, n: usize) -> Result<Vec<Proposal<A>>> {
        let Some((parent, _)) = self.parent.clone() else {
            return self.propose(n);
        };
        let mut out = vec![self.proposal(parent.clone(), None)?];
        for _ in 1..n {
            let child = self.child(&parent);
            out.push(self.proposal(child, Some(parent.clone()))?);
        }
        Ok(out)
    }

    fn save_state(&self) -> Result<serde_json::Value> {
        let saved = HillClimbingState {
            strategy: NAME.into(),
            space: self.morphisms.space_name().into(),
            config: self.config.clone(),
            parent: self.parent.as_ref().map(|(a, r)| (a.to_json(), *r)),
            steps: self.steps,
            rng: self.rng.clone(),
        };
        serde_json::to_value(saved).map_err(|e| state(NAME, e))
    }

    fn load_state(&mut self, saved: &serde_json::Value) -> Result<()> {
        check_header(saved, NAME, self.morphisms.space_name())?;
        let saved: HillClimbingState =
            serde_json::from_value(saved.clone()).map_err(|e| state(NAME, e))?;
        let parent = match saved.parent {
            Some((json, reward)) => Some((A::from_json(&json)?, reward)),
            None => None,
        };
        self.config = saved.config;
        self.parent = parent;
        self.steps = saved.steps;
        self.rng = saved.rng;
        Ok(())
    }
}
