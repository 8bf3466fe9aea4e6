//! Depthwise convolution with a direct backward pass on the `flex` backend.
//!
//! burn-flex 0.22 has a fast depthwise forward but no depthwise backward: burn's generic
//! default computes the input gradient with a transposed convolution (an outer product and a
//! scalar col2im scatter per image and channel) and the weight gradient one channel at a time,
//! each an im2col plus a one-row matrix product on one thread. Here both gradients are direct
//! per-channel correlations, parallel over channels (weight) and over images × channels
//! (input), registered as a backend extension with its own autodiff backward. On every other
//! backend, and for dtypes other than `f32`, [`depthwise_conv`] is burn's `conv2d` with
//! `groups = C`.

use burn::nn::conv::Conv2d;
use burn::tensor::Tensor;
use burn::tensor::module::conv2d;

use super::{ConvGeometry, conv_padding};

/// The depthwise convolution `conv2d(x, weight, groups = C)`: `x` is `[N, C, H, W]`, `weight`
/// `[C, 1, kh, kw]` (the layout of a [`Conv2d`] with `groups = C`), the result
/// `[N, C, (H + pad − kh) / stride + 1, …]`.
///
/// On the `flex` backend with `f32` tensors (plain or autodiff) the backward pass is a direct
/// per-channel correlation; elsewhere this is burn's `conv2d`.
///
/// # Panics
/// When the shapes do not fit, or a stride is 0, as burn's `conv2d` (programming errors of the
/// caller: the networks build their weights to match their inputs).
pub fn depthwise_conv(x: Tensor<4>, weight: Tensor<4>, geometry: ConvGeometry) -> Tensor<4> {
    let [_, c, h, w] = x.dims();
    let [wc, one, kh, kw] = weight.dims();
    let fits = wc == c && one == 1 && geometry.fits([h, w], [kh, kw]);
    #[cfg(feature = "flex")]
    if fits && flex::applies(&x, &weight) {
        return flex::depthwise_conv(x, weight, geometry);
    }
    let _ = fits;
    conv2d(x, weight, None, geometry.options(c))
}

/// Applies `conv`, through [`depthwise_conv`] when it is a depthwise convolution (one input
/// and one output channel per group, dilation 1, no bias), and through [`Conv2d::forward`]
/// otherwise. "Same" padding is resolved as [`Conv2d::forward`] resolves it.
pub fn depthwise(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [_, c, h, w] = x.dims();
    let [cout, cin_per_group, _, _] = conv.weight.dims();
    let is_depthwise = conv.groups == c
        && cout == c
        && cin_per_group == 1
        && conv.dilation == [1, 1]
        && conv.bias.is_none();
    if !is_depthwise {
        return conv.forward(x);
    }
    let padding = conv_padding(conv, h, w);
    depthwise_conv(
        x,
        conv.weight.val(),
        ConvGeometry {
            stride: conv.stride,
            padding,
        },
    )
}

#[cfg(feature = "flex")]
mod flex {
    //! The backend extension and its flex and autodiff implementations.

    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::ops::ModuleOps;
    use burn::backend::tensor::FloatTensor;
    use burn::backend::{Autodiff, Backend, Dispatch, Flex, TensorMetadata, backend_extension};
    use burn::tensor::ops::ConvOptions;
    use burn::tensor::{Shape, Tensor};
    use rayon::prelude::*;

    use super::super::ConvGeometry;
    use super::super::channels_last;
    use super::super::plane::{Dims, DirectCalls, direct_f32, scale_add};
    use super::super::weighted_op::WeightedOp;
    pub(super) use super::super::weighted_op::applies;

    pub(super) fn depthwise_conv(x: Tensor<4>, weight: Tensor<4>, g: ConvGeometry) -> Tensor<4> {
        Tensor::from_dispatch(<Dispatch as DepthwiseBackend>::depthwise_forward(
            x.into_dispatch(),
            weight.into_dispatch(),
            g,
        ))
    }

    /// Calls of the direct `f32` gradient kernels, so tests can tell them from the fallback.
    pub(super) static DIRECT_CALLS: DirectCalls = DirectCalls::new();

    /// burn's convolution options of `g` for `weight`'s channels.
    fn options<B: Backend>(weight: &FloatTensor<B>, g: ConvGeometry) -> ConvOptions<2> {
        g.options(weight.shape()[0])
    }

