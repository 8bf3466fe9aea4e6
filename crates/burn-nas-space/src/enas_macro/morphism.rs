//! Function-preserving network morphisms of ENAS macro networks ([`MacroNet`](https://docs.rs/burn-nas-nn/latest/burn_nas_nn/struct.MacroNet.html)).
//!
//! A macro layer is a branch (1×1 conv → BN → ReLU, then a k×k full or separable conv → BN →
//! ReLU, or a pool) whose output, past layer 0, is concatenated with the layer's skips and
//! projected back (ReLU → 1×1 conv → BN). Four operators change the architecture and carry a
//! trained network's parameters over so that the new network computes the same function
//! (eval mode):
//!
//! | operator | architecture | parameters |
//! |---|---|---|
//! | [`AddSkip`](MacroMorphism::AddSkip) | a layer also concatenates an earlier one | zero projection weights on the new channels (a new factorized reduction where the skip crosses a pooling point: its output is multiplied by those zeros) |
//! | [`EnlargeKernel`](MacroMorphism::EnlargeKernel) | `conv_3x3` → `conv_5x5`, `sep_conv_3x3` → `sep_conv_5x5` | the old kernel in the centre, zeros around it |
//! | [`SeparableToFull`](MacroMorphism::SeparableToFull) | `sep_conv_k` → `conv_k` | the full kernel `W[o, i] = P[o, i] · D[i]` of the depthwise `D` and pointwise `P` |
//! | [`Deepen`](MacroMorphism::Deepen) | a `conv_3x3` layer skipping to the layer before it | identity through the ReLUs: the branch computes ReLU(−x) (1×1 conv −I, identity 3×3), the projection `[I, −I]` of [ReLU(x), ReLU(−x)] gives x back |
//!
//! Pools cannot become convolutions exactly (average pooling here excludes the padding from
//! the mean; max pooling is not linear), and a layer cannot be inserted where it would move
//! one of the network's pooling points (after layers `L/3 − 1` and `2L/3 − 1`), so `Deepen`
//! applies after the last pooling point, when `L + 1` layers pool at the same places.
//!
//! ```
//! use burn_nas_space::enas_macro::MacroMorphism;
//! use burn_nas_space::{MacroArch, MacroOp};
//!
//! let parent = MacroArch::from_enas_string("0 3 1 5 0 0")?;
//! let child = MacroMorphism::AddSkip { from: 0, to: 2 }.apply(&parent)?;
//! assert_eq!(child.layers[2].skips, vec![0]);
//! let child = MacroMorphism::SeparableToFull { layer: 1 }.apply(&child)?;
//! assert_eq!(child.layers[1].op, MacroOp::Conv5x5);
//! assert_eq!(MacroMorphism::between(&parent, &child)?.len(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use super::{MacroArch, MacroLayer, MacroOp, MacroSpace};
use super::{last_reader, pool_layers};
use crate::morphism::{
    MorphError, MorphResult, bn_params, dims4, embed_centre, he_uniform, identity_bn_gamma,
    identity_conv, not_applicable, param, remap_inputs,
};
use crate::params::{ParamValues, TensorValues};

type Result<T> = MorphResult<T>;

/// One function-preserving change of an ENAS macro architecture. Layer indices refer to the
/// architecture the operator is applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MacroMorphism {
    /// Layer `to` (past layer 0) also concatenates layer `from`'s output.
    AddSkip {
        /// The earlier layer.
        from: usize,
        /// The reading layer.
        to: usize,
    },
    /// Layer `layer`'s 3×3 (full or separable) convolution becomes 5×5.
    EnlargeKernel {
        /// The layer.
        layer: usize,
    },
    /// Layer `layer`'s separable convolution becomes a full one of the same size.
    SeparableToFull {
        /// The layer.
        layer: usize,
    },
    /// A `conv_3x3` layer that skips to layer `after` is inserted after it and passes
    /// `after`'s output on unchanged; the next layer reads the new one, and every skip keeps
    /// pointing at the layer it read.
    Deepen {
        /// The layer whose output the new one passes on.
        after: usize,
    },
}

