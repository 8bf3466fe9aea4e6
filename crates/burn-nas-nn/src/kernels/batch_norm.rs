//! Training-mode batch norm (batch statistics) fused into a few passes on the `flex` backend.
//!
//! burn's default `batch_norm_train` and its backward are composed of generic tensor ops
//! (`swap_dims`, `reshape`, `mean_dim`, `sub`, `mul`, …), each a full pass over the activation
//! with a fresh allocation: at `[64, 20, 32, 32]` forward plus backward take several times
//! what PyTorch takes. Here the forward is one statistics pass and one output pass, the backward
//! one reduction pass and one elementwise pass, parallel over the `(n, c)` planes, registered as
//! a backend extension with its own autodiff backward. On every other backend, and for dtypes
//! other than `f32`, [`batch_norm_batch_stats`] is burn's `batch_norm_train`.

use burn::tensor::Tensor;
use burn::tensor::module::{BatchNormTrainOutput, batch_norm_train};

/// Batch norm of `x` (`[N, C, ...]`) with the statistics of the batch itself: the output
/// `(x − mean) / sqrt(variance + epsilon) · gamma + beta`, and the per-channel batch mean and
/// biased batch variance (over every dimension but the channel one), as burn's
/// `batch_norm_train` returns them.
///
/// On the `flex` backend with `f32` tensors (plain or autodiff) forward and backward are fused
/// kernels; elsewhere this is burn's `batch_norm_train`. As there, the returned mean and
/// variance carry no gradient: gradients flow through the output only (which accounts for the
/// dependence of the statistics on `x`).
///
/// # Panics
/// When `D < 2` or `gamma` or `beta` is not `[C]`, as burn's `batch_norm_train` (programming
/// errors of the caller: the networks build their parameters to match their inputs).
pub fn batch_norm_batch_stats<const D: usize>(
    x: Tensor<D>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
) -> BatchNormTrainOutput<D> {
    #[cfg(feature = "flex")]
    if D >= 2 {
        let dims = x.dims();
        let fits =
            gamma.dims() == [dims[1]] && beta.dims() == [dims[1]] && dims.iter().all(|&d| d > 0);
        if fits && flex::applies(&x, &gamma, &beta) {
            return flex::batch_norm_batch_stats(x, gamma, beta, epsilon);
        }
    }
    batch_norm_train(x, gamma, beta, epsilon)
}

#[cfg(feature = "flex")]
mod flex {
    //! The backend extension and its flex and autodiff implementations.

    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::ops::FloatTensorOps;
    use burn::backend::tensor::FloatTensor;
    use burn::backend::{
        Autodiff, AutodiffBackend, Backend, BackendTypes, Dispatch, DispatchDevice, Flex,
        TensorMetadata, backend_extension,
    };
    use burn::tensor::module::BatchNormTrainOutput;
    use burn::tensor::{DType, Shape, Tensor, TensorData};
    use rayon::prelude::*;

    use super::super::plane::DirectCalls;

    /// Calls of the direct `f32` forward kernel, so tests can tell it ran.
    pub(super) static FORWARD_FAST_CALLS: DirectCalls = DirectCalls::new();

    /// Calls of the direct `f32` backward kernel, so tests can tell it ran.
    pub(super) static BACKWARD_FAST_CALLS: DirectCalls = DirectCalls::new();

    /// Whether the extension runs: all three tensors `f32` on a flex device (plain or autodiff).
    pub(super) fn applies<const D: usize>(
        x: &Tensor<D>,
        gamma: &Tensor<1>,
        beta: &Tensor<1>,
    ) -> bool {
        fn on_flex<const K: usize>(t: &Tensor<K>) -> bool {
            matches!(t.device().inner().as_dispatch(), DispatchDevice::Flex(_))
                && t.dtype() == DType::F32
        }
        on_flex(x) && on_flex(gamma) && on_flex(beta)
    }

