//! Function-preserving network morphisms of NAS-RL networks (Wei et al. 2016; Chen et al.
//! 2016, Net2Net; Elsken et al. 2018, NASH).
//!
//! A morphism changes an architecture *and* carries a trained network's parameters over so
//! that the new network computes exactly the same function (batch norm in eval mode) before
//! any training: a child starts where its parent ended instead of from scratch.
//!
//! | operator | architecture | parameters |
//! |---|---|---|
//! | [`Widen`](NasRlMorphism::Widen) | more filters in a layer | Net2Wider: new filters copy random old ones; every consumer splits a filter's outgoing weights among its copies (random shares summing to 1, so copies train apart) |
//! | [`EnlargeKernel`](NasRlMorphism::EnlargeKernel) | a larger filter | the old kernel in the centre, zeros around it |
//! | [`AddSkip`](NasRlMorphism::AddSkip) | a layer also reads an earlier one | zero weights on the new input channels |
//! | [`Deepen`](NasRlMorphism::Deepen) | an identity layer after a layer; its readers read the new layer | Net2Deeper: identity convolution, batch norm that passes its (non-negative) input through |
//!
//! Each operator checks the conditions under which it preserves the function (e.g. a skip
//! may not change its reader's padded input size or take a layer away from the classifier)
//! and refuses otherwise. [`NasRlMorphism::transfer`] finds, for a parent and a child, a
//! sequence of operators from one to the other and applies it to the parent's parameters;
//! weight inheritance uses it for NAS-RL children (`NasRlChild`'s parameter transfer).
//!
//! ```
//! use burn_nas_space::nas_rl::NasRlMorphism;
//! use burn_nas_space::{NasRlArch, NasRlLayer};
//!
//! let parent = NasRlArch {
//!     layers: vec![NasRlLayer::square(3, 16, 1, vec![]), NasRlLayer::square(3, 16, 1, vec![0])],
//! };
//! let child = NasRlMorphism::Deepen { after: 0, kernel: 3 }.apply(&parent, 28)?;
//! assert_eq!(child.layers.len(), 3);
//! assert_eq!(child.layers[2].inputs, vec![1]); // the old second layer reads the new one
//! # Ok::<(), burn_nas_space::nas_rl::MorphError>(())
//! ```

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::{NasRlArch, NasRlLayer, NasRlSpace};
pub use crate::morphism::MorphError;
use crate::morphism::{
    MorphResult, embed_centre, identity_bn_gamma, identity_conv, not_applicable, param,
    remap_inputs,
};
use crate::params::{ParamValues, TensorValues};

type Result<T> = MorphResult<T>;

/// One function-preserving change of a NAS-RL architecture. Layer indices refer to the
/// architecture the operator is applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NasRlMorphism {
    /// Layer `layer` gets `filters` filters (more than it has).
    Widen {
        /// The layer.
        layer: usize,
        /// Its new filter count (before a network's `filter_scale`).
        filters: usize,
    },
    /// Layer `layer`'s filter grows to `height` × `width` (each at least the old size, larger
    /// by an even amount so the old kernel sits in the centre).
    EnlargeKernel {
        /// The layer.
        layer: usize,
        /// New filter height.
        height: usize,
        /// New filter width.
        width: usize,
    },
    /// Layer `to` also reads layer `from` (an earlier layer that some layer already reads, no
    /// larger than `to`'s padded input).
    AddSkip {
        /// The layer read.
        from: usize,
        /// The reading layer.
        to: usize,
    },
    /// An identity layer (`kernel` × `kernel`, odd; stride 1; as many filters as layer
    /// `after`) is inserted after layer `after`; the layers that read `after` read it instead.
    Deepen {
        /// The layer the new one reads.
        after: usize,
        /// The new layer's (odd) filter size.
        kernel: usize,
    },
}

/// burn's "same" padding: (before, after) for one axis.
fn same_padding(kernel: usize, stride: usize, size: usize) -> (usize, usize) {
    let out = size.div_ceil(stride);
    let total = if out > 0 {
        ((out - 1) * stride + kernel).saturating_sub(size)
    } else {
        0
    };
    (total / 2, total - total / 2)
}