    /// The sizes of a depthwise convolution from its input, kernel and output shapes.
    fn dims(x: &Shape, kernel: &Shape, out: &Shape, g: ConvGeometry) -> Dims {
        Dims {
            n: x[0],
            c: x[1],
            h: x[2],
            w: x[3],
            kh: kernel[2],
            kw: kernel[3],
            ho: out[2],
            wo: out[3],
            sh: g.stride[0],
            sw: g.stride[1],
            pt: g.padding[0].0,
            pl: g.padding[1].0,
        }
    }

    /// Depthwise convolution and its two gradients as backend operations. The default bodies
    /// are burn's generic convolution ops (they serve autodiff's second order and dtypes
    /// without a direct kernel).
    #[backend_extension(Flex, Autodiff)]
    pub trait DepthwiseBackend: Backend {
        /// `conv2d(x, weight, groups = C)` with `g`'s stride and padding.
        fn depthwise_forward(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            g: ConvGeometry,
        ) -> FloatTensor<Self> {
            let options = options::<Self>(&weight, g);
            Self::conv2d(x, weight, None, options)
        }

        /// Gradient of the input `x` of [`depthwise_forward`](Self::depthwise_forward).
        fn depthwise_grad_x(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            grad: FloatTensor<Self>,
            g: ConvGeometry,
        ) -> FloatTensor<Self> {
            let options = options::<Self>(&weight, g);
            Self::conv2d_x_backward(x, weight, grad, options)
        }

        /// Gradient of the weight of [`depthwise_forward`](Self::depthwise_forward).
        fn depthwise_grad_w(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            grad: FloatTensor<Self>,
            g: ConvGeometry,
        ) -> FloatTensor<Self> {
            let options = options::<Self>(&weight, g);
            Self::conv2d_weight_backward(x, weight, grad, options)
        }
    }

    impl DepthwiseBackend for Flex {
        fn depthwise_forward(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            g: ConvGeometry,
        ) -> FloatTensor<Self> {
            let shape = x.shape();
            let (h, w) = (shape[2], shape[3]);
            let kernel: Option<Forward> = if channels_last_pays(h, w) {
                Some(channels_last::forward)
            } else if g.stride == [1, 1] && padded_pays(h, w) {
                Some(forward_stride1_f32)
            } else {
                None
            };
            let direct = kernel.and_then(|kernel| {
                direct_f32(&x, &weight, &DIRECT_CALLS, |(xd, xs), (wd, ws)| {
                    let d = forward_dims(xd, wd, g);
                    (kernel(&d, xs, ws), Shape::from(vec![d.n, d.c, d.ho, d.wo]))
                })
            });
            direct.unwrap_or_else(|| {
                let options = options::<Self>(&weight, g);
                Self::conv2d(x, weight, None, options)
            })
        }

        fn depthwise_grad_x(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            grad: FloatTensor<Self>,
            g: ConvGeometry,
        ) -> FloatTensor<Self> {
            let x_shape = x.shape();
            let direct = direct_f32(&weight, &grad, &DIRECT_CALLS, |(wd, ws), (gd, gs)| {
                let d = dims(&x_shape, wd, gd, g);
                let out = if channels_last_pays(d.h, d.w) {
                    channels_last::grad_x(&d, ws, gs)
                } else if g.stride == [1, 1] && padded_pays(d.h, d.w) {
                    grad_x_stride1_f32(&d, ws, gs)
                } else {
                    grad_x_f32(&d, ws, gs)
                };
                (out, x_shape.clone())
            });
            direct.unwrap_or_else(|| {
                let options = options::<Self>(&weight, g);
                Self::conv2d_x_backward(x, weight, grad, options)
            })
        }

        fn depthwise_grad_w(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            grad: FloatTensor<Self>,
            g: ConvGeometry,
        ) -> FloatTensor<Self> {
            let w_shape = weight.shape();
            let direct = direct_f32(&x, &grad, &DIRECT_CALLS, |(xd, xs), (gd, gs)| {
                let d = dims(xd, &w_shape, gd, g);
                let out = if channels_last_pays(d.h, d.w) && channels_last::grad_w_fits(&d) {
                    channels_last::grad_w(&d, xs, gs)
                } else {
                    grad_w_f32(&d, xs, gs)
                };
                (out, Shape::from(vec![d.c, 1, d.kh, d.kw]))
            });
            direct.unwrap_or_else(|| {
                let options = options::<Self>(&weight, g);
                Self::conv2d_weight_backward(x, weight, grad, options)
            })
        }
    }