    pub(super) fn batch_norm_batch_stats<const D: usize>(
        x: Tensor<D>,
        gamma: Tensor<1>,
        beta: Tensor<1>,
        epsilon: f64,
    ) -> BatchNormTrainOutput<D> {
        let (output, mean, variance) = <Dispatch as BatchNormBackend>::bn_batch_stats(
            x.into_dispatch(),
            gamma.into_dispatch(),
            beta.into_dispatch(),
            epsilon,
        );
        BatchNormTrainOutput {
            output: Tensor::from_dispatch(output),
            mean: Tensor::from_dispatch(mean),
            variance: Tensor::from_dispatch(variance),
        }
    }

    /// Training-mode batch norm and its gradients as backend operations. The default bodies
    /// are burn's `batch_norm_train` and `batch_norm_train_backward` (they serve dtypes
    /// without a direct kernel).
    #[backend_extension(Flex, Autodiff)]
    pub trait BatchNormBackend: Backend {
        /// Output, batch mean and biased batch variance of batch norm over `x` (`[N, C, ...]`).
        fn bn_batch_stats(
            x: FloatTensor<Self>,
            gamma: FloatTensor<Self>,
            beta: FloatTensor<Self>,
            epsilon: f64,
        ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
            burn_forward::<Self>(x, gamma, beta, epsilon)
        }

        /// Gradients of `x`, `gamma` and `beta` of [`bn_batch_stats`](Self::bn_batch_stats),
        /// given the gradient `grad` of its output and the `mean` and `variance` it returned.
        fn bn_batch_stats_backward(
            x: FloatTensor<Self>,
            gamma: FloatTensor<Self>,
            mean: FloatTensor<Self>,
            variance: FloatTensor<Self>,
            epsilon: f64,
            grad: FloatTensor<Self>,
        ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
            burn_backward::<Self>(x, gamma, mean, variance, epsilon, grad)
        }
    }