/// `[height, width]` of each layer's padded input and of its output for `image`-sized input.
fn sizes(arch: &NasRlArch, image: usize) -> Vec<([usize; 2], [usize; 2])> {
    let mut out: Vec<([usize; 2], [usize; 2])> = Vec::with_capacity(arch.layers.len());
    for l in &arch.layers {
        let input = if l.inputs.is_empty() {
            [image; 2]
        } else {
            let largest = |axis: usize| l.inputs.iter().map(|&j| out[j].1[axis]).max();
            [largest(0).unwrap_or(image), largest(1).unwrap_or(image)]
        };
        let [sh, sw] = l.strides();
        out.push((input, [input[0].div_ceil(sh), input[1].div_ceil(sw)]));
    }
    out
}

fn read_by_some_layer(arch: &NasRlArch, layer: usize) -> bool {
    arch.layers.iter().any(|l| l.inputs.contains(&layer))
}

impl NasRlMorphism {
    fn refuse<T>(self, reason: impl Into<String>) -> Result<T> {
        not_applicable(self, reason)
    }

    /// The architecture after this operator, for networks on `image` × `image` inputs.
    ///
    /// # Errors
    /// [`MorphError::NotApplicable`] when the operator does not fit `arch` or would change
    /// the network's function.
    pub fn apply(self, arch: &NasRlArch, image: usize) -> Result<NasRlArch> {
        let n = arch.layers.len();
        let mut out = arch.clone();
        match self {
            NasRlMorphism::Widen { layer, filters } => {
                let Some(l) = out.layers.get_mut(layer) else {
                    return self.refuse(format!("the architecture has {n} layers"));
                };
                if filters <= l.filters {
                    return self.refuse(format!("the layer already has {} filters", l.filters));
                }
                l.filters = filters;
            }
            NasRlMorphism::EnlargeKernel {
                layer,
                height,
                width,
            } => {
                let Some(l) = arch.layers.get(layer) else {
                    return self.refuse(format!("the architecture has {n} layers"));
                };
                let (dh, dw) = (
                    height.checked_sub(l.filter_height),
                    width.checked_sub(l.filter_width),
                );
                let (Some(dh), Some(dw)) = (dh, dw) else {
                    return self.refuse("a filter can only grow");
                };
                if dh + dw == 0 || dh % 2 == 1 || dw % 2 == 1 {
                    return self.refuse("each side must grow by an even amount, one at least");
                }
                let input = sizes(arch, image)[layer].0;
                let [sh, sw] = l.strides();
                for (axis, old, new, d, s) in [
                    (0, l.filter_height, height, dh, sh),
                    (1, l.filter_width, width, dw, sw),
                ] {
                    let (b0, a0) = same_padding(old, s, input[axis]);
                    let (b1, a1) = same_padding(new, s, input[axis]);
                    if b1 != b0 + d / 2 || a1 != a0 + d / 2 {
                        return self.refuse(
                            "'same' padding would shift the filter's centre at this stride and size",
                        );
                    }
                }
                out.layers[layer].filter_height = height;
                out.layers[layer].filter_width = width;
            }
            NasRlMorphism::AddSkip { from, to } => {
                if from >= to || to >= n {
                    return self.refuse(format!("needs from < to < {n}"));
                }
                let reader = &arch.layers[to];
                if reader.inputs.is_empty() {
                    return self.refuse("the layer reads the image");
                }
                if reader.inputs.contains(&from) {
                    return self.refuse("the layer already reads it");
                }
                if !read_by_some_layer(arch, from) {
                    return self.refuse("the layer feeds the classifier; reading it would not");
                }
                let s = sizes(arch, image);
                if s[from].1[0] > s[to].0[0] || s[from].1[1] > s[to].0[1] {
                    return self.refuse("it is larger than the reader's input");
                }
                let inputs = &mut out.layers[to].inputs;
                inputs.push(from);
                inputs.sort_unstable();
            }
            NasRlMorphism::Deepen { after, kernel } => {
                if after >= n {
                    return self.refuse(format!("the architecture has {n} layers"));
                }
                if kernel % 2 == 0 {
                    return self.refuse("the identity filter needs an odd size");
                }
                let shift = |j: usize| if j >= after { j + 1 } else { j };
                for l in &mut out.layers {
                    for j in &mut l.inputs {
                        *j = shift(*j);
                    }
                }
                out.layers.insert(
                    after + 1,
                    NasRlLayer {
                        filter_height: kernel,
                        filter_width: kernel,
                        filters: arch.layers[after].filters,
                        stride: 1,
                        stride_width: None,
                        inputs: vec![after],
                    },
                );
            }
        }
        Ok(out)
    }

