//! The ENAS micro (cell) search space (Pham et al. 2018): a normal and a reduction cell of
//! `B` nodes, each node summing two ops on two earlier nodes.

mod arch;
mod dot;
mod enas_string;
mod morphism;
mod op;
mod space;

pub use arch::{Cell, CellKind, MicroArch, Node, reduction_cells};
pub use morphism::MicroMorphism;
pub use op::MicroOp;
pub use space::{MICRO_OP_HEAD, MicroSpace};
