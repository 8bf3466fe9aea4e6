//! Per-channel mean / standard-deviation normalisation.

use serde::{Deserialize, Serialize};

use crate::ImageDataset;

/// The smallest standard deviation used, so a constant channel does not divide by zero.
pub const MIN_STD: f32 = 1e-6;

/// Per-channel mean and standard deviation, in `[0, 1]` pixel units (`pixel / 255`).
///
/// A batch is normalised as `(pixel / 255 - mean[c]) / std[c]`. Compute it from the
/// *training* split only, so validation and test data never leak into the preprocessing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    /// Mean of each channel.
    pub mean: Vec<f32>,
    /// Standard deviation of each channel.
    pub std: Vec<f32>,
}

impl Normalization {
    /// The mean and population standard deviation of each channel over every pixel of `ds`,
    /// with the standard deviation floored at [`MIN_STD`].
    ///
    /// Sums are exact integers, so the result is the exact statistic rounded once to `f32`.
    /// An empty dataset gives mean 0 and standard deviation 1 (the identity).
    pub fn from_dataset(ds: &ImageDataset) -> Normalization {
        let channels = ds.channels();
        let plane = ds.height() * ds.width();
        let mut sums = vec![0u128; channels];
        let mut squares = vec![0u128; channels];
        for i in 0..ds.len() {
            for (c, values) in ds.image(i).chunks_exact(plane).enumerate() {
                for &v in values {
                    let v = u128::from(v);
                    sums[c] += v;
                    squares[c] += v * v;
                }
            }
        }
        let n = (ds.len() * plane) as u128;
        if n == 0 {
            return Normalization::identity(channels);
        }
        let mut mean = Vec::with_capacity(channels);
        let mut std = Vec::with_capacity(channels);
        for c in 0..channels {
            mean.push((sums[c] as f64 / n as f64 / 255.0) as f32);
            // n²·var = n·Σv² − (Σv)², exact in integers (and never negative).
            let scaled_var = n * squares[c] - sums[c] * sums[c];
            let sd = (scaled_var as f64).sqrt() / n as f64 / 255.0;
            std.push((sd as f32).max(MIN_STD));
        }
        Normalization { mean, std }
    }

    /// Mean 0 and standard deviation 1 for `channels` channels: only the `/ 255` scaling.
    pub fn identity(channels: usize) -> Normalization {
        Normalization {
            mean: vec![0.0; channels],
            std: vec![1.0; channels],
        }
    }

    /// Number of channels described.
    pub fn channels(&self) -> usize {
        self.mean.len()
    }
}
