//! Search strategies for [burn-nas](https://crates.io/crates/burn-nas). They see a space only
//! through its decisions, so each works on every space.

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod config;
mod depth;
mod error;
mod params;
mod policy;
mod reinforce;
mod strategy;
// A benchmark of strategies on tasks with a known optimum (the controller's tests and docs use
// it): not part of the library's surface.
#[doc(hidden)]
pub mod synthetic;

pub use config::{FixedBias, LearnedBias, ReinforceConfig};
pub use depth::DepthSchedule;
pub use params::TensorValues;
pub use policy::Policy;
pub use reinforce::{Reinforce, UpdateStats};

pub use error::{Result, StrategyError};
pub use strategy::{Proposal, SearchStrategy};

mod evolution;
mod hill_climbing;
mod mutation;
mod random;
pub use evolution::{EvolutionConfig, RegularizedEvolution};
pub use hill_climbing::{
    HillClimbingConfig, MacroMorphisms, MicroMorphisms, MorphismHillClimbing, Morphisms,
    NasRlMorphisms, Neighbour,
};
pub use mutation::mutate;
pub use random::RandomSearch;