    impl<B: Backend + DepthwiseBackend, C: CheckpointStrategy> DepthwiseBackend for Autodiff<B, C> {
        fn depthwise_forward(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            g: ConvGeometry,
        ) -> FloatTensor<Self> {
            WeightedOp {
                forward: B::depthwise_forward,
                grad_x: B::depthwise_grad_x,
                grad_weight: B::depthwise_grad_w,
            }
            .run::<C>(x, weight, g)
        }
    }

    /// A direct forward kernel: the output values of `d` from the input and the weight.
    type Forward = fn(&Dims, &[f32], &[f32]) -> Vec<f32>;

    /// Whether an `h × w` input plane is small enough for the channels-last kernels
    /// ([`channels_last`]), which pay off where a plane is shorter than a vector register
    /// (measured with `bench --workload ops`).
    fn channels_last_pays(h: usize, w: usize) -> bool {
        h * w < CHANNELS_LAST_BELOW
    }

    /// See [`channels_last_pays`].
    const CHANNELS_LAST_BELOW: usize = 64;

    /// Whether an `h × w` plane is large enough for the padded-plane kernels
    /// ([`forward_stride1_f32`], [`grad_x_stride1_f32`]): on the 3×3 planes of a 14×14 search's
    /// last stage most of a padded 5×5 window is padding, and the row-by-row kernels, which
    /// skip it, are faster (measured with `bench --workload ops`).
    fn padded_pays(h: usize, w: usize) -> bool {
        h * w >= 25
    }

    /// The sizes of a depthwise convolution of input shape `x` by kernel shape `kernel`.
    fn forward_dims(x: &Shape, kernel: &Shape, g: ConvGeometry) -> Dims {
        let (kh, kw) = (kernel[2], kernel[3]);
        let ho = (x[2] + g.padding[0].0 + g.padding[0].1 - kh) / g.stride[0] + 1;
        let wo = (x[3] + g.padding[1].0 + g.padding[1].1 - kw) / g.stride[1] + 1;
        dims(x, kernel, &Shape::from(vec![x[0], x[1], ho, wo]), g)
    }

    /// Stride-1 forward, one `(n, c)` plane per task. The plane is copied into a zero-padded
    /// buffer `wp = wo + kw − 1` wide, in which output `(oh, ow)` sits at `oh·wp + ow` and tap
    /// `(i, j)` reads `i·wp + j` further on: every tap is then one multiply-add over a
    /// contiguous run of about `ho·wp` values, which vectorises even on the small planes of a
    /// search (14×14, 7×7), where flex's row-by-row kernel runs rows shorter than a vector
    /// register. Each output sums its taps from zero in flex's order (row by row, left to right,
    /// `x·w + sum`, no fused multiply-add), and the padding's `0·w` terms change no sum, so the
    /// result is bit for bit flex's `conv2d`.
    fn forward_stride1_f32(d: &Dims, x: &[f32], weight: &[f32]) -> Vec<f32> {
        let (hp, wp) = (d.ho + d.kh - 1, d.wo + d.kw - 1);
        let taps = d.kh * d.kw;
        padded_planes(
            d.n * d.c,
            (d.ho, d.wo),
            (hp, wp),
            |nc, padded| {
                let xp = &x[nc * d.h * d.w..(nc + 1) * d.h * d.w];
                for (r, row) in xp.chunks_exact(d.w).enumerate() {
                    let at = (r + d.pt) * wp + d.pl;
                    padded[at..at + d.w].copy_from_slice(row);
                }
            },
            |nc, tap| {
                let k = &weight[(nc % d.c) * taps..(nc % d.c + 1) * taps];
                for i in 0..d.kh {
                    for j in 0..d.kw {
                        tap(i * wp + j, k[i * d.kw + j]);
                    }
                }
            },
        )
    }