    /// Every one-step morphism of `arch` whose result stays in `space`'s options (filter
    /// counts, filter sizes, a stride of 1 for new layers) with at most `max_depth` layers,
    /// for networks on `image` × `image` inputs. New layers get a 3 × 3 filter when the space
    /// offers it, else its smallest odd size.
    pub fn neighbours(
        space: &NasRlSpace,
        arch: &NasRlArch,
        image: usize,
        max_depth: usize,
    ) -> Vec<NasRlMorphism> {
        let mut out = Vec::new();
        let n = arch.layers.len();
        for i in 0..n {
            for &filters in space.filter_counts() {
                out.push(NasRlMorphism::Widen { layer: i, filters });
            }
            for &height in space.filter_heights() {
                for &width in space.filter_widths() {
                    out.push(NasRlMorphism::EnlargeKernel {
                        layer: i,
                        height,
                        width,
                    });
                }
            }
            out.extend((0..i).map(|from| NasRlMorphism::AddSkip { from, to: i }));
        }
        let stride_one = space.strides().is_none_or(|s| s.contains(&1));
        let odd =
            |o: &[usize]| -> Vec<usize> { o.iter().copied().filter(|k| k % 2 == 1).collect() };
        let (hs, ws) = (odd(space.filter_heights()), odd(space.filter_widths()));
        let kernel = if hs.contains(&3) && ws.contains(&3) {
            Some(3)
        } else {
            hs.iter().copied().filter(|k| ws.contains(k)).min()
        };
        if let (true, Some(kernel), true) = (stride_one, kernel, n < max_depth) {
            out.extend((0..n).map(|after| NasRlMorphism::Deepen { after, kernel }));
        }
        out.retain(|m| m.apply(arch, image).is_ok());
        out
    }

