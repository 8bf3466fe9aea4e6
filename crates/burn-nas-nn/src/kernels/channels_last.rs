//! Depthwise convolution on small planes, computed channels-last.
//!
//! On the 7×7 and 3×3 planes of a search's last stages a plane holds fewer values than a
//! vector register and a 5×5 window is mostly padding: the plane-at-a-time kernels
//! ([`super::depthwise`]) spend their time on loop and call overhead, not arithmetic. Here
//! each image is transposed to `[H·W, C]`, so that every tap of every output position is one
//! multiply-add across the channels (a contiguous run of `C` values with one weight per
//! channel), and transposed back.
//!
//! Every sum is formed in exactly the order of the plane-at-a-time kernels — the forward in
//! flex's order (each output's taps row by row, left to right, from zero, no fused
//! multiply-add), the input gradient in the row kernel's (output rows ascending, then window
//! rows and columns), the weight gradient as `f32` sums along an output row added to `f64`
//! accumulators image by image and row by row — so the results are the same values (unit
//! tests compare them exactly).

use rayon::prelude::*;

use super::plane::Dims;

/// `acc[c] += a[c] · b[c]` for every lane `c` (product rounded, then added: never fused).
///
/// AVX2 is picked at run time, as for [`super::plane::scale_add`].
#[inline(always)]
fn mul_add_lanes(acc: &mut [f32], a: &[f32], b: &[f32]) {
    for ((x, &u), &v) in acc.iter_mut().zip(a).zip(b) {
        *x += u * v;
    }
}

/// `fn $name(args)`: `$body(args)` compiled for AVX2 when the CPU has it (the library sets no
/// `target-cpu`, and the baseline's SSE2 halves these loops' throughput), else as is.
macro_rules! avx2_dispatch {
    ($name:ident => $body:ident ($($arg:ident: $ty:ty),* $(,)?)) => {
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) {
                    $body($($arg),*)
                }
                // SAFETY: the CPU supports AVX2 (checked just above).
                return unsafe { avx2($($arg),*) };
            }
            $body($($arg),*)
        }
    };
}

/// Writes the `rows × cols` matrix `src` into `out` as `cols × rows`: an image `[C, hw]`
/// channels-last and back, a weight `[C, taps]` taps first and back.
fn transpose_into(src: &[f32], (rows, cols): (usize, usize), out: &mut [f32]) {
    if cols == 0 {
        return;
    }
    for (r, row) in src.chunks_exact(cols).enumerate().take(rows) {
        for (col, &v) in row.iter().enumerate() {
            out[col * rows + r] = v;
        }
    }
}

/// The weight `[C, taps]` as `[taps, C]`: tap `t`'s weights of every channel side by side.
fn taps_first(weight: &[f32], c: usize, taps: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; c * taps];
    transpose_into(weight, (c, taps), &mut out);
    out
}

/// The depthwise convolution `[N, C, H, W] → [N, C, ho, wo]` of `d`, any stride and padding;
/// one image per task.
pub(super) fn forward(d: &Dims, x: &[f32], weight: &[f32]) -> Vec<f32> {
    let k = taps_first(weight, d.c, d.kh * d.kw);
    let cols = d.all_cols();
    per_image(d, x, (d.h * d.w, d.ho * d.wo), |xl, ol| {
        forward_image(d, &cols, &k, xl, ol)
    })
}

/// The input gradient `[N, C, H, W]` of [`forward`] from the output gradient `grad`; one
/// image per task.
pub(super) fn grad_x(d: &Dims, weight: &[f32], grad: &[f32]) -> Vec<f32> {
    let k = taps_first(weight, d.c, d.kh * d.kw);
    let cols = d.all_cols();
    per_image(d, grad, (d.ho * d.wo, d.h * d.w), |gl, xl| {
        grad_x_image(d, &cols, &k, gl, xl)
    })
}

