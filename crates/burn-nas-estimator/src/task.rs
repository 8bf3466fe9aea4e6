//! [`Task`]: the labelled data an architecture is judged on.

use std::sync::Arc;

use burn_nas_data::{ImageDataset, Normalization};

use crate::error::{Result, invalid};

/// Training and validation data (and optionally test data) for one classification task, with
/// the normalisation computed from the training split.
#[derive(Debug, Clone)]
pub struct Task {
    /// Images the children are trained on.
    pub train: Arc<ImageDataset>,
    /// Images the reward is measured on.
    pub valid: Arc<ImageDataset>,
    /// Held-out images for reporting only (retraining).
    pub test: Option<Arc<ImageDataset>>,
    /// Per-channel normalisation from the training split.
    pub normalization: Normalization,
}

impl Task {
    /// A task from its splits; normalisation is computed from `train`.
    ///
    /// # Errors
    /// `InvalidSetting` when a split is empty or the splits' shapes or class counts differ.
    pub fn new(
        train: ImageDataset,
        valid: ImageDataset,
        test: Option<ImageDataset>,
    ) -> Result<Task> {
        for (name, ds) in [("train", &train), ("valid", &valid)]
            .into_iter()
            .chain(test.as_ref().map(|t| ("test", t)))
        {
            if ds.is_empty() {
                return Err(invalid("task", format!("the {name} split is empty")));
            }
            if (ds.channels(), ds.height(), ds.width(), ds.classes())
                != (
                    train.channels(),
                    train.height(),
                    train.width(),
                    train.classes(),
                )
            {
                return Err(invalid(
                    "task",
                    format!(
                        "the {name} split is {}×{}×{} with {} classes, the training split {}×{}×{} with {}",
                        ds.channels(),
                        ds.height(),
                        ds.width(),
                        ds.classes(),
                        train.channels(),
                        train.height(),
                        train.width(),
                        train.classes()
                    ),
                ));
            }
        }
        let normalization = Normalization::from_dataset(&train);
        Ok(Task {
            train: Arc::new(train),
            valid: Arc::new(valid),
            test: test.map(Arc::new),
            normalization,
        })
    }

    /// A task from a training set whose last `validation` images validate (ENAS convention).
    ///
    /// # Errors
    /// As [`ImageDataset::split_last`] and [`Task::new`].
    pub fn split(
        train: ImageDataset,
        validation: usize,
        test: Option<ImageDataset>,
    ) -> Result<Task> {
        let (train, valid) = train.split_last(validation)?;
        Task::new(train, valid, test)
    }

    /// Image channels.
    pub fn channels(&self) -> usize {
        self.train.channels()
    }

    /// Image height (= width for the built-in networks).
    pub fn image_size(&self) -> usize {
        self.train.height()
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.train.classes()
    }

    /// The same task at lower fidelity: a class-balanced `fraction` of the training split
    /// (seeded) and images downscaled to `image_size`. Normalisation is recomputed.
    ///
    /// # Errors
    /// As [`ImageDataset::balanced_subset`] and [`ImageDataset::downscale`].
    pub fn reduced(&self, fraction: f64, image_size: Option<usize>, seed: u64) -> Result<Task> {
        let mut train = if fraction < 1.0 {
            self.train.balanced_subset(fraction, seed)?
        } else {
            (*self.train).clone()
        };
        let mut valid = (*self.valid).clone();
        let mut test = self.test.as_deref().cloned();
        if let Some(size) = image_size.filter(|&s| s != self.image_size()) {
            train = train.downscale(size)?;
            valid = valid.downscale(size)?;
            test = test.map(|t| t.downscale(size)).transpose()?;
        }
        Task::new(train, valid, test)
    }
}
