//! What the function-preserving network morphisms of every space share (Wei et al. 2016;
//! Chen et al. 2016, Net2Net; Elsken et al. 2018, NASH): their error type and the parameter
//! surgery they are built from.
//!
//! Each space has its own operators, because what a network can absorb without changing its
//! function depends on how the space builds networks:
//!
//! | space | operators |
//! |---|---|
//! | NAS-RL ([`NasRlMorphism`](crate::nas_rl::NasRlMorphism)) | widen a layer, enlarge a filter, add a skip, insert an identity layer |
//! | ENAS macro ([`MacroMorphism`](crate::enas_macro::MacroMorphism)) | add a skip, enlarge a kernel, make a separable convolution full, insert an identity layer |
//! | ENAS micro ([`MicroMorphism`](crate::enas_micro::MicroMorphism)) | enlarge a node's separable convolution from 3×3 to 5×5 |
//!
//! Every operator is exact in eval mode (batch norm on running statistics): the morphed
//! network's logits equal the parent's up to float rounding, before any training.

use std::collections::BTreeMap;

use rand::Rng;
use thiserror::Error;

use crate::params::{ParamValues, TensorValues};

/// Batch norm's ε in every network of `burn-nas-nn` (`ops::Bn::new`).
const BN_EPSILON: f32 = 1e-5;

/// Why a morphism or a parameter transfer could not be done.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum MorphError {
    /// The operator does not apply to this architecture, or would not preserve its function.
    #[error("{morphism} does not apply: {reason}")]
    NotApplicable {
        /// The operator (its `Debug` form, e.g. `AddSkip { from: 0, to: 2 }`).
        morphism: String,
        /// Why.
        reason: String,
    },
    /// No sequence of operators turns the parent into the child.
    #[error("the child is not a morphism of the parent: {0}")]
    NotAMorphism(String),
    /// The parent's parameters do not fit the parent architecture.
    #[error("parameter `{key}`: {reason}")]
    Params {
        /// The parameter's path.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The crate's result type for morphisms.
pub(crate) type MorphResult<T> = std::result::Result<T, MorphError>;

/// [`MorphError::NotApplicable`] for `morphism`.
pub(crate) fn not_applicable<T>(
    morphism: impl std::fmt::Debug,
    reason: impl Into<String>,
) -> MorphResult<T> {
    Err(MorphError::NotApplicable {
        morphism: format!("{morphism:?}"),
        reason: reason.into(),
    })
}

/// The parameter `key` of `params`, checked to hold as many values as its shape says and,
/// when given, to have `dims`.
pub(crate) fn param<'a>(
    params: &'a ParamValues,
    key: &str,
    dims: Option<&[usize]>,
) -> MorphResult<&'a TensorValues> {
    let t = params.get(key).ok_or_else(|| MorphError::Params {
        key: key.to_string(),
        reason: "missing".into(),
    })?;
    let len_ok = t.dims.iter().product::<usize>() == t.values.len();
    if !len_ok || dims.is_some_and(|d| d != t.dims.as_slice()) {
        return Err(MorphError::Params {
            key: key.to_string(),
            reason: format!("shape {:?} does not fit the architecture", t.dims),
        });
    }
    Ok(t)
}

/// A 4-d parameter's `[out, in, height, width]`.
pub(crate) fn dims4(params: &ParamValues, key: &str) -> MorphResult<[usize; 4]> {
    let t = param(params, key, None)?;
    t.dims.clone().try_into().map_err(|_| MorphError::Params {
        key: key.to_string(),
        reason: format!("shape {:?} is not 4-d", t.dims),
    })
}

/// Batch norm's scale that, with mean 0, variance 1 and offset 0, passes its input through in
/// eval mode: (x − 0) / √(1 + ε) · √(1 + ε) + 0 = x.
pub(crate) fn identity_bn_gamma() -> f32 {
    (1.0 + BN_EPSILON).sqrt()
}