    /// The scheme of the stride-1 kernels: each of the `planes` `rows × cols` planes of the
    /// result (one rayon task each) is built from a zeroed `hp × wp` buffer into which
    /// `fill(plane, buffer)` copies its source (the border stays zero: every plane writes the
    /// same interior); for each `(offset, k)` that `taps(plane, tap)` hands `tap`, in order,
    /// `k ×` the buffer from `offset` on is added to an accumulator of `(rows − 1)·wp + cols`
    /// values, whose first `cols` values of every `wp` are the plane's rows.
    fn padded_planes(
        planes: usize,
        (rows, cols): (usize, usize),
        (hp, wp): (usize, usize),
        fill: impl Fn(usize, &mut [f32]) + Sync,
        taps: impl Fn(usize, &mut dyn FnMut(usize, f32)) + Sync,
    ) -> Vec<f32> {
        let plane = rows * cols;
        let mut out = vec![0.0f32; planes * plane];
        if plane == 0 {
            return out;
        }
        let span = (rows - 1) * wp + cols;
        out.par_chunks_mut(plane)
            .with_min_len(8)
            .enumerate()
            .for_each_init(
                || (vec![0.0f32; hp * wp], vec![0.0f32; span]),
                |(padded, acc), (nc, o)| {
                    fill(nc, padded);
                    acc.fill(0.0);
                    taps(nc, &mut |at, k| scale_add(acc, &padded[at..at + span], k));
                    for (dst, src) in o.chunks_exact_mut(cols).zip(acc.chunks(wp)) {
                        dst.copy_from_slice(&src[..cols]);
                    }
                },
            );
        out
    }

    /// `grad_x[n, c] = Σ_{i,j} w[c, i, j] · grad[n, c] shifted`, one `(n, c)` plane per task.
    fn grad_x_f32(d: &Dims, weight: &[f32], grad: &[f32]) -> Vec<f32> {
        let plane = d.h * d.w;
        let mut out = vec![0.0f32; d.n * d.c * plane];
        if plane == 0 {
            return out;
        }
        let cols = d.all_cols();
        out.par_chunks_mut(plane)
            .with_min_len(8)
            .enumerate()
            .for_each(|(nc, gx)| {
                let c = nc % d.c;
                let g = &grad[nc * d.ho * d.wo..(nc + 1) * d.ho * d.wo];
                let k = &weight[c * d.kh * d.kw..(c + 1) * d.kh * d.kw];
                for oh in 0..d.ho {
                    let grow = &g[oh * d.wo..(oh + 1) * d.wo];
                    for i in 0..d.kh {
                        let Some(r) = d.row(oh, i) else { continue };
                        let xrow = &mut gx[r * d.w..(r + 1) * d.w];
                        for (j, &(lo, hi)) in cols.iter().enumerate() {
                            let kv = k[i * d.kw + j];
                            if lo >= hi {
                                continue;
                            }
                            if d.sw == 1 {
                                let start = lo + j - d.pl;
                                let dst = &mut xrow[start..start + (hi - lo)];
                                for (o, &gv) in dst.iter_mut().zip(&grow[lo..hi]) {
                                    *o += kv * gv;
                                }
                            } else {
                                for (ow, &gv) in grow.iter().enumerate().take(hi).skip(lo) {
                                    xrow[ow * d.sw + j - d.pl] += kv * gv;
                                }
                            }
                        }
                    }
                }
            });
        out
    }