/// `[N, C, to]` from `src` `[N, C, from]`, one image per task: the image channels-last
/// (`[from, C]`) and a zeroed `[to, C]` buffer go to `image`, and the buffer comes back
/// channels-first.
fn per_image(
    d: &Dims,
    src: &[f32],
    (from, to): (usize, usize),
    image: impl Fn(&[f32], &mut [f32]) + Sync,
) -> Vec<f32> {
    let c = d.c;
    let mut out = vec![0.0f32; d.n * c * to];
    if out.is_empty() || from == 0 {
        return out;
    }
    out.par_chunks_mut(c * to).enumerate().for_each_init(
        || (vec![0.0f32; from * c], vec![0.0f32; to * c]),
        |(input, output), (n, o)| {
            transpose_into(&src[n * c * from..(n + 1) * c * from], (c, from), input);
            output.fill(0.0);
            image(input, output);
            transpose_into(output, (to, c), o);
        },
    );
    out
}

/// Whether [`grad_w`] sums as the row kernel does for `d`: that kernel's stride-1 row sums run
/// eight lanes at a time from eight values on, and [`grad_w`] only forms the plain sums of
/// shorter rows (and of every strided row).
pub(super) fn grad_w_fits(d: &Dims) -> bool {
    d.sw != 1 || d.wo < 8
}

/// The weight gradient `[C, 1, kh, kw]` of [`forward`]: for every tap, the products along each
/// output row summed in `f32` (one image per task), then those row sums added to an `f64`
/// accumulator per channel and tap, image by image and row by row. Only for `d` where
/// [`grad_w_fits`].
pub(super) fn grad_w(d: &Dims, x: &[f32], grad: &[f32]) -> Vec<f32> {
    let (c, hw, out_hw, taps) = (d.c, d.h * d.w, d.ho * d.wo, d.kh * d.kw);
    let mut out = vec![0.0f32; c * taps];
    if out.is_empty() || d.n * out_hw == 0 || hw == 0 {
        return out;
    }
    let cols = d.all_cols();
    // Row sums `[n][oh][tap][C]`; `present` marks those the row kernel adds (not those of a
    // window row or column wholly in the padding).
    let row_sums = d.ho * taps * c;
    let mut sums = vec![0.0f32; d.n * row_sums];
    let mut present = vec![false; d.ho * taps];
    for oh in 0..d.ho {
        for i in 0..d.kh {
            if d.row(oh, i).is_none() {
                continue;
            }
            for (j, &(lo, hi)) in cols.iter().enumerate() {
                present[oh * taps + i * d.kw + j] = lo < hi;
            }
        }
    }
    sums.par_chunks_mut(row_sums).enumerate().for_each_init(
        || (vec![0.0f32; hw * c], vec![0.0f32; out_hw * c]),
        |(xl, gl), (n, s)| {
            transpose_into(&x[n * c * hw..(n + 1) * c * hw], (c, hw), xl);
            transpose_into(&grad[n * c * out_hw..(n + 1) * c * out_hw], (c, out_hw), gl);
            row_sums_image(d, &cols, xl, gl, s);
        },
    );
    // The f64 accumulation, in the row kernel's order for each channel and tap: image by
    // image, row by row. One tap per task.
    let mut acc = vec![0.0f64; taps * c];
    acc.par_chunks_mut(c).enumerate().for_each(|(t, a)| {
        for n in 0..d.n {
            for oh in 0..d.ho {
                if !present[oh * taps + t] {
                    continue;
                }
                let s = &sums[n * row_sums + (oh * taps + t) * c..][..c];
                for (a, &v) in a.iter_mut().zip(s) {
                    *a += f64::from(v);
                }
            }
        }
    });
    let acc: Vec<f32> = acc.into_iter().map(|v| v as f32).collect();
    transpose_into(&acc, (taps, c), &mut out);
    out
}

avx2_dispatch!(forward_image => forward_image_body(
    d: &Dims,
    cols: &[(usize, usize)],
    k: &[f32],
    xl: &[f32],
    ol: &mut [f32],
));

