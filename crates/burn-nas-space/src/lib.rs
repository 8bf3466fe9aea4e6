//! Search spaces of [burn-nas](https://crates.io/crates/burn-nas): neural architectures as
//! plain data.
//!
//! A search space is a set of possible networks. Here each one is described two ways:
//!
//! * as a **typed architecture** ([`MicroArch`], [`MacroArch`], [`NasRlArch`]) that can be
//!   compared, printed, validated, stored as versioned JSON with op *names*, exchanged as the
//!   official ENAS integer strings, and drawn with Graphviz;
//! * as the answers to a fixed list of **decisions** ([`Decisions`]): picking one of `n`
//!   ([`Decision::Categorical`]), picking an earlier node ([`Decision::SelectInput`]), or
//!   picking a set of earlier layers ([`Decision::SkipSet`]). [`SearchSpace::decode`] and
//!   [`SearchSpace::encode`] convert exactly between the two, so search strategies only ever
//!   see decisions and work on every space, including one you define.
//!
//! | space          | paper                 | architecture  | decisions per block              |
//! |----------------|-----------------------|---------------|----------------------------------|
//! | [`MicroSpace`] | ENAS (cells)          | [`MicroArch`] | input, input, op, op per node    |
//! | [`MacroSpace`] | ENAS (whole network)  | [`MacroArch`] | op, skip set per layer           |
//! | [`NasRlSpace`] | Zoph & Le 2017        | [`NasRlArch`] | h, w, (stride), filters, skips |
//!
//! ```
//! use burn_nas_space::{Architecture, MicroSpace, SearchSpace};
//! use rand::SeedableRng;
//!
//! let space = MicroSpace::default();
//! let mut rng = rand::rngs::StdRng::seed_from_u64(7);
//! let arch = space.sample(&mut rng)?;
//! let tokens = space.encode(&arch)?;
//! assert_eq!(space.decode(&tokens)?, arch);
//! println!("{arch}\n{}", arch.to_enas_string());
//! let json = arch.to_json();
//! assert_eq!(burn_nas_space::MicroArch::from_json(&json)?, arch);
//! # Ok::<(), burn_nas_space::ArchError>(())
//! ```
//!
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

mod any_arch;
mod decision;
mod enas_ints;
pub mod enas_macro;
pub mod enas_micro;
mod error;
mod json;
pub mod morphism;
pub mod nas_rl;
mod params;
mod skips;
mod space;

pub use any_arch::AnyArch;
pub use decision::{
    Decision, DecisionGroup, DecisionSite, Decisions, GroupId, HeadId, SpaceSize, Token,
};
pub use enas_macro::{MacroArch, MacroLayer, MacroOp, MacroSpace};
pub use enas_micro::{Cell, CellKind, MicroArch, MicroOp, MicroSpace, Node};
pub use error::{ArchError, Result};
pub use json::{FORMAT_VERSION, space_of};
pub use nas_rl::{NasRlArch, NasRlLayer, NasRlSpace};
pub use params::{ParamValues, TensorValues};
pub use space::{Architecture, SearchSpace};
