//! Turning dataset indices into normalised, optionally augmented tensors.

use burn::tensor::{Device, Int, Tensor, TensorData};
use rand_chacha::ChaCha8Rng;

use crate::augment::Draw;
use crate::dataset::check_indices;
use crate::{Augmentation, DataError, ImageDataset, Normalization};

/// Builds ready-to-use minibatch tensors from an [`ImageDataset`].
///
/// The normalisation is fixed at construction: compute it once from the training split
/// ([`Normalization::from_dataset`]) and use the same batcher for training, validation and
/// test batches.
#[derive(Debug, Clone)]
pub struct Batcher {
    normalization: Normalization,
    device: Device,
}

impl Batcher {
    /// A batcher that normalises with `normalization` and puts tensors on `device`.
    pub fn new(normalization: Normalization, device: Device) -> Self {
        Batcher {
            normalization,
            device,
        }
    }

    /// The device tensors are created on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The normalisation applied to every batch.
    pub fn normalization(&self) -> &Normalization {
        &self.normalization
    }

    /// Images `[n, C, H, W]` (float, `(pixel / 255 − mean) / std`) and labels `[n]` (int) for
    /// the images at `indices`, in that order.
    ///
    /// With `augment`, each image gets its own random pad-and-crop, flip and cutout drawn from
    /// the generator in index order, so the same seed gives the same batch. Without it the
    /// result depends on the indices alone.
    ///
    /// Errors: [`DataError::InvalidSetting`] when `indices` is empty or holds an index out of
    /// range, or when the normalisation does not have one positive finite std per channel of
    /// `ds`.
    pub fn batch(
        &self,
        ds: &ImageDataset,
        indices: &[usize],
        augment: Option<(&Augmentation, &mut ChaCha8Rng)>,
    ) -> Result<(Tensor<4>, Tensor<1, Int>), DataError> {
        if indices.is_empty() {
            return Err(DataError::invalid(
                "indices",
                "a batch needs at least one image",
            ));
        }
        check_indices(indices, ds.len())?;
        self.check_normalization(ds)?;

        let (c, h, w) = (ds.channels(), ds.height(), ds.width());
        let mut images = Vec::with_capacity(indices.len() * ds.image_len());
        let mut labels = Vec::with_capacity(indices.len());
        let mut augment = augment.filter(|(aug, _)| !aug.is_none());
        for &i in indices {
            let draw = match augment.as_mut() {
                Some((aug, rng)) => aug.draw(&mut **rng, h, w),
                None => Draw::identity(),
            };
            self.push_image(&mut images, ds.image(i), &draw, c, h, w);
            labels.push(i64::from(ds.label(i)));
        }

        let n = indices.len();
        let images = Tensor::<4>::from_data(TensorData::new(images, [n, c, h, w]), &self.device);
        let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [n]), &self.device);
        Ok((images, labels))
    }

    /// Appends one augmented, normalised C×H×W image to `out`.
    fn push_image(
        &self,
        out: &mut Vec<f32>,
        image: &[u8],
        draw: &Draw,
        c: usize,
        h: usize,
        w: usize,
    ) {
        for ch in 0..c {
            let plane = &image[ch * h * w..(ch + 1) * h * w];
            let (mean, std) = (self.normalization.mean[ch], self.normalization.std[ch]);
            for oy in 0..h {
                for ox in 0..w {
                    let pixel = draw
                        .source(oy, ox, h, w)
                        .map_or(0, |(y, x)| plane[y * w + x]);
                    out.push((f32::from(pixel) / 255.0 - mean) / std);
                }
            }
            // Cutout zeroes in normalised space (DARTS applies it after `Normalize`), so a cut
            // pixel reads as "average" rather than "black".
            if let Some((rows, cols)) = &draw.cutout {
                let start = out.len() - h * w;
                for y in rows.clone() {
                    out[start + y * w + cols.start..start + y * w + cols.end].fill(0.0);
                }
            }
        }
    }

    /// Checks the normalisation fits `ds` and cannot produce infinities.
    fn check_normalization(&self, ds: &ImageDataset) -> Result<(), DataError> {
        let norm = &self.normalization;
        if norm.mean.len() != ds.channels() || norm.std.len() != ds.channels() {
            return Err(DataError::invalid(
                "normalization",
                format!(
                    "{} means and {} stds for the {} channels of `{}`",
                    norm.mean.len(),
                    norm.std.len(),
                    ds.channels(),
                    ds.name()
                ),
            ));
        }
        if let Some(bad) = norm.std.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return Err(DataError::invalid(
                "normalization",
                format!("standard deviation {bad} is not positive and finite"),
            ));
        }
        if let Some(bad) = norm.mean.iter().find(|m| !m.is_finite()) {
            return Err(DataError::invalid(
                "normalization",
                format!("mean {bad} is not finite"),
            ));
        }
        Ok(())
    }
}
