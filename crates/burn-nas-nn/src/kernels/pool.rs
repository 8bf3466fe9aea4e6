//! Average and max pooling with direct forward and backward kernels on the `flex` backend.
//!
//! burn-flex 0.22 pools through a generic 3-D window walk, and its average-pool backward
//! scatters one output at a time; at the ENAS cell's shape (64×20×32×32, 3×3, stride 1) the
//! two pools cost 79 ms (average) and 57 ms (max) forward plus backward, against PyTorch's 31
//! and 37 ms. Here both directions are row-wise passes over each `(image, channel)` plane,
//! parallel over planes: the forward adds (or takes the maximum of) shifted input rows into an
//! output row, the average backward adds shifted gradient rows back, and the max backward
//! sends each output's gradient to the first largest pixel of its window (row-major, as
//! PyTorch and burn break ties). On every other backend, and for dtypes other than `f32`,
//! [`pool2d`] is burn's `avg_pool2d` / `max_pool2d`.

use burn::tensor::Tensor;
use burn::tensor::module::{avg_pool2d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, MaxPoolOptions};

/// The reduction a pooling window applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    /// The mean of the window's pixels inside the image (padding is not counted).
    Avg,
    /// The largest of the window's pixels inside the image (padding never wins).
    Max,
}

/// A square pooling window: side, stride and the padding added on every side (dilation 1,
/// output size rounded down).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolGeometry {
    /// Window side, at least 1.
    pub kernel: usize,
    /// Stride, at least 1.
    pub stride: usize,
    /// Padding on each side, at most `kernel / 2`.
    pub padding: usize,
}

/// Pools `x` (`[N, C, H, W]`) with `kind` over `geometry`'s windows; the result is
/// `[N, C, (H + 2·padding − kernel) / stride + 1, …]`.
///
/// On the `flex` backend with `f32` tensors (plain or autodiff) forward and backward are
/// direct kernels; elsewhere this is burn's `avg_pool2d` (padding not counted) or `max_pool2d`.
///
/// # Panics
/// When the window does not fit the padded input, or the stride or side is 0, as burn's
/// pooling ops (programming errors of the caller: the networks pool with a fixed 3×3 window).
pub fn pool2d(x: Tensor<4>, kind: PoolKind, geometry: PoolGeometry) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    let PoolGeometry {
        kernel: k,
        stride: s,
        padding: p,
    } = geometry;
    let fits = k > 0 && s > 0 && 2 * p <= k && h + 2 * p >= k && w + 2 * p >= k;
    #[cfg(feature = "flex")]
    if fits && flex::applies(&x) {
        return flex::pool2d(x, kind, geometry);
    }
    let _ = fits;
    burn_pool2d(x, kind, geometry)
}