    /// [`grad_x_f32`] at stride 1, one `(n, c)` plane per task, the way
    /// [`forward_stride1_f32`] runs the forward pass: the output gradient is copied into a
    /// zero-padded buffer `wp = w + kw − 1` wide, output `(oh, ow)` at row `oh + kh − 1 − pt`
    /// and column `ow + kw − 1 − pl`, so that input `(r, col)` sits at `r·wp + col` and tap
    /// `(i, j)` reads `(kh − 1 − i)·wp + kw − 1 − j` further on: one multiply-add over a
    /// contiguous run per tap. The taps go bottom row first, each row left to right, which is
    /// the order in which [`grad_x_f32`] adds an input's terms (output rows ascending), and the
    /// padding's zero terms change no sum: the result is the same bit for bit.
    fn grad_x_stride1_f32(d: &Dims, weight: &[f32], grad: &[f32]) -> Vec<f32> {
        let (hp, wp) = (d.h + d.kh - 1, d.w + d.kw - 1);
        let taps = d.kh * d.kw;
        // Where output row `oh` / column `ow` lands in the padded buffer (outputs whose window
        // holds no input pixel land outside it and are left out).
        let top = (d.kh - 1) as isize - d.pt as isize;
        let left = (d.kw - 1) as isize - d.pl as isize;
        let rows: Vec<(usize, usize)> = (0..d.ho)
            .filter_map(|oh| {
                let a = oh as isize + top;
                (0..hp as isize).contains(&a).then_some((oh, a as usize))
            })
            .collect();
        let ow_lo = (-left).max(0) as usize;
        let ow_hi = (d.wo as isize).min(wp as isize - left).max(0) as usize;
        if d.ho == 0 || ow_lo >= ow_hi {
            return vec![0.0f32; d.n * d.c * d.h * d.w];
        }
        let b0 = (ow_lo as isize + left) as usize;
        padded_planes(
            d.n * d.c,
            (d.h, d.w),
            (hp, wp),
            |nc, padded| {
                let g = &grad[nc * d.ho * d.wo..(nc + 1) * d.ho * d.wo];
                for &(oh, a) in &rows {
                    let src = &g[oh * d.wo + ow_lo..oh * d.wo + ow_hi];
                    padded[a * wp + b0..a * wp + b0 + src.len()].copy_from_slice(src);
                }
            },
            |nc, tap| {
                let k = &weight[(nc % d.c) * taps..(nc % d.c + 1) * taps];
                for i in (0..d.kh).rev() {
                    for j in 0..d.kw {
                        tap((d.kh - 1 - i) * wp + d.kw - 1 - j, k[i * d.kw + j]);
                    }
                }
            },
        )
    }

    /// `grad_w[c, i, j] = Σ_{n, oh, ow} grad[n, c, oh, ow] · x[n, c, oh·sh + i − pt, ow·sw + j − pl]`,
    /// one channel per task.
    fn grad_w_f32(d: &Dims, x: &[f32], grad: &[f32]) -> Vec<f32> {
        let taps = d.kh * d.kw;
        let mut out = vec![0.0f32; d.c * taps];
        if taps == 0 {
            return out;
        }
        let cols = d.all_cols();
        out.par_chunks_mut(taps).enumerate().for_each(|(c, gw)| {
            // f64 accumulators: a tap sums n·ho·wo products.
            let mut acc = vec![0.0f64; taps];
            for n in 0..d.n {
                let nc = n * d.c + c;
                let xp = &x[nc * d.h * d.w..(nc + 1) * d.h * d.w];
                let g = &grad[nc * d.ho * d.wo..(nc + 1) * d.ho * d.wo];
                for oh in 0..d.ho {
                    let grow = &g[oh * d.wo..(oh + 1) * d.wo];
                    for i in 0..d.kh {
                        let Some(r) = d.row(oh, i) else { continue };
                        let xrow = &xp[r * d.w..(r + 1) * d.w];
                        for (j, &(lo, hi)) in cols.iter().enumerate() {
                            if lo >= hi {
                                continue;
                            }
                            let s = if d.sw == 1 {
                                let start = lo + j - d.pl;
                                dot(&grow[lo..hi], &xrow[start..start + (hi - lo)])
                            } else {
                                grow[lo..hi]
                                    .iter()
                                    .enumerate()
                                    .map(|(t, &gv)| gv * xrow[(lo + t) * d.sw + j - d.pl])
                                    .sum()
                            };
                            acc[i * d.kw + j] += f64::from(s);
                        }
                    }
                }
            }
            for (o, a) in gw.iter_mut().zip(acc) {
                *o = a as f32;
            }
        });
        out
    }