fn enlarged(op: MacroOp) -> Option<MacroOp> {
    match op {
        MacroOp::Conv3x3 => Some(MacroOp::Conv5x5),
        MacroOp::SepConv3x3 => Some(MacroOp::SepConv5x5),
        _ => None,
    }
}

fn full(op: MacroOp) -> Option<MacroOp> {
    match op {
        MacroOp::SepConv3x3 => Some(MacroOp::Conv3x3),
        MacroOp::SepConv5x5 => Some(MacroOp::Conv5x5),
        _ => None,
    }
}

fn kernel(op: MacroOp) -> usize {
    match op {
        MacroOp::Conv5x5 | MacroOp::SepConv5x5 => 5,
        _ => 3,
    }
}

impl MacroMorphism {
    fn refuse<T>(self, reason: impl Into<String>) -> Result<T> {
        not_applicable(self, reason)
    }

    /// The architecture after this operator.
    ///
    /// # Errors
    /// [`MorphError::NotApplicable`] when the operator does not fit `arch` or would change
    /// the network's function.
    pub fn apply(self, arch: &MacroArch) -> Result<MacroArch> {
        let n = arch.layers.len();
        let mut out = arch.clone();
        let layer_of = |i: usize| {
            arch.layers
                .get(i)
                .ok_or_else(|| format!("the architecture has {n} layers"))
        };
        match self {
            MacroMorphism::AddSkip { from, to } => {
                if from >= to || to >= n {
                    return self.refuse(format!("needs from < to < {n}"));
                }
                if arch.layers[to].skips.contains(&from) {
                    return self.refuse("the layer already reads it");
                }
                let skips = &mut out.layers[to].skips;
                skips.push(from);
                skips.sort_unstable();
            }
            MacroMorphism::EnlargeKernel { layer } => {
                let op = match layer_of(layer) {
                    Ok(l) => l.op,
                    Err(e) => return self.refuse(e),
                };
                let Some(op) = enlarged(op) else {
                    return self.refuse(format!("`{op}` has no larger kernel"));
                };
                out.layers[layer].op = op;
            }
            MacroMorphism::SeparableToFull { layer } => {
                let op = match layer_of(layer) {
                    Ok(l) => l.op,
                    Err(e) => return self.refuse(e),
                };
                let Some(op) = full(op) else {
                    return self.refuse(format!("`{op}` is not a separable convolution"));
                };
                out.layers[layer].op = op;
            }
            MacroMorphism::Deepen { after } => {
                if after >= n {
                    return self.refuse(format!("the architecture has {n} layers"));
                }
                let pools = pool_layers(n);
                if pool_layers(n + 1) != pools {
                    return self.refuse(format!("{} layers pool at other places than {n}", n + 1));
                }
                if pools.last().is_some_and(|&p| after < p) {
                    return self.refuse("a layer before the last pooling point would move it");
                }
                for l in &mut out.layers[after + 1..] {
                    for s in &mut l.skips {
                        if *s > after {
                            *s += 1;
                        }
                    }
                }
                out.layers.insert(
                    after + 1,
                    MacroLayer {
                        op: MacroOp::Conv3x3,
                        skips: vec![after],
                    },
                );
            }
        }
        Ok(out)
    }

    /// Every one-step morphism of `arch` whose ops stay among `space`'s, with at most
    /// `max_depth` layers (a deeper architecture leaves a space of fixed depth: pass
    /// `space.layers()` to stay in it).
    pub fn neighbours(space: &MacroSpace, arch: &MacroArch, max_depth: usize) -> Vec<Self> {
        let n = arch.layers.len();
        let mut out = Vec::new();
        for to in 1..n {
            out.extend((0..to).map(|from| MacroMorphism::AddSkip { from, to }));
        }
        for layer in 0..n {
            out.push(MacroMorphism::EnlargeKernel { layer });
            out.push(MacroMorphism::SeparableToFull { layer });
        }
        if n < max_depth && space.ops().contains(&MacroOp::Conv3x3) {
            out.extend((0..n).map(|after| MacroMorphism::Deepen { after }));
        }
        out.retain(|m| {
            m.apply(arch)
                .is_ok_and(|a| a.layers.iter().all(|l| space.ops().contains(&l.op)))
        });
        out
    }

