//! Dense convolution (no groups, dilation 1, no bias) as per-image im2col and matrix products
//! on the `flex` backend, forward and both gradients.
//!
//! burn-flex 0.22 has a tiled im2col forward, but its convolution backward is burn's generic
//! default: the input gradient is a transposed convolution and the weight gradient a
//! convolution of the input with the output gradient as its "kernel" (`Cin` images, an
//! `Ho × Wo` kernel), each op allocating and zero-filling fresh buffers. On the NAS-RL and
//! macro children (plain 3×3 to 7×7 convolutions) these made a training step ~3× slower than
//! PyTorch's (docs/performance.md). Here, per image `n`, `cols = im2col(x[n])`
//! (`[Cin·kh·kw, Ho·Wo]`) and
//!
//! - forward: `y[n] = W · cols` (`W` viewed as `[Cout, Cin·kh·kw]`),
//! - weight gradient: `Σ_n grad[n] · colsᵀ`,
//! - input gradient: `col2im(Wᵀ · grad[n])`,
//!
//! each a single matrix product by the `gemm` crate (the one burn-flex uses), with the images
//! split evenly between the threads, so a thread reuses one `cols` buffer for all its images.
//! On every other backend, and for dtypes other than `f32`, [`dense_conv`] is burn's `conv2d`.

use burn::nn::conv::Conv2d;
use burn::tensor::Tensor;
use burn::tensor::module::conv2d;

use super::{ConvGeometry, conv_padding, pointwise_conv};

/// The convolution `conv2d(x, weight)` without groups, dilation or bias: `x` is
/// `[N, Cin, H, W]`, `weight` `[Cout, Cin, kh, kw]` (the layout of a [`Conv2d`]'s weight), the
/// result `[N, Cout, (H + pad − kh) / stride + 1, …]`.
///
/// On the `flex` backend with `f32` tensors (plain or autodiff) the forward pass and both
/// gradients are per-image im2col and matrix products; elsewhere this is burn's `conv2d`.
///
/// # Panics
/// When the shapes do not fit, or a stride is 0, as burn's `conv2d` (programming errors of the
/// caller: the networks build their weights to match their inputs).
pub fn dense_conv(x: Tensor<4>, weight: Tensor<4>, geometry: ConvGeometry) -> Tensor<4> {
    let [_, c, h, w] = x.dims();
    let [_, wc, kh, kw] = weight.dims();
    let fits = wc == c && geometry.fits([h, w], [kh, kw]);
    #[cfg(feature = "flex")]
    if fits && flex::applies(&x, &weight) {
        return flex::dense_conv(x, weight, geometry);
    }
    let _ = fits;
    conv2d(x, weight, None, geometry.options(1))
}

