//! **burn-nas**: Neural Architecture Search on [burn](https://burn.dev).
//!
//! Given a labelled image dataset, burn-nas outputs a description of a neural network that
//! does the task well, found automatically. Every method is a **search space** (which
//! networks are possible) × a **search strategy** (which to try next) × a
//! **performance-estimation strategy** (how good one is, cheaply).
//!
//! This facade re-exports the workspace crates:
//!
//! * [`space`]: architectures as plain data and the search spaces (NAS-RL, ENAS macro and
//!   micro), with JSON, ENAS integer strings and Graphviz output;
//! * [`backend`]: device selection from strings (`flex`, `wgpu:0`, `cuda:1`,
//!   `remote:ws://host:3000`);
//! * [`data`]: image datasets (CIFAR-10 binary, IDX / Fashion-MNIST with an embedded subset),
//!   splits, augmentation, batching;
//! * [`controller`]: search strategies (REINFORCE LSTM controller, random search, regularized
//!   evolution);
//! * [`estimator`]: child training and the performance estimators (low fidelity,
//!   learning-curve extrapolation, weight inheritance, ENAS weight sharing), retraining;
//! * [`search`]: the search loop — rounds, budgets, derivation, run directories (architecture
//!   JSON and DOT, history, reward plot, summary, weights), checkpoints and exact resume.
//!
//! The benchmark workloads (`examples/bench.rs`, the criterion bench) live in the unpublished
//! `burn-nas-bench` crate of the repository.
//!
//! ```
//! use burn_nas::prelude::*;
//!
//! let space = MicroSpace::default();
//! let arch = MicroArch::from_enas_string(
//!     "0 2 0 0 0 4 0 1 0 4 1 1 1 0 0 1 0 2 1 1 1 0 1 0 0 3 0 2 1 1 3 1 1 0 0 4 0 3 1 1",
//! )?;
//! let tokens = space.encode(&arch)?;
//! assert_eq!(space.decode(&tokens)?, arch);
//! # Ok::<(), burn_nas::space::ArchError>(())
//! ```
//!
//! ## Cargo features
#![doc = document_features::document_features!()]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

pub use burn_nas_backend as backend;
pub use burn_nas_controller as controller;
pub use burn_nas_data as data;
pub use burn_nas_estimator as estimator;
pub use burn_nas_nn as nn;
pub use burn_nas_search as search;
pub use burn_nas_space as space;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The names most programs need, in one `use`.
pub mod prelude {
    pub use burn_nas_backend::{DeviceError, DevicePool, DeviceSpec};
    pub use burn_nas_controller::{
        DepthSchedule, EvolutionConfig, HillClimbingConfig, MacroMorphisms, MicroMorphisms,
        MorphismHillClimbing, NasRlMorphisms, Proposal, RandomSearch, RegularizedEvolution,
        Reinforce, ReinforceConfig, SearchStrategy, StrategyError,
    };
    pub use burn_nas_data::{Augmentation, DataError, ImageDataset};
    pub use burn_nas_estimator::{
        CurveExtrapolation, Estimate, Estimator, EstimatorError, Fidelity, MacroChild, MicroChild,
        NasRlChild, SharedWeights, Task, TrainConfig, TrainFromScratch, WeightInheritance,
    };
    pub use burn_nas_nn::{
        MacroNetConfig, MacroSupernetConfig, MicroNetConfig, MicroSupernetConfig, Mode,
        NasRlNetConfig, Network,
    };
    pub use burn_nas_search::{
        Budget, BudgetAxis, Derive, HalvingConfig, IfExists, MultiFidelitySearch, Outcome, RunDir,
        Schedule, Search, SearchConfig, SearchError, Status, Summary,
    };
    pub use burn_nas_space::{
        AnyArch, ArchError, Architecture, Decision, Decisions, GroupId, HeadId, MacroArch, MacroOp,
        MacroSpace, MicroArch, MicroOp, MicroSpace, NasRlArch, NasRlSpace, SearchSpace, Token,
    };
}