    /// A sequence of operators that turns `parent` into `child`: skips, separable-to-full and
    /// larger kernels on the parent's layers, then at most one identity layer.
    ///
    /// # Errors
    /// [`MorphError::NotAMorphism`] when none is found.
    pub fn between(parent: &MacroArch, child: &MacroArch) -> Result<Vec<Self>> {
        let (p, c) = (parent.layers.len(), child.layers.len());
        if c == p {
            return per_layer(parent, child);
        }
        if c != p + 1 {
            return Err(MorphError::NotAMorphism(format!(
                "{p} layers became {c}; at most one layer can be inserted"
            )));
        }
        let mut last = MorphError::NotAMorphism("no layer of the child is an identity".into());
        for q in 1..c {
            let new = &child.layers[q];
            if new.op != MacroOp::Conv3x3 || new.skips != [q - 1] {
                continue;
            }
            // The child without layer q; nothing may skip to it.
            let mut aligned = child.clone();
            aligned.layers.remove(q);
            let mut reads_new = false;
            for l in &mut aligned.layers[q..] {
                for s in &mut l.skips {
                    reads_new |= *s == q;
                    if *s > q {
                        *s -= 1;
                    }
                }
            }
            if reads_new {
                continue;
            }
            match per_layer(parent, &aligned) {
                Ok(mut ops) => {
                    let deepen = MacroMorphism::Deepen { after: q - 1 };
                    if deepen.apply(&aligned).as_ref() == Ok(child) {
                        ops.push(deepen);
                        return Ok(ops);
                    }
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The parent's parameters (a trained [`MacroNet`](https://docs.rs/burn-nas-nn/latest/burn_nas_nn/struct.MacroNet.html)'s
    /// [`export_params`](https://docs.rs/burn-nas-nn/latest/burn_nas_nn/fn.export_params.html)) carried over to `child` so that the
    /// child's network computes the same function (eval mode). `seed` draws the weights of
    /// factorized reductions a new skip needs (their output is multiplied by zeros).
    ///
    /// # Errors
    /// [`MorphError::NotAMorphism`] (see [`between`](Self::between)), or
    /// [`MorphError::Params`] when `params` are not the parent's.
    pub fn transfer(
        parent: &MacroArch,
        child: &MacroArch,
        params: &ParamValues,
        seed: u64,
    ) -> Result<ParamValues> {
        let ops = Self::between(parent, child)?;
        let mut out = params.clone();
        let mut arch = parent.clone();
        for op in ops {
            op.carry(&arch, &mut out)?;
            arch = op.apply(&arch)?;
        }
        add_reductions(&arch, &mut out, seed)?;
        Ok(out)
    }

    /// Applies the operator (already checked against `arch`, the architecture `params` are
    /// of) to the parameters.
    fn carry(self, arch: &MacroArch, params: &mut ParamValues) -> Result<()> {
        match self {
            MacroMorphism::AddSkip { from, to } => {
                let c = channels(arch, params, to)?;
                let key = format!("layers.{to}.merge.conv.weight");
                let skips = &arch.layers[to].skips;
                let [co, ci, ..] = dims4(params, &key)?;
                if co != c || ci != (skips.len() + 1) * c {
                    return Err(shape_error(&key, params));
                }
                let at = skips.iter().filter(|&&s| s < from).count() * c;
                let weight = remap_inputs(param(params, &key, None)?, ci + c, |i| match i {
                    i if i < at => Some((i, 1.0)),
                    i if i < at + c => None,
                    i => Some((i - c, 1.0)),
                });
                params.insert(key, weight);
            }
            MacroMorphism::EnlargeKernel { layer } => {
                let key = match arch.layers[layer].op {
                    MacroOp::Conv3x3 => format!("layers.{layer}.branch.conv.Full.weight"),
                    _ => format!("layers.{layer}.branch.conv.Separable.depthwise.weight"),
                };
                let [.., h, w] = dims4(params, &key)?;
                if [h, w] != [3, 3] {
                    return Err(shape_error(&key, params));
                }
                let weight = embed_centre(param(params, &key, None)?, 5, 5);
                params.insert(key, weight);
            }
            MacroMorphism::SeparableToFull { layer } => {
                let prefix = format!("layers.{layer}.branch.conv");
                let (dkey, pkey) = (
                    format!("{prefix}.Separable.depthwise.weight"),
                    format!("{prefix}.Separable.pointwise.weight"),
                );
                let k = kernel(arch.layers[layer].op);
                let [c, one, ..] = dims4(params, &dkey)?;
                if one != 1 || dims4(params, &dkey)? != [c, 1, k, k] {
                    return Err(shape_error(&dkey, params));
                }
                let depthwise = param(params, &dkey, None)?;
                let pointwise = param(params, &pkey, Some(&[c, c, 1, 1]))?;
                let kk = k * k;
                let mut values = vec![0.0; c * c * kk];
                for o in 0..c {
                    for i in 0..c {
                        let p = pointwise.values[o * c + i];
                        let d = &depthwise.values[i * kk..(i + 1) * kk];
                        for (v, &d) in values[(o * c + i) * kk..(o * c + i + 1) * kk]
                            .iter_mut()
                            .zip(d)
                        {
                            *v = p * d;
                        }
                    }
                }
                params.remove(&dkey);
                params.remove(&pkey);
                params.insert(
                    format!("{prefix}.Full.weight"),
                    TensorValues {
                        dims: vec![c, c, k, k],
                        values,
                    },
                );
            }
            MacroMorphism::Deepen { after } => {
                // The new layer's channels: those after `after`'s pooling point, if it has one.
                let mut c = channels(arch, params, after)?;
                if pool_layers(arch.layers.len()).contains(&after) {
                    c *= 2;
                }
                // Layers after `after` move one index up.
                let moved: Vec<(String, TensorValues)> = params
                    .iter()
                    .filter_map(|(k, v)| {
                        let rest = k.strip_prefix("layers.")?;
                        let (i, tail) = rest.split_once('.')?;
                        let i: usize = i.parse().ok()?;
                        (i > after).then(|| (format!("layers.{}.{tail}", i + 1), v.clone()))
                    })
                    .collect();
                params.retain(|k, _| {
                    k.strip_prefix("layers.")
                        .and_then(|r| r.split_once('.'))
                        .and_then(|(i, _)| i.parse::<usize>().ok())
                        .is_none_or(|i| i <= after)
                });
                params.extend(moved);
                let new = format!("layers.{}", after + 1);
                // Branch: ReLU(BN(−x)) = ReLU(−x), then an identity 3×3 conv, BN and ReLU
                // leave it unchanged.
                params.insert(
                    format!("{new}.branch.pre.weight"),
                    identity_conv(c, 1, -1.0),
                );
                params.extend(bn_params(
                    &format!("{new}.branch.pre_bn"),
                    c,
                    identity_bn_gamma(),
                ));
                params.insert(
                    format!("{new}.branch.conv.Full.weight"),
                    identity_conv(c, 3, 1.0),
                );
                params.extend(bn_params(
                    &format!("{new}.branch.bn"),
                    c,
                    identity_bn_gamma(),
                ));
                // Projection of [skip x, branch ReLU(−x)] after ReLU: ReLU(x) − ReLU(−x) = x.
                let identity = identity_conv(c, 1, 1.0);
                let merge = remap_inputs(&identity, 2 * c, |i| {
                    Some(if i < c { (i, 1.0) } else { (i - c, -1.0) })
                });
                params.insert(format!("{new}.merge.conv.weight"), merge);
                params.extend(bn_params(
                    &format!("{new}.merge.bn"),
                    c,
                    identity_bn_gamma(),
                ));
            }
        }
        Ok(())
    }
}

fn shape_error(key: &str, params: &ParamValues) -> MorphError {
    MorphError::Params {
        key: key.to_string(),
        reason: format!(
            "shape {:?} does not fit the architecture",
            params.get(key).map(|t| t.dims.clone()).unwrap_or_default()
        ),
    }
}

/// Channels of layer `layer`'s output (before any pooling after it): the network's width,
/// doubled at each pooling point before the layer.
fn channels(arch: &MacroArch, params: &ParamValues, layer: usize) -> Result<usize> {
    let [c0, ..] = dims4(params, "layers.0.branch.pre.weight")?;
    let doublings = pool_layers(arch.layers.len())
        .iter()
        .filter(|&&p| p < layer)
        .count();
    Ok(c0 << doublings)
}

/// Fresh parameters for the factorized reductions `child`'s network has and `params` lack: an earlier output newly read past a pooling point. Their output only meets zero
/// projection weights, so any values keep the function.
fn add_reductions(child: &MacroArch, params: &mut ParamValues, seed: u64) -> Result<()> {
    let mut rng = StdRng::seed_from_u64(seed);
    let readers = last_reader(child);
    for (p, &pool) in pool_layers(child.layers.len()).iter().enumerate() {
        let c = channels(child, params, pool)?;
        for (j, reader) in readers.iter().enumerate().take(pool + 1) {
            let prefix = format!("reductions.{p}.{j}");
            if reader.is_none_or(|r| r <= pool)
                || params.contains_key(&format!("{prefix}.bn.gamma"))
            {
                continue;
            }
            params.insert(
                format!("{prefix}.path1.weight"),
                he_uniform([c, c, 1, 1], &mut rng),
            );
            params.insert(
                format!("{prefix}.path2.weight"),
                he_uniform([c, c, 1, 1], &mut rng),
            );
            params.extend(bn_params(&format!("{prefix}.bn"), 2 * c, 1.0));
        }
    }
    Ok(())
}

/// Operators between two architectures of the same depth, layer by layer: skips first, then
/// separable-to-full, then larger kernels.
fn per_layer(parent: &MacroArch, child: &MacroArch) -> Result<Vec<MacroMorphism>> {
    let bad = |i: usize, what: &str| {
        Err(MorphError::NotAMorphism(format!(
            "layer {i}: {what} differs in a way no operator makes"
        )))
    };
    let (mut skips, mut full_ops, mut kernels) = (Vec::new(), Vec::new(), Vec::new());
    for (i, (p, c)) in parent.layers.iter().zip(&child.layers).enumerate() {
        if !p.skips.iter().all(|s| c.skips.contains(s)) {
            return bad(i, "the skip set");
        }
        skips.extend(
            c.skips
                .iter()
                .filter(|s| !p.skips.contains(s))
                .map(|&from| MacroMorphism::AddSkip { from, to: i }),
        );
        let mut op = p.op;
        if op != c.op && full(op).is_some() && full(c.op).is_none() {
            full_ops.push(MacroMorphism::SeparableToFull { layer: i });
            op = full(op).unwrap_or(op);
        }
        if op != c.op && enlarged(op) == Some(c.op) {
            kernels.push(MacroMorphism::EnlargeKernel { layer: i });
            op = c.op;
        }
        if op != c.op {
            return bad(i, "the op");
        }
    }
    let ops: Vec<MacroMorphism> = skips.into_iter().chain(full_ops).chain(kernels).collect();
    let mut arch = parent.clone();
    for op in &ops {
        arch = op.apply(&arch)?;
    }
    if &arch != child {
        return Err(MorphError::NotAMorphism(
            "the operators do not give the child".into(),
        ));
    }
    Ok(ops)
}