    /// A sequence of operators that turns `parent` into `child` (for `image` × `image`
    /// inputs): skips, widenings and larger filters on the parent's layers, then at most one
    /// identity layer. Any sequence found preserves the function, since each step checks its
    /// own conditions.
    ///
    /// # Errors
    /// [`MorphError::NotAMorphism`] when none is found.
    pub fn between(parent: &NasRlArch, child: &NasRlArch, image: usize) -> Result<Vec<Self>> {
        let (p, c) = (parent.layers.len(), child.layers.len());
        if c == p {
            return per_layer(parent, child, image);
        }
        if c != p + 1 {
            return Err(MorphError::NotAMorphism(format!(
                "{p} layers became {c}; at most one layer can be inserted"
            )));
        }
        let mut last = MorphError::NotAMorphism("no layer of the child is an identity".into());
        for q in 1..c {
            let new = &child.layers[q];
            let before = &child.layers[q - 1];
            let identity = new.inputs == [q - 1]
                && new.strides() == [1, 1]
                && new.filter_height == new.filter_width
                && new.filter_height % 2 == 1
                && new.filters == before.filters
                && child
                    .layers
                    .iter()
                    .enumerate()
                    .all(|(k, l)| k == q || !l.inputs.contains(&(q - 1)));
            if !identity {
                continue;
            }
            // The child without layer q, its readers reading q - 1 again.
            let mut aligned = child.clone();
            aligned.layers.remove(q);
            for l in &mut aligned.layers {
                for j in &mut l.inputs {
                    if *j >= q {
                        *j -= 1;
                    }
                }
            }
            match per_layer(parent, &aligned, image) {
                Ok(mut ops) => {
                    let deepen = NasRlMorphism::Deepen {
                        after: q - 1,
                        kernel: new.filter_height,
                    };
                    if deepen.apply(&aligned, image).as_ref() == Ok(child) {
                        ops.push(deepen);
                        return Ok(ops);
                    }
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The parent's parameters (a trained [`NasRlNet`](https://docs.rs/burn-nas-nn/latest/burn_nas_nn/struct.NasRlNet.html)'s
    /// [`export_params`](https://docs.rs/burn-nas-nn/latest/burn_nas_nn/fn.export_params.html)) carried over to `child` so that the
    /// child's network computes the same function (eval mode). `filter_scale` is the
    /// networks' [`NasRlNetConfig::filter_scale`](https://docs.rs/burn-nas-nn/latest/burn_nas_nn/struct.NasRlNetConfig.html#structfield.filter_scale);
    /// `seed` draws which filters a widening copies and how their weights are shared.
    ///
    /// # Errors
    /// [`MorphError::NotAMorphism`] (see [`between`](Self::between)), or
    /// [`MorphError::Params`] when `params` are not the parent's.
    pub fn transfer(
        parent: &NasRlArch,
        child: &NasRlArch,
        params: &ParamValues,
        image: usize,
        filter_scale: f64,
        seed: u64,
    ) -> Result<ParamValues> {
        let ops = Self::between(parent, child, image)?;
        let mut net = NetParams::read(parent, params)?;
        let mut arch = parent.clone();
        let mut rng = StdRng::seed_from_u64(seed);
        for op in ops {
            net.apply(op, &arch, filter_scale, &mut rng);
            arch = op.apply(&arch, image)?;
        }
        Ok(net.write(params))
    }
}

/// Operators between two architectures of the same depth, layer by layer: skips first (their
/// conditions refer to the parent's readers), then widenings, then larger filters.
fn per_layer(parent: &NasRlArch, child: &NasRlArch, image: usize) -> Result<Vec<NasRlMorphism>> {
    let bad = |i: usize, what: &str| {
        Err(MorphError::NotAMorphism(format!(
            "layer {i}: {what} differs in a way no operator makes"
        )))
    };
    let mut skips = Vec::new();
    let mut widen = Vec::new();
    let mut kernels = Vec::new();
    for (i, (p, c)) in parent.layers.iter().zip(&child.layers).enumerate() {
        if p.strides() != c.strides() {
            return bad(i, "the stride");
        }
        if c.filters < p.filters {
            return bad(i, "the filter count");
        }
        if c.filters > p.filters {
            widen.push(NasRlMorphism::Widen {
                layer: i,
                filters: c.filters,
            });
        }
        if (c.filter_height, c.filter_width) != (p.filter_height, p.filter_width) {
            kernels.push(NasRlMorphism::EnlargeKernel {
                layer: i,
                height: c.filter_height,
                width: c.filter_width,
            });
        }
        if !p.inputs.iter().all(|j| c.inputs.contains(j)) {
            return bad(i, "the inputs");
        }
        skips.extend(
            c.inputs
                .iter()
                .filter(|j| !p.inputs.contains(j))
                .map(|&from| NasRlMorphism::AddSkip { from, to: i }),
        );
    }
    let ops: Vec<NasRlMorphism> = skips.into_iter().chain(widen).chain(kernels).collect();
    let mut arch = parent.clone();
    for op in &ops {
        arch = op.apply(&arch, image)?;
    }
    if &arch != child {
        return Err(MorphError::NotAMorphism(
            "the operators do not give the child".into(),
        ));
    }
    Ok(ops)
}

/// One conv + BN layer's parameters as plain arrays.
#[derive(Debug, Clone)]
struct LayerParams {
    /// `[out, in, height, width]`.
    dims: [usize; 4],
    weight: Vec<f32>,
    gamma: Vec<f32>,
    beta: Vec<f32>,
    mean: Vec<f32>,
    var: Vec<f32>,
}

impl LayerParams {
    fn weight(&self) -> TensorValues {
        TensorValues {
            dims: self.dims.to_vec(),
            values: self.weight.clone(),
        }
    }

    /// The weight with input channels rebuilt: new input `i` takes old input `source(i)`
    /// times `factor(i)` (`None`: zeros).
    fn remap_inputs(&mut self, new_in: usize, source: impl Fn(usize) -> Option<(usize, f32)>) {
        self.weight = remap_inputs(&self.weight(), new_in, source).values;
        self.dims[1] = new_in;
    }
}

/// A NAS-RL network's parameters, layer by layer, plus the classifier (`[in, classes]` weight).
#[derive(Debug, Clone)]
struct NetParams {
    layers: Vec<LayerParams>,
    head_weight: Vec<f32>,
    head_dims: [usize; 2],
}

impl NetParams {
    fn read(arch: &NasRlArch, params: &ParamValues) -> Result<Self> {
        let mut layers: Vec<LayerParams> = Vec::with_capacity(arch.layers.len());
        for (i, l) in arch.layers.iter().enumerate() {
            let w = param(params, &format!("layers.{i}.conv.weight"), None)?;
            let [co, ci, h, wd]: [usize; 4] =
                w.dims.clone().try_into().map_err(|_| MorphError::Params {
                    key: format!("layers.{i}.conv.weight"),
                    reason: "not a 4-d tensor".into(),
                })?;
            let expected_in: Option<usize> = if l.inputs.is_empty() {
                None
            } else {
                Some(l.inputs.iter().map(|&j| layers[j].dims[0]).sum())
            };
            if [h, wd] != [l.filter_height, l.filter_width] || expected_in.is_some_and(|e| e != ci)
            {
                return Err(MorphError::Params {
                    key: format!("layers.{i}.conv.weight"),
                    reason: format!("shape {:?} does not fit layer {i}", w.dims),
                });
            }
            let vector = |name: &str| -> Result<Vec<f32>> {
                Ok(
                    param(params, &format!("layers.{i}.bn.{name}"), Some(&[co]))?
                        .values
                        .clone(),
                )
            };
            layers.push(LayerParams {
                dims: [co, ci, h, wd],
                weight: w.values.clone(),
                gamma: vector("gamma")?,
                beta: vector("beta")?,
                mean: vector("running_mean")?,
                var: vector("running_var")?,
            });
        }
        let features: usize = arch.outputs().iter().map(|&i| layers[i].dims[0]).sum();
        let head = param(params, "head.linear.weight", None)?;
        match head.dims.as_slice() {
            &[f, classes] if f == features => Ok(NetParams {
                layers,
                head_weight: head.values.clone(),
                head_dims: [f, classes],
            }),
            _ => Err(MorphError::Params {
                key: "head.linear.weight".into(),
                reason: format!("shape {:?}, expected [{features}, classes]", head.dims),
            }),
        }
    }

    /// Channel offset of `layer` in the concatenated input `inputs`.
    fn offset(&self, inputs: &[usize], layer: usize) -> usize {
        inputs
            .iter()
            .take_while(|&&j| j != layer)
            .map(|&j| self.layers[j].dims[0])
            .sum()
    }

    /// Applies `op` (already checked against `arch`, the architecture these parameters are
    /// of) to the parameters.
    fn apply(&mut self, op: NasRlMorphism, arch: &NasRlArch, scale: f64, rng: &mut StdRng) {
        match op {
            NasRlMorphism::AddSkip { from, to } => {
                // Offset of `from` once inserted: the channels of the (sorted) inputs before it.
                let at: usize = arch.layers[to]
                    .inputs
                    .iter()
                    .filter(|&&j| j < from)
                    .map(|&j| self.layers[j].dims[0])
                    .sum();
                let added = self.layers[from].dims[0];
                let layer = &mut self.layers[to];
                let new_in = layer.dims[1] + added;
                layer.remap_inputs(new_in, |i| match i {
                    i if i < at => Some((i, 1.0)),
                    i if i < at + added => None,
                    i => Some((i - added, 1.0)),
                });
            }
            NasRlMorphism::Widen { layer, filters } => {
                let old = self.layers[layer].dims[0];
                let new = ((filters as f64 * scale).round() as usize).max(old);
                // New filter r copies old filter source[r]; every copy of a filter gets a
                // random share of its outgoing weights, the shares summing to 1.
                let source: Vec<usize> = (0..new)
                    .map(|r| if r < old { r } else { rng.random_range(0..old) })
                    .collect();
                let raw: Vec<f32> = (0..new).map(|_| rng.random_range(0.5..1.5)).collect();
                let mut totals = vec![0.0f32; old];
                for (r, &s) in source.iter().enumerate() {
                    totals[s] += raw[r];
                }
                let share: Vec<f32> = (0..new).map(|r| raw[r] / totals[source[r]]).collect();
                let l = &mut self.layers[layer];
                let per_filter = l.dims[1] * l.dims[2] * l.dims[3];
                let pick = |v: &[f32], len: usize| -> Vec<f32> {
                    source
                        .iter()
                        .flat_map(|&s| v[s * len..(s + 1) * len].iter().copied())
                        .collect()
                };
                l.weight = pick(&l.weight, per_filter);
                l.gamma = pick(&l.gamma, 1);
                l.beta = pick(&l.beta, 1);
                l.mean = pick(&l.mean, 1);
                l.var = pick(&l.var, 1);
                l.dims[0] = new;
                let grown = new - old;
                let split = |i: usize, at: usize| -> Option<(usize, f32)> {
                    Some(match i {
                        i if i < at => (i, 1.0),
                        i if i < at + new => {
                            let r = i - at;
                            (at + source[r], share[r])
                        }
                        i => (i - grown, 1.0),
                    })
                };
                for k in 0..arch.layers.len() {
                    if arch.layers[k].inputs.contains(&layer) {
                        let at = self.offset(&arch.layers[k].inputs, layer);
                        let reader = &mut self.layers[k];
                        let new_in = reader.dims[1] + grown;
                        reader.remap_inputs(new_in, |i| split(i, at));
                    }
                }
                let outputs = arch.outputs();
                if outputs.contains(&layer) {
                    let at = self.offset(&outputs, layer);
                    let [f, classes] = self.head_dims;
                    let mut weight = Vec::with_capacity((f + grown) * classes);
                    for i in 0..f + grown {
                        let (row, factor) = split(i, at).unwrap_or((i, 1.0));
                        weight.extend(
                            self.head_weight[row * classes..(row + 1) * classes]
                                .iter()
                                .map(|w| w * factor),
                        );
                    }
                    self.head_weight = weight;
                    self.head_dims = [f + grown, classes];
                }
            }
            NasRlMorphism::EnlargeKernel {
                layer,
                height,
                width,
            } => {
                let l = &mut self.layers[layer];
                l.weight = embed_centre(&l.weight(), height, width).values;
                l.dims = [l.dims[0], l.dims[1], height, width];
            }
            NasRlMorphism::Deepen { after, kernel } => {
                let c = self.layers[after].dims[0];
                let weight = identity_conv(c, kernel, 1.0).values;
                // Eval-mode batch norm (x − 0) / √(1 + ε) · √(1 + ε) + 0 = x, and the ReLU
                // after it passes the (already rectified) input unchanged.
                self.layers.insert(
                    after + 1,
                    LayerParams {
                        dims: [c, c, kernel, kernel],
                        weight,
                        gamma: vec![identity_bn_gamma(); c],
                        beta: vec![0.0; c],
                        mean: vec![0.0; c],
                        var: vec![1.0; c],
                    },
                );
            }
        }
    }

    /// The parameters as a [`ParamValues`]: `original`'s entries that are not layer or
    /// classifier weights (the classifier's bias) are kept.
    fn write(self, original: &ParamValues) -> ParamValues {
        let mut out: ParamValues = original
            .iter()
            .filter(|(k, _)| !k.starts_with("layers.") && k.as_str() != "head.linear.weight")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let vector = |v: Vec<f32>| TensorValues {
            dims: vec![v.len()],
            values: v,
        };
        for (i, l) in self.layers.into_iter().enumerate() {
            out.insert(
                format!("layers.{i}.conv.weight"),
                TensorValues {
                    dims: l.dims.to_vec(),
                    values: l.weight,
                },
            );
            out.insert(format!("layers.{i}.bn.gamma"), vector(l.gamma));
            out.insert(format!("layers.{i}.bn.beta"), vector(l.beta));
            out.insert(format!("layers.{i}.bn.running_mean"), vector(l.mean));
            out.insert(format!("layers.{i}.bn.running_var"), vector(l.var));
        }
        out.insert(
            "head.linear.weight".into(),
            TensorValues {
                dims: self.head_dims.to_vec(),
                values: self.head_weight,
            },
        );
        out
    }
}