/// burn's own pooling op: the fallback of [`pool2d`], and the reference its tests compare with.
fn burn_pool2d(x: Tensor<4>, kind: PoolKind, geometry: PoolGeometry) -> Tensor<4> {
    let PoolGeometry {
        kernel: k,
        stride: s,
        padding: p,
    } = geometry;
    match kind {
        PoolKind::Max => max_pool2d(
            x,
            MaxPoolOptions::new([k, k])
                .with_stride([s, s])
                .with_padding([p, p]),
        ),
        PoolKind::Avg => avg_pool2d(
            x,
            AvgPoolOptions::new([k, k])
                .with_stride([s, s])
                .with_padding([p, p])
                .with_count_include_pad(false),
        ),
    }
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
    use burn::backend::{Autodiff, Backend, Dispatch, Flex, TensorMetadata, backend_extension};
    use burn::tensor::{IntDType, Shape, Tensor, TensorData};
    use rayon::prelude::*;

    use super::super::plane::{Dims, DirectCalls, direct_f32, f32_data, on_flex_f32};
    use super::{PoolGeometry, PoolKind};

    /// Whether the extension pools `x`: `f32` on a flex device (plain or autodiff).
    pub(super) fn applies(x: &Tensor<4>) -> bool {
        on_flex_f32(x)
    }

    pub(super) fn pool2d(x: Tensor<4>, kind: PoolKind, g: PoolGeometry) -> Tensor<4> {
        Tensor::from_dispatch(<Dispatch as PoolBackend>::pool_forward(
            x.into_dispatch(),
            kind,
            g,
        ))
    }

    /// Calls of the direct `f32` kernels, so tests can tell them from the fallback.
    pub(super) static DIRECT_CALLS: DirectCalls = DirectCalls::new();

    /// Pooling forward and backward as backend operations. The default bodies are burn's
    /// pooling ops (they serve autodiff's second order and dtypes without a direct kernel).
    #[backend_extension(Flex, Autodiff)]
    pub trait PoolBackend: Backend {
        /// Pools `x` with `kind` over `g`'s windows.
        fn pool_forward(
            x: FloatTensor<Self>,
            kind: PoolKind,
            g: PoolGeometry,
        ) -> FloatTensor<Self> {
            burn_forward::<Self>(x, kind, g)
        }

        /// Gradient of the input `x` of [`pool_forward`](Self::pool_forward) given the
        /// output's gradient `grad`.
        fn pool_backward(
            x: FloatTensor<Self>,
            grad: FloatTensor<Self>,
            kind: PoolKind,
            g: PoolGeometry,
        ) -> FloatTensor<Self> {
            burn_backward::<Self>(x, grad, kind, g)
        }
    }

    /// burn's pooling op on any backend.
    fn burn_forward<B: Backend>(
        x: FloatTensor<B>,
        kind: PoolKind,
        g: PoolGeometry,
    ) -> FloatTensor<B> {
        let (k, s, p) = ([g.kernel; 2], [g.stride; 2], [g.padding; 2]);
        match kind {
            PoolKind::Max => B::max_pool2d(x, k, s, p, [1, 1], false),
            PoolKind::Avg => B::avg_pool2d(x, k, s, p, false, false),
        }
    }

    /// burn's pooling backward on any backend.
    fn burn_backward<B: Backend>(
        x: FloatTensor<B>,
        grad: FloatTensor<B>,
        kind: PoolKind,
        g: PoolGeometry,
    ) -> FloatTensor<B> {
        let (k, s, p) = ([g.kernel; 2], [g.stride; 2], [g.padding; 2]);
        if kind == PoolKind::Avg {
            return B::avg_pool2d_backward(x, grad, k, s, p, false, false);
        }
        let pooled = B::max_pool2d_with_indices(x.clone(), k, s, p, [1, 1], false, IntDType::I64);
        B::max_pool2d_with_indices_backward(x, k, s, p, [1, 1], false, grad, pooled.indices).x_grad
    }

    /// The geometry of pooling `shape` (`[N, C, H, W]`).
    fn dims(shape: &Shape, g: PoolGeometry) -> Dims {
        let PoolGeometry {
            kernel,
            stride,
            padding,
        } = g;
        let out = |size: usize| (size + 2 * padding - kernel) / stride + 1;
        Dims {
            n: shape[0],
            c: shape[1],
            h: shape[2],
            w: shape[3],
            kh: kernel,
            kw: kernel,
            ho: out(shape[2]),
            wo: out(shape[3]),
            sh: stride,
            sw: stride,
            pt: padding,
            pl: padding,
        }
    }

    impl PoolBackend for Flex {
        fn pool_forward(
            x: FloatTensor<Self>,
            kind: PoolKind,
            g: PoolGeometry,
        ) -> FloatTensor<Self> {
            let direct = (|| {
                let xc = f32_data(&x)?;
                let d = dims(&xc.shape(), g);
                let xs = xc.as_slice::<f32>()?;
                DIRECT_CALLS.record();
                let out = match kind {
                    PoolKind::Max => max_forward(&d, xs),
                    PoolKind::Avg => avg_forward(&d, xs),
                };
                Some(Flex::float_from_data(
                    TensorData::new(out, Shape::from(vec![d.n, d.c, d.ho, d.wo])),
                    &x.device(),
                ))
            })();
            direct.unwrap_or_else(|| burn_forward::<Self>(x, kind, g))
        }

        fn pool_backward(
            x: FloatTensor<Self>,
            grad: FloatTensor<Self>,
            kind: PoolKind,
            g: PoolGeometry,
        ) -> FloatTensor<Self> {
            let direct = direct_f32(&x, &grad, &DIRECT_CALLS, |(xd, xs), (_, gs)| {
                let d = dims(xd, g);
                let out = match kind {
                    PoolKind::Max => max_backward(&d, xs, gs),
                    PoolKind::Avg => avg_backward(&d, gs),
                };
                (out, xd.clone())
            });
            direct.unwrap_or_else(|| burn_backward::<Self>(x, grad, kind, g))
        }
    }

    impl<B: Backend + PoolBackend, C: CheckpointStrategy> PoolBackend for Autodiff<B, C> {
        fn pool_forward(
            x: FloatTensor<Self>,
            kind: PoolKind,
            g: PoolGeometry,
        ) -> FloatTensor<Self> {
            #[derive(Debug)]
            struct PoolBackward;

            impl<B: Backend + PoolBackend> Backward<B, 1> for PoolBackward {
                /// The input, the reduction and the window.
                type State = (FloatTensor<B>, PoolKind, PoolGeometry);

                fn backward(
                    self,
                    ops: Ops<Self::State, 1>,
                    grads: &mut Gradients,
                    _checkpointer: &mut Checkpointer,
                ) {
                    let [node_x] = ops.parents;
                    let grad = grads.consume::<B>(&ops.node);
                    let (x, kind, g) = ops.state;
                    if let Some(node) = node_x {
                        grads.register::<B>(node.id, B::pool_backward(x, grad, kind, g));
                    }
                }
            }

            match PoolBackward
                .prepare::<C>([x.node()])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => {
                    let xp = x.primitive().clone();
                    let out = B::pool_forward(xp.clone(), kind, g);
                    prep.finish((xp, kind, g), out)
                }
                OpsKind::UnTracked(prep) => {
                    prep.finish(B::pool_forward(x.into_primitive(), kind, g))
                }
            }
        }
    }

    /// Reduces every window into `out` with `combine`, row-wise: each output row starts at
    /// `init`, takes `combine(acc, pixel)` for every window tap `(i, j)` whose input row is
    /// inside the image (output columns `lo..hi` meet input columns `lo·sw + j − pl`, …,
    /// one stride apart), then `finish(oh, output_row)`.
    fn reduce_windows(
        d: &Dims,
        out: &mut [f32],
        input: &[f32],
        init: f32,
        combine: impl Fn(f32, f32) -> f32 + Sync,
        finish: impl Fn(usize, &mut [f32]) + Sync,
    ) {
        let (plane_in, plane_out) = (d.h * d.w, d.ho * d.wo);
        if plane_out == 0 || plane_in == 0 {
            return;
        }
        let cols = d.all_cols();
        out.par_chunks_mut(plane_out)
            .zip(input.par_chunks(plane_in))
            .with_min_len(8)
            .for_each(|(o, x)| {
                for oh in 0..d.ho {
                    let orow = &mut o[oh * d.wo..(oh + 1) * d.wo];
                    orow.fill(init);
                    for i in 0..d.kh {
                        let Some(r) = d.row(oh, i) else { continue };
                        let xrow = &x[r * d.w..(r + 1) * d.w];
                        for (j, &(lo, hi)) in cols.iter().enumerate() {
                            if lo >= hi {
                                continue;
                            }
                            // lo·sw + j ≥ pl by the choice of lo.
                            let start = lo * d.sw + j - d.pl;
                            let dst = &mut orow[lo..hi];
                            if d.sw == 1 {
                                for (o, &v) in dst.iter_mut().zip(&xrow[start..start + (hi - lo)]) {
                                    *o = combine(*o, v);
                                }
                            } else {
                                for (t, o) in dst.iter_mut().enumerate() {
                                    *o = combine(*o, xrow[start + t * d.sw]);
                                }
                            }
                        }
                    }
                    finish(oh, orow);
                }
            });
    }

    /// Number of window rows (or columns) inside the image for each output row (column).
    fn valid_counts(out: usize, size: usize, k: usize, s: usize, p: usize) -> Vec<f32> {
        (0..out)
            .map(|o| {
                let start = (o * s) as isize - p as isize;
                let lo = start.max(0);
                let hi = (start + k as isize).min(size as isize);
                (hi - lo).max(1) as f32
            })
            .collect()
    }

    /// Average pooling without the padding: window sums divided by the pixels inside.
    fn avg_forward(d: &Dims, x: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0f32; d.n * d.c * d.ho * d.wo];
        let rows = valid_counts(d.ho, d.h, d.kh, d.sh, d.pt);
        let inv_cols: Vec<f32> = valid_counts(d.wo, d.w, d.kw, d.sw, d.pl)
            .into_iter()
            .map(|c| 1.0 / c)
            .collect();
        reduce_windows(
            d,
            &mut out,
            x,
            0.0,
            |a, v| a + v,
            |oh, orow| {
                let inv_rows = 1.0 / rows[oh];
                for (o, &ic) in orow.iter_mut().zip(&inv_cols) {
                    *o *= inv_rows * ic;
                }
            },
        );
        out
    }

    /// Max pooling: the largest pixel of each window inside the image.
    fn max_forward(d: &Dims, x: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0f32; d.n * d.c * d.ho * d.wo];
        reduce_windows(d, &mut out, x, f32::NEG_INFINITY, f32::max, |_, _| {});
        out
    }

    /// Gradient of average pooling: each output's gradient, divided by its window's pixel
    /// count, added back to every pixel of the window.
    fn avg_backward(d: &Dims, grad: &[f32]) -> Vec<f32> {
        let (plane_in, plane_out) = (d.h * d.w, d.ho * d.wo);
        let mut gx = vec![0.0f32; d.n * d.c * plane_in];
        if plane_in == 0 || plane_out == 0 {
            return gx;
        }
        let rows = valid_counts(d.ho, d.h, d.kh, d.sh, d.pt);
        let cols_n = valid_counts(d.wo, d.w, d.kw, d.sw, d.pl);
        let cols = d.all_cols();
        gx.par_chunks_mut(plane_in)
            .zip(grad.par_chunks(plane_out))
            .with_min_len(8)
            .for_each(|(gx, g)| {
                let mut scaled = vec![0.0f32; d.wo];
                for oh in 0..d.ho {
                    let inv_rows = 1.0 / rows[oh];
                    for ((s, &gv), &c) in scaled.iter_mut().zip(&g[oh * d.wo..]).zip(&cols_n) {
                        *s = gv * inv_rows / c;
                    }
                    for i in 0..d.kh {
                        let Some(r) = d.row(oh, i) else { continue };
                        let xrow = &mut gx[r * d.w..(r + 1) * d.w];
                        for (j, &(lo, hi)) in cols.iter().enumerate() {
                            if lo >= hi {
                                continue;
                            }
                            let start = lo * d.sw + j - d.pl;
                            if d.sw == 1 {
                                let dst = &mut xrow[start..start + (hi - lo)];
                                for (o, &s) in dst.iter_mut().zip(&scaled[lo..hi]) {
                                    *o += s;
                                }
                            } else {
                                for (t, &s) in scaled[lo..hi].iter().enumerate() {
                                    xrow[start + t * d.sw] += s;
                                }
                            }
                        }
                    }
                }
            });
        gx
    }

    /// Gradient of max pooling: each output's gradient goes to the first (row-major) largest
    /// pixel of its window.
    fn max_backward(d: &Dims, x: &[f32], grad: &[f32]) -> Vec<f32> {
        let (plane_in, plane_out) = (d.h * d.w, d.ho * d.wo);
        let mut gx = vec![0.0f32; d.n * d.c * plane_in];
        if plane_in == 0 || plane_out == 0 {
            return gx;
        }
        gx.par_chunks_mut(plane_in)
            .zip(x.par_chunks(plane_in).zip(grad.par_chunks(plane_out)))
            .with_min_len(8)
            .for_each(|(gx, (x, g))| {
                for oh in 0..d.ho {
                    let r0 = (oh * d.sh).saturating_sub(d.pt);
                    let r1 = (oh * d.sh + d.kh).saturating_sub(d.pt).min(d.h);
                    for ow in 0..d.wo {
                        let c0 = (ow * d.sw).saturating_sub(d.pl);
                        let c1 = (ow * d.sw + d.kw).saturating_sub(d.pl).min(d.w);
                        let mut best = r0 * d.w + c0;
                        let mut best_v = x[best];
                        for r in r0..r1 {
                            for (c, &v) in x[r * d.w..r * d.w + c1].iter().enumerate().skip(c0) {
                                // Strictly greater: the first maximum keeps the gradient. A
                                // select, not a branch: on real data it is unpredictable.
                                let greater = v > best_v;
                                best = if greater { r * d.w + c } else { best };
                                best_v = if greater { v } else { best_v };
                            }
                        }
                        gx[best] += g[oh * d.wo + ow];
                    }
                }
            });
        gx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::rel_err;
    use burn::tensor::activation::relu;
    use burn::tensor::{Device, Distribution};

    /// Forward and input gradient of [`pool2d`] against burn's op, on `x`.
    fn check(x: Tensor<4>, kind: PoolKind, g: PoolGeometry) {
        let what = format!("{kind:?} {g:?} on {:?}", x.dims());
        let x1 = x.clone().require_grad();
        let y1 = pool2d(x1.clone(), kind, g);
        let x2 = x.require_grad();
        let y2 = burn_pool2d(x2.clone(), kind, g);
        assert_eq!(y1.dims(), y2.dims(), "{what}");
        let device = y2.device();
        let gy = Tensor::<4>::random(y2.dims(), Distribution::Normal(0.0, 1.0), &device);
        let grads1 = (y1.clone() * gy.clone()).sum().backward();
        let grads2 = (y2.clone() * gy).sum().backward();
        let e = rel_err(y1, y2);
        assert!(e < 1e-6, "{what}: forward relative error {e}");
        let (Some(gx1), Some(gx2)) = (x1.grad(&grads1), x2.grad(&grads2)) else {
            panic!("{what}: missing input gradient");
        };
        let e = rel_err(gx1, gx2);
        assert!(e < 1e-5, "{what}: grad x relative error {e}");
    }

    #[test]
    fn matches_burn_pooling_forward_and_backward() {
        let device = Device::flex().autodiff();
        for kind in [PoolKind::Avg, PoolKind::Max] {
            for (kernel, stride, padding) in [(3, 1, 1), (3, 2, 1), (2, 2, 0), (5, 1, 2), (3, 3, 0)]
            {
                let g = PoolGeometry {
                    kernel,
                    stride,
                    padding,
                };
                for dims in [[3, 5, 9, 11], [2, 4, 8, 8], [1, 2, 3, 2], [1, 1, 1, 1]] {
                    if dims[2] + 2 * padding < kernel || dims[3] + 2 * padding < kernel {
                        continue;
                    }
                    let x = Tensor::<4>::random(dims, Distribution::Normal(0.0, 1.0), &device);
                    check(x, kind, g);
                }
            }
        }
    }

    #[test]
    fn max_pooling_gives_a_tied_window_gradient_to_the_same_pixel_as_burn() {
        // After a ReLU, many windows are all zeros: every pixel ties.
        let device = Device::flex().autodiff();
        let x = relu(Tensor::<4>::random(
            [2, 3, 7, 6],
            Distribution::Normal(-0.5, 1.0),
            &device,
        ));
        for stride in [1, 2] {
            let g = PoolGeometry {
                kernel: 3,
                stride,
                padding: 1,
            };
            check(x.clone(), PoolKind::Max, g);
        }
    }

    #[test]
    fn plain_device_forward_matches_burn() {
        let device = Device::flex();
        let x = Tensor::<4>::random([2, 6, 7, 10], Distribution::Normal(0.0, 1.0), &device);
        for kind in [PoolKind::Avg, PoolKind::Max] {
            for stride in [1, 2] {
                let g = PoolGeometry {
                    kernel: 3,
                    stride,
                    padding: 1,
                };
                let e = rel_err(pool2d(x.clone(), kind, g), burn_pool2d(x.clone(), kind, g));
                assert!(e < 1e-6, "{kind:?} stride {stride}: relative error {e}");
            }
        }
    }

    #[cfg(feature = "flex")]
    #[test]
    fn flex_f32_tensors_run_the_direct_kernels_forward_and_backward() {
        let g = PoolGeometry {
            kernel: 3,
            stride: 1,
            padding: 1,
        };
        let device = Device::flex().autodiff();
        let before = flex::DIRECT_CALLS.count();
        let x = Tensor::<4>::random([1, 2, 4, 4], Distribution::Normal(0.0, 1.0), &device)
            .require_grad();
        let grads = pool2d(x.clone(), PoolKind::Avg, g).sum().backward();
        assert!(x.grad(&grads).is_some());
        // Other tests run in parallel and may add calls too, hence "at least".
        let after = flex::DIRECT_CALLS.count();
        assert!(
            after >= before + 2,
            "forward and backward should both take the direct kernels ({before} → {after})"
        );
    }
}
