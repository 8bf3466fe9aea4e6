//! What the direct flex window kernels (dense and depthwise convolution, pooling) share: their
//! tensors' `f32` data, running a kernel on two of them, and which output columns and rows of a strided, padded window lie inside the
//! image.

use burn::backend::Flex;
#[cfg(test)]
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{DispatchDevice, TensorMetadata};
use burn::tensor::{DType, Shape, Tensor, TensorData};

/// Whether `t` is an `f32` tensor on a flex device (plain or autodiff): what the direct kernels
/// take.
pub(super) fn on_flex_f32(t: &Tensor<4>) -> bool {
    matches!(t.device().inner().as_dispatch(), DispatchDevice::Flex(_)) && t.dtype() == DType::F32
}

/// Contiguous `f32` data of a flex tensor; `None` for other dtypes (their callers fall back to
/// burn's ops).
pub(super) fn f32_data(t: &FloatTensor<Flex>) -> Option<FloatTensor<Flex>> {
    (t.dtype() == DType::F32).then(|| t.to_contiguous())
}

/// Runs a direct `f32` kernel on two flex tensors of one device: `kernel` gets each one's
/// shape and contiguous values and returns the output's values and shape, a tensor on their
/// device; the call is counted in `calls`. `None` when either is not `f32`, and the caller
/// falls back to burn's op.
pub(super) fn direct_f32(
    a: &FloatTensor<Flex>,
    b: &FloatTensor<Flex>,
    calls: &DirectCalls,
    kernel: impl FnOnce((&Shape, &[f32]), (&Shape, &[f32])) -> (Vec<f32>, Shape),
) -> Option<FloatTensor<Flex>> {
    let (ac, bc) = (f32_data(a)?, f32_data(b)?);
    let (a_shape, b_shape) = (ac.shape(), bc.shape());
    let (a_values, b_values) = (ac.as_slice::<f32>()?, bc.as_slice::<f32>()?);
    calls.record();
    let (out, shape) = kernel((&a_shape, a_values), (&b_shape, b_values));
    Some(Flex::float_from_data(
        TensorData::new(out, shape),
        &a.device(),
    ))
}

/// Sizes of one windowed op on `n × c` planes: input `h × w`, window `kh × kw`, output
/// `ho × wo`, stride `sh, sw`, padding before `pt` (rows) and `pl` (columns).
pub(super) struct Dims {
    pub(super) n: usize,
    pub(super) c: usize,
    pub(super) h: usize,
    pub(super) w: usize,
    pub(super) kh: usize,
    pub(super) kw: usize,
    pub(super) ho: usize,
    pub(super) wo: usize,
    pub(super) sh: usize,
    pub(super) sw: usize,
    pub(super) pt: usize,
    pub(super) pl: usize,
}

// `#[inline]`: the kernels call these in their innermost loops, from other modules (other
// codegen units, where they would not be inlined otherwise).
impl Dims {
    /// Output columns `ow` whose input column `ow·sw + j − pl` lies in `[0, w)`, as a range.
    #[inline]
    pub(super) fn cols(&self, j: usize) -> (usize, usize) {
        // ow·sw + j ≥ pl  and  ow·sw + j − pl ≤ w − 1
        let lo = self.pl.saturating_sub(j).div_ceil(self.sw);
        let hi = if self.w + self.pl > j {
            ((self.w + self.pl - j - 1) / self.sw + 1).min(self.wo)
        } else {
            0
        };
        (lo, hi.max(lo))
    }

    /// Input row of output row `oh` and window row `i`, if inside the image.
    #[inline]
    pub(super) fn row(&self, oh: usize, i: usize) -> Option<usize> {
        (oh * self.sh + i)
            .checked_sub(self.pt)
            .filter(|&r| r < self.h)
    }

    /// The valid column ranges of every window column `j`.
    #[inline]
    pub(super) fn all_cols(&self) -> Vec<(usize, usize)> {
        (0..self.kw).map(|j| self.cols(j)).collect()
    }
}

/// How often a direct kernel ran, counted in test builds only (elsewhere [`record`] is free),
/// so tests can tell the direct kernels from the fallback to burn's ops: with a silent
/// fallback, the tests comparing results with burn's ops would still pass.
///
/// [`record`]: DirectCalls::record
pub(super) struct DirectCalls {
    #[cfg(test)]
    calls: AtomicUsize,
}

impl DirectCalls {
    pub(super) const fn new() -> DirectCalls {
        DirectCalls {
            #[cfg(test)]
            calls: AtomicUsize::new(0),
        }
    }

    /// Counts one call.
    #[inline]
    pub(super) fn record(&self) {
        #[cfg(test)]
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    /// Calls so far (tests of one binary run in parallel: compare with "at least").
    #[cfg(test)]
    pub(super) fn count(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }
}

/// `acc[t] = src[t]·k + acc[t]` over two runs of equal length: a multiply, then an add (never
/// fused, so that every path gives the same bits as flex's scalar kernels). Compiled for AVX2
/// as well as the baseline target, and picked at run time: the library does not set
/// `target-cpu`, and the baseline's 4-wide SSE2 halves the throughput of these runs.
#[inline]
pub(super) fn scale_add(acc: &mut [f32], src: &[f32], k: f32) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        unsafe { scale_add_avx2(acc, src, k) };
        return;
    }
    scale_add_body(acc, src, k);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn scale_add_avx2(acc: &mut [f32], src: &[f32], k: f32) {
    scale_add_body(acc, src, k);
}

#[inline(always)]
fn scale_add_body(acc: &mut [f32], src: &[f32], k: f32) {
    for (a, &v) in acc.iter_mut().zip(src) {
        *a += v * k;
    }
}