    /// Dot product with eight independent accumulators (vectorises).
    fn dot(a: &[f32], b: &[f32]) -> f32 {
        let mut acc = [0.0f32; 8];
        let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
        let (ra, rb) = (ca.remainder(), cb.remainder());
        for (x, y) in ca.zip(cb) {
            for l in 0..8 {
                acc[l] += x[l] * y[l];
            }
        }
        let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
        acc.iter().sum::<f32>() + tail
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// Pseudo-random values in (−1, 1), some of them exactly zero.
        fn values(n: usize, seed: u32) -> Vec<f32> {
            let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
            (0..n)
                .map(|_| {
                    state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    let v = (state >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0;
                    if state.is_multiple_of(17) { 0.0 } else { v }
                })
                .collect()
        }

        /// The channels-last gradients are the row kernels' exactly (the same sums in the same
        /// order), strided and uneven paddings included.
        #[test]
        fn channels_last_gradients_are_the_row_kernels() {
            // n, c, h, w, kh, kw, (top, bottom), (left, right), stride
            let cases = [
                (3, 24, 3, 3, 5, 5, (2, 2), (2, 2), 1),
                (2, 19, 3, 3, 3, 3, (1, 1), (1, 1), 1),
                (4, 16, 7, 7, 5, 5, (2, 2), (2, 2), 1),
                (2, 9, 7, 7, 3, 3, (1, 1), (1, 1), 2),
                (2, 17, 7, 7, 5, 5, (1, 2), (2, 1), 2),
                (3, 5, 4, 6, 5, 5, (2, 2), (2, 2), 2),
                (1, 3, 6, 5, 3, 3, (0, 0), (0, 0), 1),
                (2, 4, 5, 5, 3, 3, (3, 3), (0, 3), 1),
            ];
            for (seed, (n, c, h, w, kh, kw, (pt, pb), (pl, pr), stride)) in
                cases.into_iter().enumerate()
            {
                let ho = (h + pt + pb - kh) / stride + 1;
                let wo = (w + pl + pr - kw) / stride + 1;
                let d = Dims {
                    n,
                    c,
                    h,
                    w,
                    kh,
                    kw,
                    ho,
                    wo,
                    sh: stride,
                    sw: stride,
                    pt,
                    pl,
                };
                let seed = seed as u32;
                let weight = values(c * kh * kw, seed);
                let x = values(n * c * h * w, seed + 50);
                let grad = values(n * c * ho * wo, seed + 100);
                assert_eq!(
                    channels_last::grad_x(&d, &weight, &grad),
                    grad_x_f32(&d, &weight, &grad),
                    "grad_x, case {seed}"
                );
                assert!(channels_last::grad_w_fits(&d), "case {seed}");
                assert_eq!(
                    channels_last::grad_w(&d, &x, &grad),
                    grad_w_f32(&d, &x, &grad),
                    "grad_w, case {seed}"
                );
            }
        }

        /// The stride-1 input gradient is the row-by-row kernel's bit for bit, paddings above
        /// the kernel size and uneven ones included.
        #[test]
        fn stride_one_grad_x_is_the_row_kernel_bit_for_bit() {
            // n, c, h, w, kh, kw, (top, bottom), (left, right)
            let cases = [
                (2, 3, 14, 14, 3, 3, (1, 1), (1, 1)),
                (2, 2, 7, 7, 5, 5, (2, 2), (2, 2)),
                (1, 2, 9, 10, 3, 5, (0, 2), (1, 0)),
                (1, 1, 6, 5, 3, 3, (0, 0), (0, 0)),
                (1, 1, 5, 6, 3, 3, (3, 3), (0, 4)),
                (3, 2, 3, 3, 5, 5, (2, 2), (2, 2)),
            ];
            for (seed, (n, c, h, w, kh, kw, (pt, pb), (pl, pr))) in cases.into_iter().enumerate() {
                let (ho, wo) = (h + pt + pb - kh + 1, w + pl + pr - kw + 1);
                let d = Dims {
                    n,
                    c,
                    h,
                    w,
                    kh,
                    kw,
                    ho,
                    wo,
                    sh: 1,
                    sw: 1,
                    pt,
                    pl,
                };
                let weight = values(c * kh * kw, seed as u32);
                let grad = values(n * c * ho * wo, seed as u32 + 100);
                let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
                assert_eq!(
                    bits(grad_x_stride1_f32(&d, &weight, &grad)),
                    bits(grad_x_f32(&d, &weight, &grad)),
                    "case {seed}"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::rel_err;
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::{Device, Distribution};

    /// Forward and both gradients of [`depthwise`] against burn's `conv2d` (`groups = C`), on
    /// the same module.
    fn check(n: usize, c: usize, h: usize, w: usize, k: usize, stride: usize) {
        let device = Device::flex().autodiff();
        let conv = Conv2dConfig::new([c, c], [k, k])
            .with_stride([stride, stride])
            .with_groups(c)
            .with_padding(PaddingConfig2d::Same)
            .with_bias(false)
            .init(&device);
        let x = Tensor::<4>::random([n, c, h, w], Distribution::Normal(0.0, 1.0), &device);

        let x1 = x.clone().require_grad();
        let y1 = depthwise(&conv, x1.clone());
        let x2 = x.require_grad();
        let y2 = conv.forward(x2.clone());
        assert_eq!(y1.dims(), y2.dims(), "k {k} stride {stride}");
        let g = Tensor::<4>::random(y2.dims(), Distribution::Normal(0.0, 1.0), &device);
        let grads1 = (y1.clone() * g.clone()).sum().backward();
        let grads2 = (y2.clone() * g).sum().backward();

        let what = format!("n {n} c {c} {h}x{w} k {k} stride {stride}");
        let e = rel_err(y1, y2);
        assert!(e < 1e-5, "{what}: forward relative error {e}");
        let (Some(gx1), Some(gx2)) = (x1.grad(&grads1), x2.grad(&grads2)) else {
            panic!("{what}: missing input gradient");
        };
        let e = rel_err(gx1, gx2);
        assert!(e < 1e-4, "{what}: grad x relative error {e}");
        let (Some(gw1), Some(gw2)) = (conv.weight.grad(&grads1), conv.weight.grad(&grads2)) else {
            panic!("{what}: missing weight gradient");
        };
        assert_eq!(gw1.dims(), [c, 1, k, k]);
        let e = rel_err(gw1, gw2);
        assert!(e < 1e-4, "{what}: grad weight relative error {e}");
    }

    #[test]
    fn matches_conv2d_with_groups_forward_and_backward() {
        for k in [3, 5] {
            for stride in [1, 2] {
                check(3, 5, 9, 11, k, stride);
                check(2, 4, 8, 8, k, stride);
                check(1, 2, 3, 2, k, stride);
            }
        }
    }

    #[test]
    fn matches_conv2d_for_rectangular_kernels_unequal_strides_and_uneven_padding() {
        let device = Device::flex().autodiff();
        let cases = [
            ([3, 5], [1, 2], [(0, 2), (1, 0)]),
            ([5, 3], [2, 1], [(2, 1), (0, 0)]),
            ([1, 3], [3, 2], [(0, 0), (2, 1)]),
        ];
        for (k, stride, padding) in cases {
            let what = format!("kernel {k:?} stride {stride:?} padding {padding:?}");
            let g = ConvGeometry { stride, padding };
            let x = Tensor::<4>::random([2, 3, 9, 10], Distribution::Normal(0.0, 1.0), &device);
            let w =
                Tensor::<4>::random([3, 1, k[0], k[1]], Distribution::Normal(0.0, 1.0), &device);
            let (x1, w1) = (x.clone().require_grad(), w.clone().require_grad());
            let (x2, w2) = (x.require_grad(), w.require_grad());
            let y1 = depthwise_conv(x1.clone(), w1.clone(), g);
            let y2 = conv2d(x2.clone(), w2.clone(), None, g.options(3));
            assert_eq!(y1.dims(), y2.dims(), "{what}");
            let gy = Tensor::<4>::random(y2.dims(), Distribution::Normal(0.0, 1.0), &device);
            let grads1 = (y1.clone() * gy.clone()).sum().backward();
            let grads2 = (y2.clone() * gy).sum().backward();
            let e = rel_err(y1, y2);
            assert!(e < 1e-5, "{what}: forward relative error {e}");
            for (name, a, b) in [
                ("x", x1.grad(&grads1), x2.grad(&grads2)),
                ("weight", w1.grad(&grads1), w2.grad(&grads2)),
            ] {
                let (Some(a), Some(b)) = (a, b) else {
                    panic!("{what}: missing {name} gradient");
                };
                let e = rel_err(a, b);
                assert!(e < 1e-4, "{what}: grad {name} relative error {e}");
            }
        }
    }

    /// The direct forward kernels (padded planes at stride 1, channels-last on small planes)
    /// keep flex's order of summation: their results are flex's bit for bit (the documented
    /// search and retraining results depend on it).
    #[cfg(feature = "flex")]
    #[test]
    fn direct_forward_is_conv2d_bit_for_bit() {
        let device = Device::flex();
        let cases = [
            ([4, 8, 14, 14], [3, 3], [(1, 1), (1, 1)], 1),
            ([3, 16, 7, 7], [5, 5], [(2, 2), (2, 2)], 1),
            ([2, 3, 9, 10], [3, 5], [(0, 2), (1, 0)], 1),
            ([2, 2, 6, 5], [3, 3], [(0, 0), (0, 0)], 1),
            ([1, 2, 100, 101], [5, 5], [(2, 2), (2, 2)], 1),
            ([5, 24, 3, 3], [5, 5], [(2, 2), (2, 2)], 1),
            ([3, 19, 3, 3], [3, 3], [(1, 1), (1, 1)], 1),
            ([4, 8, 7, 7], [3, 3], [(1, 1), (1, 1)], 2),
            ([2, 17, 7, 7], [5, 5], [(1, 2), (2, 1)], 2),
            ([2, 5, 4, 6], [5, 5], [(2, 2), (2, 2)], 2),
        ];
        for (shape, k, padding, stride) in cases {
            let g = ConvGeometry {
                stride: [stride, stride],
                padding,
            };
            let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
            let w = Tensor::<4>::random([shape[1], 1, k[0], k[1]], Distribution::Default, &device);
            let before = flex::DIRECT_CALLS.count();
            let ours = depthwise_conv(x.clone(), w.clone(), g).into_data();
            assert!(
                flex::DIRECT_CALLS.count() > before,
                "{shape:?}: not the direct kernel"
            );
            let flex = conv2d(x, w, None, g.options(shape[1])).into_data();
            assert_eq!(
                ours.shape(),
                flex.shape(),
                "{shape:?} {k:?} {padding:?} {stride}"
            );
            let bits = |d: &burn::tensor::TensorData| -> Vec<u32> {
                d.as_slice::<f32>()
                    .unwrap()
                    .iter()
                    .map(|v| v.to_bits())
                    .collect()
            };
            assert_eq!(
                bits(&ours),
                bits(&flex),
                "{shape:?} {k:?} {padding:?} {stride}"
            );
        }
    }

    #[test]
    fn plain_device_forward_matches_conv2d() {
        let device = Device::flex();
        for (k, stride) in [(3, 1), (5, 2)] {
            let conv = Conv2dConfig::new([6, 6], [k, k])
                .with_stride([stride, stride])
                .with_groups(6)
                .with_padding(PaddingConfig2d::Same)
                .with_bias(false)
                .init(&device);
            let x = Tensor::<4>::random([2, 6, 7, 10], Distribution::Normal(0.0, 1.0), &device);
            let e = rel_err(depthwise(&conv, x.clone()), conv.forward(x));
            assert!(e < 1e-5, "k {k} stride {stride}: relative error {e}");
        }
    }

    #[cfg(feature = "flex")]
    #[test]
    fn flex_f32_tensors_take_the_direct_kernels() {
        for device in [Device::flex(), Device::flex().autodiff()] {
            let x = Tensor::<4>::zeros([1, 2, 3, 3], &device);
            let w = Tensor::<4>::zeros([2, 1, 3, 3], &device);
            assert!(flex::applies(&x, &w), "{device:?}");
        }
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::random([1, 2, 5, 5], Distribution::Normal(0.0, 1.0), &device)
            .require_grad();
        let w = Tensor::<4>::random([2, 1, 3, 3], Distribution::Normal(0.0, 1.0), &device)
            .require_grad();
        let before = flex::DIRECT_CALLS.count();
        let same = ConvGeometry {
            stride: [1, 1],
            padding: [(1, 1), (1, 1)],
        };
        let grads = depthwise_conv(x.clone(), w.clone(), same).sum().backward();
        assert!(x.grad(&grads).is_some() && w.grad(&grads).is_some());
        // Other tests run in parallel and may add calls too, hence "at least".
        let after = flex::DIRECT_CALLS.count();
        assert!(
            after >= before + 2,
            "both gradients should take the direct kernels ({before} → {after})"
        );
    }

    #[test]
    fn non_depthwise_modules_run_as_they_are() {
        let device = Device::flex();
        let conv = Conv2dConfig::new([4, 6], [3, 3])
            .with_groups(2)
            .with_padding(PaddingConfig2d::Same)
            .init(&device);
        let x = Tensor::<4>::random([2, 4, 5, 5], Distribution::Normal(0.0, 1.0), &device);
        let e = rel_err(depthwise(&conv, x.clone()), conv.forward(x));
        assert!(e < 1e-6, "relative error {e}");
    }
}