/// One image of [`forward`], channels-last: `xl` `[H·W, C]` into `ol` `[ho·wo, C]` (zeroed).
/// Each output's taps arrive row by row, left to right: flex's order.
#[inline(always)]
fn forward_image_body(d: &Dims, cols: &[(usize, usize)], k: &[f32], xl: &[f32], ol: &mut [f32]) {
    let c = d.c;
    for_each_window_pair(d, cols, |tap, out, input| {
        mul_add_lanes(
            &mut ol[out * c..][..c],
            &xl[input * c..][..c],
            &k[tap * c..][..c],
        );
    });
}

avx2_dispatch!(grad_x_image => grad_x_image_body(
    d: &Dims,
    cols: &[(usize, usize)],
    k: &[f32],
    gl: &[f32],
    xl: &mut [f32],
));

/// One image of [`grad_x`], channels-last: `gl` `[ho·wo, C]` into `xl` `[H·W, C]` (zeroed).
/// An input's terms arrive by output row, then window row and column: the row kernel's order.
#[inline(always)]
fn grad_x_image_body(d: &Dims, cols: &[(usize, usize)], k: &[f32], gl: &[f32], xl: &mut [f32]) {
    let c = d.c;
    for_each_window_pair(d, cols, |tap, out, input| {
        mul_add_lanes(
            &mut xl[input * c..][..c],
            &gl[out * c..][..c],
            &k[tap * c..][..c],
        );
    });
}

/// Calls `pair(tap, output position, input position)` for every tap of every output position
/// whose input lies inside the image, by output row, then window row, window column and output
/// column: the order both [`forward_image_body`] and [`grad_x_image_body`] must add in.
#[inline(always)]
fn for_each_window_pair(
    d: &Dims,
    cols: &[(usize, usize)],
    mut pair: impl FnMut(usize, usize, usize),
) {
    for oh in 0..d.ho {
        for i in 0..d.kh {
            let Some(r) = d.row(oh, i) else { continue };
            for (j, &(lo, hi)) in cols.iter().enumerate() {
                for ow in lo..hi {
                    pair(i * d.kw + j, oh * d.wo + ow, r * d.w + ow * d.sw + j - d.pl);
                }
            }
        }
    }
}

avx2_dispatch!(row_sums_image => row_sums_image_body(
    d: &Dims,
    cols: &[(usize, usize)],
    xl: &[f32],
    gl: &[f32],
    sums: &mut [f32],
));

/// One image's row sums of [`grad_w`], channels-last: for every output row and tap, the
/// products along the row summed as the row kernel sums them, into `sums` `[ho][tap][C]`.
#[inline(always)]
fn row_sums_image_body(
    d: &Dims,
    cols: &[(usize, usize)],
    xl: &[f32],
    gl: &[f32],
    sums: &mut [f32],
) {
    let (c, taps) = (d.c, d.kh * d.kw);
    for oh in 0..d.ho {
        for i in 0..d.kh {
            let Some(r) = d.row(oh, i) else { continue };
            for (j, &(lo, hi)) in cols.iter().enumerate() {
                if lo >= hi {
                    continue;
                }
                let acc = &mut sums[(oh * taps + i * d.kw + j) * c..][..c];
                // The row kernel's sums start from −0.0 (`Iterator::sum`)...
                acc.fill(-0.0);
                for ow in lo..hi {
                    let col = ow * d.sw + j - d.pl;
                    mul_add_lanes(
                        acc,
                        &gl[(oh * d.wo + ow) * c..][..c],
                        &xl[(r * d.w + col) * c..][..c],
                    );
                }
                // ... and at stride 1 are added to its eight empty lanes' +0.0.
                if d.sw == 1 {
                    for v in acc.iter_mut() {
                        *v += 0.0;
                    }
                }
            }
        }
    }
}