    /// Output, mean and variance of burn's `batch_norm_train` on any backend.
    fn burn_forward<B: Backend>(
        x: FloatTensor<B>,
        gamma: FloatTensor<B>,
        beta: FloatTensor<B>,
        epsilon: f64,
    ) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
        let r = B::batch_norm_train(x, gamma, beta, epsilon);
        (r.output, r.mean, r.variance)
    }

    /// Gradients of `x`, `gamma` and `beta` from burn's `batch_norm_train_backward`.
    fn burn_backward<B: Backend>(
        x: FloatTensor<B>,
        gamma: FloatTensor<B>,
        mean: FloatTensor<B>,
        variance: FloatTensor<B>,
        epsilon: f64,
        grad: FloatTensor<B>,
    ) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
        let r = B::batch_norm_train_backward(x, gamma, mean, variance, epsilon, grad);
        (r.x_grad, r.gamma_grad, r.beta_grad)
    }

    /// `x` as a contiguous tensor, copying only when it is not (a uniquely held `x` stays
    /// uniquely held, so it can be overwritten in place).
    fn contiguous(x: FloatTensor<Flex>) -> FloatTensor<Flex> {
        if x.is_contiguous() {
            x
        } else {
            x.to_contiguous()
        }
    }

    /// The `f32` elements of a contiguous flex tensor.
    fn f32_slice(t: &FloatTensor<Flex>) -> Option<&[f32]> {
        t.as_slice::<f32>()
    }

    /// The tensor's `f32` elements, mutable, when it alone holds its buffer and is contiguous.
    fn unique_f32(t: &mut FloatTensor<Flex>) -> Option<&mut [f32]> {
        if t.dtype() != DType::F32 {
            return None;
        }
        let (start, end) = t.layout().contiguous_offsets()?;
        t.try_storage_mut::<f32>()?.get_mut(start..end)
    }

    /// `(N, C, S)` of an `[N, C, ...]` shape, `S` the product of the trailing dimensions; `None`
    /// for shapes the kernels leave to burn (rank below 2, or empty).
    fn ncs(shape: &Shape) -> Option<Dims> {
        let dims = shape.as_slice();
        if dims.len() < 2 || dims.contains(&0) {
            return None;
        }
        Some(Dims {
            n: dims[0],
            c: dims[1],
            s: dims[2..].iter().product(),
        })
    }

    /// A `[C]` flex tensor.
    fn vector(v: Vec<f32>, device: &<Flex as BackendTypes>::Device) -> FloatTensor<Flex> {
        let c = v.len();
        Flex::float_from_data(TensorData::new(v, Shape::new([c])), device)
    }

    // Each direct kernel first reduces with read-only borrows, then writes its full-size
    // result. A result element depends only on the input element it replaces, so an input no
    // one else holds (`x` of an untracked forward, the consumed output gradient of the
    // backward) becomes the result in place: no fresh buffer, whose first touch costs page
    // faults (about as much as the pass itself at `[64, 20, 32, 32]`).
    impl BatchNormBackend for Flex {
        fn bn_batch_stats(
            x: FloatTensor<Self>,
            gamma: FloatTensor<Self>,
            beta: FloatTensor<Self>,
            epsilon: f64,
        ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
            let f32s = [&x, &gamma, &beta].iter().all(|t| t.dtype() == DType::F32);
            let dims = ncs(&x.shape()).filter(|_| f32s);
            let Some(d) = dims else {
                return burn_forward::<Self>(x, gamma, beta, epsilon);
            };
            let (mut x, gamma, beta) = (contiguous(x), contiguous(gamma), contiguous(beta));
            let coefs = (|| {
                let (xs, gs, bs) = (f32_slice(&x)?, f32_slice(&gamma)?, f32_slice(&beta)?);
                if gs.len() != d.c || bs.len() != d.c {
                    return None;
                }
                let (mean, variance) = stats_f32(&d, xs);
                let norm = Normalize::new(&mean, &variance, gs, bs, epsilon);
                Some((mean, variance, norm))
            })();
            let Some((mean, variance, norm)) = coefs else {
                return burn_forward::<Self>(x, gamma, beta, epsilon);
            };
            FORWARD_FAST_CALLS.record();
            let device = x.device();
            let output = if let Some(io) = unique_f32(&mut x) {
                norm.in_place(&d, io);
                x
            } else if let Some(xs) = f32_slice(&x) {
                let out = norm.map(&d, xs);
                Flex::float_from_data(TensorData::new(out, x.shape()), &device)
            } else {
                // Unreachable: `x` is contiguous `f32`, as the statistics pass found.
                burn_forward::<Self>(x, gamma, beta, epsilon).0
            };
            (output, vector(mean, &device), vector(variance, &device))
        }

        fn bn_batch_stats_backward(
            x: FloatTensor<Self>,
            gamma: FloatTensor<Self>,
            mean: FloatTensor<Self>,
            variance: FloatTensor<Self>,
            epsilon: f64,
            grad: FloatTensor<Self>,
        ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
            let f32s = [&x, &gamma, &mean, &variance, &grad]
                .iter()
                .all(|t| t.dtype() == DType::F32);
            let dims = ncs(&x.shape()).filter(|_| f32s && grad.shape() == x.shape());
            let Some(d) = dims else {
                return burn_backward::<Self>(x, gamma, mean, variance, epsilon, grad);
            };
            let (x, gamma) = (contiguous(x), contiguous(gamma));
            let (mean, variance, mut grad) =
                (contiguous(mean), contiguous(variance), contiguous(grad));
            let reduced = (|| {
                let (xs, gs) = (f32_slice(&x)?, f32_slice(&gamma)?);
                let (ms, vs, ds) = (f32_slice(&mean)?, f32_slice(&variance)?, f32_slice(&grad)?);
                if gs.len() != d.c || ms.len() != d.c || vs.len() != d.c {
                    return None;
                }
                Some(reduce_f32(&d, xs, gs, ms, vs, ds, epsilon))
            })();
            let (Some(red), Some(xs)) = (reduced, f32_slice(&x)) else {
                return burn_backward::<Self>(x, gamma, mean, variance, epsilon, grad);
            };
            BACKWARD_FAST_CALLS.record();
            let device = x.device();
            let dx = if let Some(io) = unique_f32(&mut grad) {
                red.grad_x_in_place(&d, xs, io);
                grad
            } else if let Some(ds) = f32_slice(&grad) {
                let out = red.grad_x(&d, xs, ds);
                Flex::float_from_data(TensorData::new(out, x.shape()), &device)
            } else {
                // Unreachable: `grad` is contiguous `f32`, as the reduction pass found.
                burn_backward::<Self>(x, gamma, mean, variance, epsilon, grad).0
            };
            (dx, vector(red.dgamma, &device), vector(red.dbeta, &device))
        }
    }

    impl<B: Backend + BatchNormBackend, C: CheckpointStrategy> BatchNormBackend for Autodiff<B, C> {
        /// The mean and variance come back untracked (fresh leaves): burn's
        /// `batch_norm_train` detaches them too, and `Bn` only feeds them to its running
        /// statistics. The output's gradient accounts for their dependence on `x`.
        fn bn_batch_stats(
            x: FloatTensor<Self>,
            gamma: FloatTensor<Self>,
            beta: FloatTensor<Self>,
            epsilon: f64,
        ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
            #[derive(Debug)]
            struct BatchNormBackward;

            impl<B: Backend + BatchNormBackend> Backward<B, 3> for BatchNormBackward {
                /// Input, gamma, batch mean, batch variance and epsilon.
                type State = (
                    FloatTensor<B>,
                    FloatTensor<B>,
                    FloatTensor<B>,
                    FloatTensor<B>,
                    f64,
                );

                fn backward(
                    self,
                    ops: Ops<Self::State, 3>,
                    grads: &mut Gradients,
                    _checkpointer: &mut Checkpointer,
                ) {
                    let [node_x, node_gamma, node_beta] = ops.parents;
                    let grad = grads.consume::<B>(&ops.node);
                    let (x, gamma, mean, variance, epsilon) = ops.state;
                    let (gx, ggamma, gbeta) =
                        B::bn_batch_stats_backward(x, gamma, mean, variance, epsilon, grad);
                    if let Some(node) = node_x {
                        grads.register::<B>(node.id, gx);
                    }
                    if let Some(node) = node_gamma {
                        grads.register::<B>(node.id, ggamma);
                    }
                    if let Some(node) = node_beta {
                        grads.register::<B>(node.id, gbeta);
                    }
                }
            }

            match BatchNormBackward
                .prepare::<C>([x.node(), gamma.node(), beta.node()])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => {
                    let xp = x.primitive().clone();
                    let gp = gamma.primitive().clone();
                    let (out, mean, variance) =
                        B::bn_batch_stats(xp.clone(), gp.clone(), beta.into_primitive(), epsilon);
                    let out = prep.finish((xp, gp, mean.clone(), variance.clone(), epsilon), out);
                    (out, Self::from_inner(mean), Self::from_inner(variance))
                }
                OpsKind::UnTracked(prep) => {
                    let (out, mean, variance) = B::bn_batch_stats(
                        x.into_primitive(),
                        gamma.into_primitive(),
                        beta.into_primitive(),
                        epsilon,
                    );
                    (
                        prep.finish(out),
                        Self::from_inner(mean),
                        Self::from_inner(variance),
                    )
                }
            }
        }
    }

    /// `N`, `C` and `S` of an `[N, C, S]` view of `[N, C, ...]`.
    struct Dims {
        n: usize,
        c: usize,
        s: usize,
    }

    impl Dims {
        /// Planes per rayon task at least, so that tiny planes (`S` of 1 for `[N, C]`) do not
        /// become one task each.
        fn min_planes(&self) -> usize {
            (4096 / self.s).max(1)
        }
    }

    /// Per-channel mean and biased variance of `x` (`[N, C, S]`).
    ///
    /// One pass: each `(n, c)` plane sums `x − k` and `(x − k)²` in `f64`, `k` the channel's
    /// first element, a shift that keeps `E[(x−k)²] − E[x−k]²` free of cancellation when the
    /// mean is large next to the spread.
    fn stats_f32(d: &Dims, x: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let shift: Vec<f64> = (0..d.c).map(|ch| f64::from(x[ch * d.s])).collect();
        let partial: Vec<(f64, f64)> = x
            .par_chunks(d.s)
            .with_min_len(d.min_planes())
            .enumerate()
            .map(|(nc, plane)| shifted_sums(plane, shift[nc % d.c]))
            .collect();
        let m = (d.n * d.s) as f64;
        let mut mean = Vec::with_capacity(d.c);
        let mut variance = Vec::with_capacity(d.c);
        for (ch, &k) in shift.iter().enumerate() {
            let (sum, sq) = per_channel(&partial, d, ch);
            let centre = sum / m;
            mean.push((k + centre) as f32);
            variance.push((sq / m - centre * centre).max(0.0) as f32);
        }
        (mean, variance)
    }

    /// Channel `ch`'s total of the per-plane partial sums (`n`-major, as the planes lie).
    fn per_channel(partial: &[(f64, f64)], d: &Dims, ch: usize) -> (f64, f64) {
        (0..d.n).fold((0.0, 0.0), |(a, b), i| {
            let (pa, pb) = partial[i * d.c + ch];
            (a + pa, b + pb)
        })
    }

    /// `(Σ (x − k), Σ (x − k)²)` in `f64`, four lanes so the loop vectorises.
    fn shifted_sums(x: &[f32], k: f64) -> (f64, f64) {
        let (mut s, mut q) = ([0.0f64; 4], [0.0f64; 4]);
        let chunks = x.chunks_exact(4);
        let rest = chunks.remainder();
        for v in chunks {
            for l in 0..4 {
                let d = f64::from(v[l]) - k;
                s[l] += d;
                q[l] += d * d;
            }
        }
        for &v in rest {
            let d = f64::from(v) - k;
            s[0] += d;
            q[0] += d * d;
        }
        (s.iter().sum(), q.iter().sum())
    }

    /// `1 / sqrt(variance + epsilon)` per channel.
    fn inv_std(variance: &[f32], epsilon: f64) -> Vec<f64> {
        variance
            .iter()
            .map(|&v| 1.0 / (f64::from(v) + epsilon).sqrt())
            .collect()
    }

    /// Per channel `(mean, gamma / sqrt(variance + epsilon), beta)`: the forward output is
    /// `y = (x − mean) · scale + beta`.
    struct Normalize(Vec<(f32, f32, f32)>);

    impl Normalize {
        fn new(mean: &[f32], variance: &[f32], gamma: &[f32], beta: &[f32], epsilon: f64) -> Self {
            let r = inv_std(variance, epsilon);
            Normalize(
                (0..mean.len())
                    .map(|ch| (mean[ch], (r[ch] * f64::from(gamma[ch])) as f32, beta[ch]))
                    .collect(),
            )
        }

        /// The output of `x` in a fresh buffer, one `(n, c)` plane per task.
        fn map(&self, d: &Dims, x: &[f32]) -> Vec<f32> {
            let mut out = vec![0.0f32; x.len()];
            out.par_chunks_mut(d.s)
                .zip(x.par_chunks(d.s))
                .with_min_len(d.min_planes())
                .enumerate()
                .for_each(|(nc, (y, xp))| {
                    let (m, a, b) = self.0[nc % d.c];
                    for (o, &v) in y.iter_mut().zip(xp) {
                        *o = (v - m) * a + b;
                    }
                });
            out
        }

        /// Overwrites `x` with its output, one `(n, c)` plane per task.
        fn in_place(&self, d: &Dims, x: &mut [f32]) {
            x.par_chunks_mut(d.s)
                .with_min_len(d.min_planes())
                .enumerate()
                .for_each(|(nc, y)| {
                    let (m, a, b) = self.0[nc % d.c];
                    for o in y.iter_mut() {
                        *o = (*o - m) * a + b;
                    }
                });
        }
    }

    /// What the elementwise pass of the backward needs, per channel: `(mean, a, mg, p)` with
    /// `dx = a · (g − mg − (x − mean) · p)`; and the parameter gradients.
    struct Reduced {
        coef: Vec<(f32, f32, f32, f32)>,
        dgamma: Vec<f32>,
        dbeta: Vec<f32>,
    }

    /// The reduction pass of the backward. With `x̂ = (x − mean) · r`,
    /// `r = 1 / sqrt(variance + epsilon)` and `M = N · S`: `dβ = Σ g`, `dγ = Σ g · x̂`, and
    /// `dx = γ · r · (g − dβ / M − x̂ · dγ / M)`, so `a = γ · r`, `mg = dβ / M`, `p = r · dγ / M`.
    /// Per-plane `f64` partial sums, combined per channel.
    fn reduce_f32(
        d: &Dims,
        x: &[f32],
        gamma: &[f32],
        mean: &[f32],
        variance: &[f32],
        g: &[f32],
        epsilon: f64,
    ) -> Reduced {
        let partial: Vec<(f64, f64)> = g
            .par_chunks(d.s)
            .zip(x.par_chunks(d.s))
            .with_min_len(d.min_planes())
            .enumerate()
            .map(|(nc, (gp, xp))| grad_sums(gp, xp, mean[nc % d.c]))
            .collect();
        let r = inv_std(variance, epsilon);
        let m = (d.n * d.s) as f64;
        let mut red = Reduced {
            coef: Vec::with_capacity(d.c),
            dgamma: Vec::with_capacity(d.c),
            dbeta: Vec::with_capacity(d.c),
        };
        for ch in 0..d.c {
            let (sg, sgx) = per_channel(&partial, d, ch);
            let dg = sgx * r[ch];
            red.dbeta.push(sg as f32);
            red.dgamma.push(dg as f32);
            red.coef.push((
                mean[ch],
                (f64::from(gamma[ch]) * r[ch]) as f32,
                (sg / m) as f32,
                (r[ch] * dg / m) as f32,
            ));
        }
        red
    }

    impl Reduced {
        /// `dx` of output gradient `g` in a fresh buffer, one `(n, c)` plane per task.
        fn grad_x(&self, d: &Dims, x: &[f32], g: &[f32]) -> Vec<f32> {
            let mut out = vec![0.0f32; x.len()];
            out.par_chunks_mut(d.s)
                .zip(g.par_chunks(d.s).zip(x.par_chunks(d.s)))
                .with_min_len(d.min_planes())
                .enumerate()
                .for_each(|(nc, (o, (gp, xp)))| {
                    let (mu, a, mg, p) = self.coef[nc % d.c];
                    for ((o, &gv), &xv) in o.iter_mut().zip(gp).zip(xp) {
                        *o = a * (gv - mg - (xv - mu) * p);
                    }
                });
            out
        }

        /// Overwrites the output gradient `g` with `dx`, one `(n, c)` plane per task.
        fn grad_x_in_place(&self, d: &Dims, x: &[f32], g: &mut [f32]) {
            g.par_chunks_mut(d.s)
                .zip(x.par_chunks(d.s))
                .with_min_len(d.min_planes())
                .enumerate()
                .for_each(|(nc, (gp, xp))| {
                    let (mu, a, mg, p) = self.coef[nc % d.c];
                    for (o, &xv) in gp.iter_mut().zip(xp) {
                        *o = a * (*o - mg - (xv - mu) * p);
                    }
                });
        }
    }

    /// `(Σ g, Σ g · (x − mean))` in `f64`, four lanes so the loop vectorises.
    fn grad_sums(g: &[f32], x: &[f32], mean: f32) -> (f64, f64) {
        let mu = f64::from(mean);
        let (mut s, mut p) = ([0.0f64; 4], [0.0f64; 4]);
        let (gc, xc) = (g.chunks_exact(4), x.chunks_exact(4));
        let (gr, xr) = (gc.remainder(), xc.remainder());
        for (gv, xv) in gc.zip(xc) {
            for l in 0..4 {
                let gl = f64::from(gv[l]);
                s[l] += gl;
                p[l] += gl * (f64::from(xv[l]) - mu);
            }
        }
        for (&gv, &xv) in gr.iter().zip(xr) {
            let gl = f64::from(gv);
            s[0] += gl;
            p[0] += gl * (f64::from(xv) - mu);
        }
        (s.iter().sum(), p.iter().sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::rel_err;
    use burn::tensor::{Device, Distribution};

    fn normal<const D: usize>(dims: [usize; D], mean: f64, std: f64, device: &Device) -> Tensor<D> {
        Tensor::random(dims, Distribution::Normal(mean, std), device)
    }

    /// Forward (output, mean, variance) and the gradients of `x`, `gamma` and `beta` of
    /// [`batch_norm_batch_stats`] against burn's `batch_norm_train` on flex autodiff.
    fn check<const D: usize>(dims: [usize; D]) {
        let device = Device::flex().autodiff();
        let c = dims[1];
        // An offset mean and a non-unit spread, so the statistics are not trivially 0 and 1.
        let x = normal(dims, 3.0, 2.0, &device);
        let gamma = normal([c], 1.0, 0.5, &device);
        let beta = normal([c], 0.0, 1.0, &device);
        let eps = 1e-5;

        let (x1, g1, b1) = (
            x.clone().require_grad(),
            gamma.clone().require_grad(),
            beta.clone().require_grad(),
        );
        let r1 = batch_norm_batch_stats(x1.clone(), g1.clone(), b1.clone(), eps);
        let (x2, g2, b2) = (x.require_grad(), gamma.require_grad(), beta.require_grad());
        let r2 = batch_norm_train(x2.clone(), g2.clone(), b2.clone(), eps);

        let what = format!("{dims:?}");
        assert!(!r1.mean.is_require_grad() && !r1.variance.is_require_grad());
        let e = rel_err(r1.mean, r2.mean);
        assert!(e < 1e-5, "{what}: mean relative error {e}");
        let e = rel_err(r1.variance, r2.variance);
        assert!(e < 1e-5, "{what}: variance relative error {e}");

        let g = normal(dims, 0.0, 1.0, &device);
        let grads1 = (r1.output.clone() * g.clone()).sum().backward();
        let grads2 = (r2.output.clone() * g).sum().backward();
        let e = rel_err(r1.output, r2.output);
        assert!(e < 1e-5, "{what}: output relative error {e}");

        let (Some(gx1), Some(gx2)) = (x1.grad(&grads1), x2.grad(&grads2)) else {
            panic!("{what}: missing input gradient");
        };
        let e = rel_err(gx1, gx2);
        assert!(e < 1e-5, "{what}: grad x relative error {e}");
        let (Some(gg1), Some(gg2)) = (g1.grad(&grads1), g2.grad(&grads2)) else {
            panic!("{what}: missing gamma gradient");
        };
        let e = rel_err(gg1, gg2);
        assert!(e < 1e-5, "{what}: grad gamma relative error {e}");
        let (Some(gb1), Some(gb2)) = (b1.grad(&grads1), b2.grad(&grads2)) else {
            panic!("{what}: missing beta gradient");
        };
        let e = rel_err(gb1, gb2);
        assert!(e < 1e-5, "{what}: grad beta relative error {e}");
    }

    #[test]
    fn batch_norm_matches_burn_forward_and_backward() {
        check([3, 5, 7, 9]);
        check([2, 4, 8, 8]);
        check([1, 3, 1, 1]);
        check([4, 6, 5, 5]);
        // Other ranks take the same kernels, viewing `x` as `[N, C, S]`.
        check([3, 4, 10]);
        check([8, 5]);
    }

    #[test]
    fn batch_norm_shared_output_gradient_is_left_intact() {
        // `z = y + h` hands the same gradient buffer to `y` and `h`: the backward must not turn
        // it into dx in place.
        let device = Device::flex().autodiff();
        let dims = [3, 4, 5, 6];
        let x = normal(dims, 1.0, 2.0, &device).require_grad();
        let h = Tensor::<4>::zeros(dims, &device).require_grad();
        let gamma = normal([4], 1.0, 0.5, &device).require_grad();
        let beta = normal([4], 0.0, 1.0, &device).require_grad();
        let g = normal(dims, 0.0, 1.0, &device);
        let r1 = batch_norm_batch_stats(x.clone(), gamma.clone(), beta.clone(), 1e-5);
        let grads1 = ((r1.output + h.clone()) * g.clone()).sum().backward();
        let r2 = batch_norm_train(x.clone(), gamma, beta, 1e-5);
        let grads2 = ((r2.output + h.clone()) * g.clone()).sum().backward();
        let (Some(gh), Some(gx1), Some(gx2)) = (h.grad(&grads1), x.grad(&grads1), x.grad(&grads2))
        else {
            panic!("missing gradient");
        };
        let e = rel_err(gh, g.inner());
        assert!(e < 1e-6, "grad h relative error {e}");
        let e = rel_err(gx1, gx2);
        assert!(e < 1e-5, "grad x relative error {e}");
    }

    #[test]
    fn batch_norm_plain_device_matches_burn() {
        let device = Device::flex();
        for dims in [[2, 6, 7, 10], [5, 3, 4, 4]] {
            let c = dims[1];
            let x = normal(dims, -1.0, 3.0, &device);
            let gamma = normal([c], 1.0, 0.5, &device);
            let beta = normal([c], 0.0, 1.0, &device);
            let before = x.to_data();
            // `x` is still held here, so its buffer must be left as it is.
            let shared = batch_norm_batch_stats(x.clone(), gamma.clone(), beta.clone(), 1e-3);
            assert_eq!(x.to_data(), before, "{dims:?}: input overwritten");
            // A fresh buffer only the call holds, which it may normalise in place.
            let owned = x.clone().mul_scalar(1.0);
            let owned = batch_norm_batch_stats(owned, gamma.clone(), beta.clone(), 1e-3);
            let r2 = batch_norm_train(x, gamma, beta, 1e-3);
            for (what, r1) in [("shared", shared), ("owned", owned)] {
                let e = rel_err(r1.output, r2.output.clone());
                assert!(e < 1e-5, "{dims:?} {what}: output relative error {e}");
                let e = rel_err(r1.mean, r2.mean.clone());
                assert!(e < 1e-5, "{dims:?} {what}: mean relative error {e}");
                let e = rel_err(r1.variance, r2.variance.clone());
                assert!(e < 1e-5, "{dims:?} {what}: variance relative error {e}");
            }
        }
    }

    #[cfg(feature = "flex")]
    #[test]
    fn batch_norm_flex_f32_tensors_run_the_direct_kernels() {
        let device = Device::flex().autodiff();
        let (fwd, bwd) = (
            flex::FORWARD_FAST_CALLS.count(),
            flex::BACKWARD_FAST_CALLS.count(),
        );
        let x = normal([2, 3, 4, 4], 0.0, 1.0, &device).require_grad();
        let gamma = Tensor::<1>::ones([3], &device).require_grad();
        let beta = Tensor::<1>::zeros([3], &device).require_grad();
        let r = batch_norm_batch_stats(x.clone(), gamma, beta, 1e-5);
        let _grads = r.output.sum().backward();
        assert!(flex::FORWARD_FAST_CALLS.count() > fwd);
        assert!(flex::BACKWARD_FAST_CALLS.count() > bwd);

        let fwd = flex::FORWARD_FAST_CALLS.count();
        let plain = Device::flex();
        let x = normal([2, 3, 4, 4], 0.0, 1.0, &plain);
        let _ = batch_norm_batch_stats(
            x,
            Tensor::ones([3], &plain),
            Tensor::zeros([3], &plain),
            1e-5,
        );
        assert!(flex::FORWARD_FAST_CALLS.count() > fwd);
    }

    #[test]
    fn batch_norm_large_mean_keeps_variance_accurate() {
        // A mean 1000× the spread: a one-pass E[x²] − E[x]² in f32 would lose the variance.
        let device = Device::flex();
        let x = normal([4, 2, 16, 16], 1000.0, 1.0, &device);
        let (gamma, beta) = (Tensor::ones([2], &device), Tensor::zeros([2], &device));
        let r1 = batch_norm_batch_stats(x.clone(), gamma.clone(), beta.clone(), 1e-5);
        let r2 = batch_norm_train(x, gamma, beta, 1e-5);
        let e = rel_err(r1.variance, r2.variance);
        assert!(e < 1e-3, "variance relative error {e}");
    }
}