/// Applies `conv`: a stride-1 1×1 convolution through [`pointwise_conv`], another convolution
/// without groups, dilation or bias through [`dense_conv`], and anything else through
/// [`Conv2d::forward`]. The result is the same in each case; "same" padding is resolved as
/// [`Conv2d::forward`] resolves it.
pub fn dense(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    let [_, _, kh, kw] = conv.weight.dims();
    if conv.groups != 1 || conv.dilation != [1, 1] || conv.bias.is_some() {
        return conv.forward(x);
    }
    let padding = conv_padding(conv, h, w);
    if kh == 1 && kw == 1 && conv.stride == [1, 1] && padding == [(0, 0), (0, 0)] {
        return pointwise_conv(x, conv.weight.val());
    }
    dense_conv(
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
    use burn::tensor::{Shape, Tensor};
    use gemm::Parallelism;
    use rayon::prelude::*;

    use super::super::ConvGeometry;
    use super::super::plane::{Dims, DirectCalls, direct_f32};
    use super::super::weighted_op::WeightedOp;
    pub(super) use super::super::weighted_op::applies;

    pub(super) fn dense_conv(x: Tensor<4>, weight: Tensor<4>, g: ConvGeometry) -> Tensor<4> {
        Tensor::from_dispatch(<Dispatch as DenseConvBackend>::dense_forward(
            x.into_dispatch(),
            weight.into_dispatch(),
            g,
        ))
    }

    /// Calls of the direct `f32` kernels, so tests can tell them from the fallback.
    pub(super) static DIRECT_CALLS: DirectCalls = DirectCalls::new();

    /// The output size of `g` along one axis: `(size + pad − k) / stride + 1`.
    fn out_size(size: usize, k: usize, stride: usize, pad: (usize, usize)) -> usize {
        (size + pad.0 + pad.1 - k) / stride + 1
    }

    /// The sizes of a dense convolution of `x` by `weight` (`c` is `Cin`).
    fn dims(x: &Shape, weight: &Shape, g: ConvGeometry) -> Dims {
        let (kh, kw) = (weight[2], weight[3]);
        Dims {
            n: x[0],
            c: x[1],
            h: x[2],
            w: x[3],
            kh,
            kw,
            ho: out_size(x[2], kh, g.stride[0], g.padding[0]),
            wo: out_size(x[3], kw, g.stride[1], g.padding[1]),
            sh: g.stride[0],
            sw: g.stride[1],
            pt: g.padding[0].0,
            pl: g.padding[1].0,
        }
    }

    /// Dense convolution and its two gradients as backend operations. The default bodies are
    /// burn's generic convolution ops (they serve autodiff's second order and dtypes without a
    /// direct kernel).
    #[backend_extension(Flex, Autodiff)]
    pub trait DenseConvBackend: Backend {
        /// `conv2d(x, weight)` with `g`'s stride and padding.
        fn dense_forward(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            g: ConvGeometry,
        ) -> FloatTensor<Self> {
            Self::conv2d(x, weight, None, g.options(1))
        }

        /// Gradient of the input `x` of [`dense_forward`](Self::dense_forward).
        fn dense_grad_x(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            grad: FloatTensor<Self>,
            g: ConvGeometry,
        ) -> FloatTensor<Self> {
            Self::conv2d_x_backward(x, weight, grad, g.options(1))
        }

        /// Gradient of the weight of [`dense_forward`](Self::dense_forward).
        fn dense_grad_w(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            grad: FloatTensor<Self>,
            g: ConvGeometry,
        ) -> FloatTensor<Self> {
            Self::conv2d_weight_backward(x, weight, grad, g.options(1))
        }
    }

    impl DenseConvBackend for Flex {
        fn dense_forward(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            g: ConvGeometry,
        ) -> FloatTensor<Self> {
            let direct = direct_f32(&x, &weight, &DIRECT_CALLS, |(xd, xs), (wd, ws)| {
                let d = dims(xd, wd, g);
                let cout = wd[0];
                let out = forward_f32(&d, cout, xs, ws);
                (out, Shape::from(vec![d.n, cout, d.ho, d.wo]))
            });
            direct.unwrap_or_else(|| Self::conv2d(x, weight, None, g.options(1)))
        }

        fn dense_grad_x(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            grad: FloatTensor<Self>,
            g: ConvGeometry,
        ) -> FloatTensor<Self> {
            let x_shape = x.shape();
            let direct = direct_f32(&weight, &grad, &DIRECT_CALLS, |(wd, ws), (_, gs)| {
                let d = dims(&x_shape, wd, g);
                (grad_x_f32(&d, wd[0], ws, gs), x_shape.clone())
            });
            direct.unwrap_or_else(|| Self::conv2d_x_backward(x, weight, grad, g.options(1)))
        }

        fn dense_grad_w(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            grad: FloatTensor<Self>,
            g: ConvGeometry,
        ) -> FloatTensor<Self> {
            let w_shape = weight.shape();
            let direct = direct_f32(&x, &grad, &DIRECT_CALLS, |(xd, xs), (_, gs)| {
                let d = dims(xd, &w_shape, g);
                (grad_w_f32(&d, w_shape[0], xs, gs), w_shape.clone())
            });
            direct.unwrap_or_else(|| Self::conv2d_weight_backward(x, weight, grad, g.options(1)))
        }
    }

    impl<B: Backend + DenseConvBackend, C: CheckpointStrategy> DenseConvBackend for Autodiff<B, C> {
        fn dense_forward(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            g: ConvGeometry,
        ) -> FloatTensor<Self> {
            WeightedOp {
                forward: B::dense_forward,
                grad_x: B::dense_grad_x,
                grad_weight: B::dense_grad_w,
            }
            .run::<C>(x, weight, g)
        }
    }

    /// How the images are split: `(images per task, gemm parallelism)`. With at least as many
    /// images as threads each thread takes an even share and runs its products on its own;
    /// with fewer (inference on a few images), the images run one after the other and each
    /// product uses every thread.
    fn split(n: usize) -> (usize, Parallelism) {
        let threads = rayon::current_num_threads().max(1);
        if n >= threads {
            (n.div_ceil(threads), Parallelism::None)
        } else {
            (n.max(1), Parallelism::Rayon(0))
        }
    }

    /// Whether `cols` of an image is the image itself: a 1×1 kernel, stride 1, no padding.
    fn is_identity_im2col(d: &Dims) -> bool {
        d.kh == 1 && d.kw == 1 && d.sh == 1 && d.sw == 1 && d.pt == 0 && d.pl == 0
    }

    /// Valid output columns of window column `j`, clamped to the output width.
    fn valid_cols(d: &Dims, j: usize) -> (usize, usize) {
        let (lo, hi) = d.cols(j);
        let lo = lo.min(d.wo);
        (lo, hi.min(d.wo).max(lo))
    }

    /// `cols[(c·kh + i)·kw + j][oh·wo + ow] = x[c][oh·sh + i − pt][ow·sw + j − pl]` for one
    /// image `x` (`[C, H, W]`), writing only the entries inside the image: the padding entries
    /// are the same for every image of a call, so `cols` is zeroed once when allocated and
    /// they stay 0 while the thread reuses it.
    fn im2col(d: &Dims, x: &[f32], cols: &mut [f32]) {
        let p = d.ho * d.wo;
        for c in 0..d.c {
            let plane = &x[c * d.h * d.w..(c + 1) * d.h * d.w];
            for i in 0..d.kh {
                for j in 0..d.kw {
                    let (lo, hi) = valid_cols(d, j);
                    if lo >= hi {
                        continue;
                    }
                    let row = &mut cols[((c * d.kh + i) * d.kw + j) * p..][..p];
                    for (oh, dst) in row.chunks_exact_mut(d.wo).enumerate() {
                        let Some(r) = d.row(oh, i) else { continue };
                        let xrow = &plane[r * d.w..(r + 1) * d.w];
                        // Input column of output column `lo` (inside the row by `valid_cols`).
                        let start = lo * d.sw + j - d.pl;
                        if d.sw == 1 {
                            dst[lo..hi].copy_from_slice(&xrow[start..start + (hi - lo)]);
                        } else {
                            let src = xrow[start..].iter().step_by(d.sw);
                            for (o, &v) in dst[lo..hi].iter_mut().zip(src) {
                                *o = v;
                            }
                        }
                    }
                }
            }
        }
    }

    /// Adds `cols` (laid out as [`im2col`]'s) back onto the image `gx` (`[C, H, W]`): the
    /// adjoint of [`im2col`].
    fn col2im(d: &Dims, cols: &[f32], gx: &mut [f32]) {
        let p = d.ho * d.wo;
        for c in 0..d.c {
            let plane = &mut gx[c * d.h * d.w..(c + 1) * d.h * d.w];
            for i in 0..d.kh {
                for j in 0..d.kw {
                    let (lo, hi) = valid_cols(d, j);
                    if lo >= hi {
                        continue;
                    }
                    let row = &cols[((c * d.kh + i) * d.kw + j) * p..][..p];
                    for (oh, src) in row.chunks_exact(d.wo).enumerate() {
                        let Some(r) = d.row(oh, i) else { continue };
                        let xrow = &mut plane[r * d.w..(r + 1) * d.w];
                        let start = lo * d.sw + j - d.pl;
                        if d.sw == 1 {
                            let dst = &mut xrow[start..start + (hi - lo)];
                            for (o, &v) in dst.iter_mut().zip(&src[lo..hi]) {
                                *o += v;
                            }
                        } else {
                            let dst = xrow[start..].iter_mut().step_by(d.sw);
                            for (o, &v) in dst.zip(&src[lo..hi]) {
                                *o += v;
                            }
                        }
                    }
                }
            }
        }
    }

    /// `dst[m × n] (+)= lhs[m × k] · rhs[k × n]`, each operand given by its row and column
    /// strides (so a transpose is a swap of strides). `accumulate` adds to `dst` instead of
    /// overwriting it.
    #[allow(clippy::too_many_arguments)]
    fn matmul(
        [m, n, k]: [usize; 3],
        dst: &mut [f32],
        [dst_rs, dst_cs]: [usize; 2],
        accumulate: bool,
        lhs: &[f32],
        [lhs_rs, lhs_cs]: [usize; 2],
        rhs: &[f32],
        [rhs_rs, rhs_cs]: [usize; 2],
        parallelism: Parallelism,
    ) {
        if m == 0 || n == 0 {
            return;
        }
        // The last element each operand's strides reach must lie inside its slice: this is
        // what makes the raw-pointer call below sound.
        let last = |rows: usize, cols: usize, rs: usize, cs: usize| {
            (rows.max(1) - 1) * rs + (cols.max(1) - 1) * cs
        };
        assert!(
            last(m, n, dst_rs, dst_cs) < dst.len(),
            "matmul: dst too short"
        );
        if k == 0 {
            if !accumulate {
                for r in 0..m {
                    for c in 0..n {
                        dst[r * dst_rs + c * dst_cs] = 0.0;
                    }
                }
            }
            return;
        }
        assert!(
            last(m, k, lhs_rs, lhs_cs) < lhs.len(),
            "matmul: lhs too short"
        );
        assert!(
            last(k, n, rhs_rs, rhs_cs) < rhs.len(),
            "matmul: rhs too short"
        );
        // SAFETY: the three slices are live for the call, `dst` is borrowed mutably (so it does
        // not alias `lhs` or `rhs`), and the asserts above bound every element the strides
        // address inside its slice.
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                dst.as_mut_ptr(),
                dst_cs as isize,
                dst_rs as isize,
                accumulate,
                lhs.as_ptr(),
                lhs_cs as isize,
                lhs_rs as isize,
                rhs.as_ptr(),
                rhs_cs as isize,
                rhs_rs as isize,
                1.0,
                1.0,
                false,
                false,
                false,
                parallelism,
            );
        }
    }

    /// `y[n] = W[Cout, K] · cols(x[n])`, images split between the threads.
    fn forward_f32(d: &Dims, cout: usize, x: &[f32], weight: &[f32]) -> Vec<f32> {
        let (k, p, image) = (d.c * d.kh * d.kw, d.ho * d.wo, d.c * d.h * d.w);
        let mut out = vec![0.0f32; d.n * cout * p];
        if out.is_empty() {
            return out;
        }
        let (per_task, parallelism) = split(d.n);
        let identity = is_identity_im2col(d);
        out.par_chunks_mut(per_task * cout * p)
            .zip(x.par_chunks(per_task * image))
            .for_each(|(ys, xs)| {
                let mut cols = if identity {
                    Vec::new()
                } else {
                    vec![0.0; k * p]
                };
                for (y, xn) in ys.chunks_exact_mut(cout * p).zip(xs.chunks_exact(image)) {
                    let cols: &[f32] = if identity {
                        xn
                    } else {
                        im2col(d, xn, &mut cols);
                        &cols
                    };
                    let (wm, cm) = ([k, 1], [p, 1]);
                    matmul(
                        [cout, p, k],
                        y,
                        [p, 1],
                        false,
                        weight,
                        wm,
                        cols,
                        cm,
                        parallelism,
                    );
                }
            });
        out
    }

    /// `grad_w = Σ_n grad[n][Cout, P] · cols(x[n])ᵀ`: each thread sums its images into its own
    /// buffer, then the buffers are added in order.
    fn grad_w_f32(d: &Dims, cout: usize, x: &[f32], grad: &[f32]) -> Vec<f32> {
        let (k, p, image) = (d.c * d.kh * d.kw, d.ho * d.wo, d.c * d.h * d.w);
        let size = cout * k;
        if d.n == 0 || p == 0 || size == 0 {
            return vec![0.0; size];
        }
        let (per_task, parallelism) = split(d.n);
        let identity = is_identity_im2col(d);
        grad.par_chunks(per_task * cout * p)
            .zip(x.par_chunks(per_task * image))
            .map(|(gs, xs)| {
                let mut acc = vec![0.0f32; size];
                let mut cols = if identity {
                    Vec::new()
                } else {
                    vec![0.0; k * p]
                };
                for (t, (g, xn)) in gs
                    .chunks_exact(cout * p)
                    .zip(xs.chunks_exact(image))
                    .enumerate()
                {
                    let cols: &[f32] = if identity {
                        xn
                    } else {
                        im2col(d, xn, &mut cols);
                        &cols
                    };
                    // colsᵀ: element (p, k) of the transpose is cols[k·P + p].
                    let (gm, ct) = ([p, 1], [1, p]);
                    matmul(
                        [cout, k, p],
                        &mut acc,
                        [k, 1],
                        t > 0,
                        g,
                        gm,
                        cols,
                        ct,
                        parallelism,
                    );
                }
                acc
            })
            .collect::<Vec<_>>()
            .into_iter()
            // In task order: rayon's own reduction would add three or more buffers in an
            // order that depends on which worker stole what.
            .reduce(|mut a, b| {
                for (x, y) in a.iter_mut().zip(b) {
                    *x += y;
                }
                a
            })
            .unwrap_or_else(|| vec![0.0; size])
    }

    /// `grad_x[n] = col2im(Wᵀ · grad[n])`, images split between the threads.
    fn grad_x_f32(d: &Dims, cout: usize, weight: &[f32], grad: &[f32]) -> Vec<f32> {
        let (k, p, image) = (d.c * d.kh * d.kw, d.ho * d.wo, d.c * d.h * d.w);
        let mut out = vec![0.0f32; d.n * image];
        if out.is_empty() || p == 0 {
            return out;
        }
        let (per_task, parallelism) = split(d.n);
        let identity = is_identity_im2col(d);
        out.par_chunks_mut(per_task * image)
            .zip(grad.par_chunks(per_task * cout * p))
            .for_each(|(gxs, gs)| {
                let mut cols = if identity {
                    Vec::new()
                } else {
                    vec![0.0; k * p]
                };
                for (gx, g) in gxs.chunks_exact_mut(image).zip(gs.chunks_exact(cout * p)) {
                    // Wᵀ: element (k, c) of the transpose is weight[c·K + k].
                    let (wt, gm) = ([1, k], [p, 1]);
                    if identity {
                        matmul(
                            [k, p, cout],
                            gx,
                            [p, 1],
                            false,
                            weight,
                            wt,
                            g,
                            gm,
                            parallelism,
                        );
                    } else {
                        matmul(
                            [k, p, cout],
                            &mut cols,
                            [p, 1],
                            false,
                            weight,
                            wt,
                            g,
                            gm,
                            parallelism,
                        );
                        col2im(d, &cols, gx);
                    }
                }
            });
        out
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// `matmul` with transposed strides against a plain triple loop.
        #[test]
        fn matmul_follows_the_strides() {
            let (m, n, k) = (3, 4, 5);
            let a: Vec<f32> = (0..m * k).map(|v| v as f32 * 0.5 - 2.0).collect(); // [m, k]
            let b: Vec<f32> = (0..n * k).map(|v| 1.0 - v as f32 * 0.25).collect(); // [n, k]
            let mut c = vec![1.0f32; m * n];
            // c += a · bᵀ
            matmul(
                [m, n, k],
                &mut c,
                [n, 1],
                true,
                &a,
                [k, 1],
                &b,
                [1, k],
                Parallelism::None,
            );
            for r in 0..m {
                for col in 0..n {
                    let want: f32 =
                        1.0 + (0..k).map(|t| a[r * k + t] * b[col * k + t]).sum::<f32>();
                    assert!((c[r * n + col] - want).abs() < 1e-4, "({r}, {col})");
                }
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

    /// Forward and both gradients of [`dense_conv`] against burn's `conv2d` on `device`.
    fn check(
        device: &Device,
        [n, cin, cout]: [usize; 3],
        [h, w]: [usize; 2],
        kernel: [usize; 2],
        g: ConvGeometry,
    ) {
        let what = format!("n {n} cin {cin} cout {cout} {h}x{w} kernel {kernel:?} {g:?}");
        let x = Tensor::<4>::random([n, cin, h, w], Distribution::Normal(0.0, 1.0), device);
        let weight = Tensor::<4>::random(
            [cout, cin, kernel[0], kernel[1]],
            Distribution::Normal(0.0, 1.0),
            device,
        );
        let (x1, w1) = (x.clone().require_grad(), weight.clone().require_grad());
        let (x2, w2) = (x.require_grad(), weight.require_grad());
        let y1 = dense_conv(x1.clone(), w1.clone(), g);
        let y2 = conv2d(x2.clone(), w2.clone(), None, g.options(1));
        assert_eq!(y1.dims(), y2.dims(), "{what}");
        let gy = Tensor::<4>::random(y2.dims(), Distribution::Normal(0.0, 1.0), device);
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

    fn same(p: usize) -> [(usize, usize); 2] {
        [(p, p), (p, p)]
    }

    #[test]
    fn matches_conv2d_forward_and_backward() {
        let device = Device::flex().autodiff();
        // The NAS-RL kernel sizes and strides, "same" padding, batches above and below the
        // thread count (the two ways the images are split).
        for n in [1, 5] {
            for k in [1, 3, 5, 7] {
                for s in [1, 2, 3] {
                    let g = ConvGeometry {
                        stride: [s, s],
                        padding: same(k / 2),
                    };
                    check(&device, [n, 3, 4], [9, 10], [k, k], g);
                }
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
            ([7, 1], [1, 1], [(3, 3), (0, 0)]),
            ([2, 2], [2, 2], [(0, 0), (0, 0)]),
        ];
        for (kernel, stride, padding) in cases {
            check(
                &device,
                [3, 4, 6],
                [9, 10],
                kernel,
                ConvGeometry { stride, padding },
            );
        }
    }

    #[test]
    fn dense_applies_conv2d_modules_as_they_are() {
        let device = Device::flex();
        let x = Tensor::<4>::random([2, 4, 9, 7], Distribution::Normal(0.0, 1.0), &device);
        let modules = [
            // dense, "same" padding that is uneven at stride 2
            Conv2dConfig::new([4, 6], [4, 4])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Same)
                .with_bias(false),
            // pointwise
            Conv2dConfig::new([4, 6], [1, 1]).with_bias(false),
            // explicit padding
            Conv2dConfig::new([4, 6], [3, 5])
                .with_padding(PaddingConfig2d::Explicit(1, 2, 0, 1))
                .with_bias(false),
            // not ours: bias, groups
            Conv2dConfig::new([4, 6], [3, 3]),
            Conv2dConfig::new([4, 6], [3, 3])
                .with_groups(2)
                .with_bias(false),
        ];
        for config in modules {
            let conv = config.init(&device);
            let e = rel_err(dense(&conv, x.clone()), conv.forward(x.clone()));
            assert!(e < 1e-5, "{config:?}: relative error {e}");
        }
    }

    #[cfg(feature = "flex")]
    #[test]
    fn flex_f32_tensors_take_the_direct_kernels() {
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::random([2, 3, 6, 6], Distribution::Normal(0.0, 1.0), &device)
            .require_grad();
        let w = Tensor::<4>::random([4, 3, 3, 3], Distribution::Normal(0.0, 1.0), &device)
            .require_grad();
        assert!(flex::applies(&x, &w));
        let before = flex::DIRECT_CALLS.count();
        let g = ConvGeometry {
            stride: [1, 1],
            padding: same(1),
        };
        let grads = dense_conv(x.clone(), w.clone(), g).sum().backward();
        assert!(x.grad(&grads).is_some() && w.grad(&grads).is_some());
        // Other tests run in parallel and may add calls too, hence "at least".
        let after = flex::DIRECT_CALLS.count();
        assert!(
            after >= before + 3,
            "the forward and both gradients should take the direct kernels ({before} → {after})"
        );
    }
}
