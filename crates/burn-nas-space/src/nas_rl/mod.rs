//! The NAS-RL search space (Zoph & Le 2017): a CNN emitted layer by layer, with filter sizes,
//! filter counts, optional strides and anchor-point skip connections.

mod arch;
mod dot;
mod morphism;
mod space;

pub use arch::{NasRlArch, NasRlLayer};
pub use morphism::{MorphError, NasRlMorphism};
pub use space::{
    FILTER_HEIGHT_HEAD, FILTER_WIDTH_HEAD, FILTERS_HEAD, NasRlSpace, STRIDE_HEAD, STRIDE_WIDTH_HEAD,
};
