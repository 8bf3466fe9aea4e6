//! The ENAS macro search space (Pham et al. 2018): a whole network of `L` layers, each with
//! one of six ops and skip connections from any earlier layer.

mod arch;
mod dot;
mod enas_string;
mod morphism;
mod op;
mod space;

pub use arch::{MacroArch, MacroLayer, last_reader, pool_layers};
pub use morphism::MacroMorphism;
pub use op::MacroOp;
pub use space::{MACRO_OP_HEAD, MacroSpace};