/// The parameters of a batch norm over `channels` channels with scale `gamma`, offset 0,
/// running mean 0 and running variance 1: a fresh one with `gamma` 1, an identity in eval mode
/// with [`identity_bn_gamma`].
pub(crate) fn bn_params(prefix: &str, channels: usize, gamma: f32) -> ParamValues {
    let vector = |v: f32| TensorValues {
        dims: vec![channels],
        values: vec![v; channels],
    };
    BTreeMap::from([
        (format!("{prefix}.gamma"), vector(gamma)),
        (format!("{prefix}.beta"), vector(0.0)),
        (format!("{prefix}.running_mean"), vector(0.0)),
        (format!("{prefix}.running_var"), vector(1.0)),
    ])
}

/// A `[out, in, k, k]` convolution weight `scale · I` on the centre tap: channel `o` reads
/// channel `o` (`out == in`).
pub(crate) fn identity_conv(channels: usize, kernel: usize, scale: f32) -> TensorValues {
    let mut values = vec![0.0; channels * channels * kernel * kernel];
    let centre = kernel / 2;
    for o in 0..channels {
        values[((o * channels + o) * kernel + centre) * kernel + centre] = scale;
    }
    TensorValues {
        dims: vec![channels, channels, kernel, kernel],
        values,
    }
}

/// A `[out, in, h, w]` weight drawn He-uniform (±√(6 / fan-in)): parameters of a path whose
/// output the morphed network multiplies by zero, so any values keep the function.
pub(crate) fn he_uniform(dims: [usize; 4], rng: &mut impl Rng) -> TensorValues {
    let bound = (6.0 / (dims[1] * dims[2] * dims[3]).max(1) as f32).sqrt();
    TensorValues {
        dims: dims.to_vec(),
        values: (0..dims.iter().product::<usize>())
            .map(|_| rng.random_range(-bound..bound))
            .collect(),
    }
}

/// `weight` (`[out, in, h, w]`) in the centre of a larger `height × width` kernel, zeros
/// around it: with "same" padding at stride 1 (or any stride whose padding grows by half the
/// enlargement on each side) the convolution is unchanged.
pub(crate) fn embed_centre(weight: &TensorValues, height: usize, width: usize) -> TensorValues {
    let [co, ci, h, w]: [usize; 4] = weight.dims.clone().try_into().expect("a 4-d weight");
    let (dy, dx) = ((height - h) / 2, (width - w) / 2);
    let mut values = vec![0.0; co * ci * height * width];
    for oi in 0..co * ci {
        for y in 0..h {
            for x in 0..w {
                values[(oi * height + y + dy) * width + x + dx] =
                    weight.values[(oi * h + y) * w + x];
            }
        }
    }
    TensorValues {
        dims: vec![co, ci, height, width],
        values,
    }
}

/// `weight` (`[out, in, h, w]`) with its input channels rebuilt: new input `i` takes old
/// input `source(i)` times its factor, `None` gives zeros.
pub(crate) fn remap_inputs(
    weight: &TensorValues,
    new_in: usize,
    source: impl Fn(usize) -> Option<(usize, f32)>,
) -> TensorValues {
    let [co, ci, h, w]: [usize; 4] = weight.dims.clone().try_into().expect("a 4-d weight");
    let hw = h * w;
    let mut values = vec![0.0; co * new_in * hw];
    for o in 0..co {
        for i in 0..new_in {
            if let Some((old, factor)) = source(i) {
                let from = &weight.values[(o * ci + old) * hw..(o * ci + old + 1) * hw];
                let to = &mut values[(o * new_in + i) * hw..(o * new_in + i + 1) * hw];
                for (t, f) in to.iter_mut().zip(from) {
                    *t = f * factor;
                }
            }
        }
    }
    TensorValues {
        dims: vec![co, new_in, h, w],
        values,
    }
}
