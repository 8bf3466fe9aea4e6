//! Splitting a dataset: a fixed validation tail and class-balanced random fractions.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::{DataError, ImageDataset};

impl ImageDataset {
    /// `(train, valid)`: train is every image but the last `validation`, valid is the last
    /// `validation`, both in the original order.
    ///
    /// This is the ENAS convention (its CIFAR-10 reader holds out the last 5,000 training
    /// images), so results are comparable with the paper. `validation == 0` gives an empty
    /// validation set.
    ///
    /// Errors: [`DataError::InvalidSetting`] when `validation >= len()` (no training data left).
    pub fn split_last(&self, validation: usize) -> Result<(ImageDataset, ImageDataset), DataError> {
        if validation >= self.len() {
            return Err(DataError::invalid(
                "validation",
                format!(
                    "{validation} validation images leave no training images in `{}` ({} images)",
                    self.name(),
                    self.len()
                ),
            ));
        }
        let cut = self.len() - validation;
        let bytes = cut * self.image_len();
        let (train_pixels, valid_pixels) = self.pixels().split_at(bytes);
        let (train_labels, valid_labels) = self.labels().split_at(cut);
        Ok((
            self.with_data(
                format!("{}-train", self.name()),
                train_pixels.to_vec(),
                train_labels.to_vec(),
            ),
            self.with_data(
                format!("{}-valid", self.name()),
                valid_pixels.to_vec(),
                valid_labels.to_vec(),
            ),
        ))
    }

    /// A random `fraction` of every class, for cheap low-fidelity estimates that keep the
    /// class balance of the full set.
    ///
    /// Each class present keeps `round(fraction × count)` images, at least one. Which ones is
    /// decided by `seed` alone (same seed, same subset); the kept images stay in their
    /// original order.
    ///
    /// Errors: [`DataError::InvalidSetting`] when `fraction` is not in `(0, 1]`.
    pub fn balanced_subset(&self, fraction: f64, seed: u64) -> Result<ImageDataset, DataError> {
        if !(fraction > 0.0 && fraction <= 1.0) {
            return Err(DataError::invalid(
                "fraction",
                format!("{fraction} is not in (0, 1]"),
            ));
        }
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); self.classes()];
        for (i, &label) in self.labels().iter().enumerate() {
            by_class[usize::from(label)].push(i);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut keep = Vec::new();
        for members in by_class.iter().filter(|m| !m.is_empty()) {
            // Rounding (not flooring) so that e.g. 0.29 × 100 keeps 29 despite float error.
            let wanted = (fraction * members.len() as f64).round() as usize;
            let amount = wanted.clamp(1, members.len());
            let chosen = rand::seq::index::sample(&mut rng, members.len(), amount);
            keep.extend(chosen.iter().map(|j| members[j]));
        }
        keep.sort_unstable();
        let mut out = self.subset(&keep)?;
        out.rename(format!("{}-{fraction}", self.name()));
        Ok(out)
    }
}
