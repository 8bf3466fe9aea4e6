//! Image datasets for [burn-nas](https://crates.io/crates/burn-nas): reading, splitting,
//! augmenting and batching the small benchmarks architecture search is run on.
//!
//! * **Reading**: [`cifar10`] (the binary distribution), [`idx`] (MNIST-style files, plain or
//!   gzipped) and [`fashion_mnist`], which finds the full set on disk or falls back to a
//!   6,000 / 1,000-image subset compiled into the crate, so examples run with no download.
//!   Broken files give a [`DataError`] naming the file and the problem.
//! * **Splitting**: [`ImageDataset::split_last`] (the ENAS validation convention),
//!   [`ImageDataset::balanced_subset`] and [`ImageDataset::downscale`] for cheap
//!   low-fidelity estimates.
//! * **Batching**: [`epoch_batches`] yields seeded index lists; a [`Batcher`] turns them into
//!   normalised `[n, C, H, W]` tensors with optional [`Augmentation`] (pad-and-crop, flip,
//!   cutout).
//!
//! ```
//! use burn::tensor::Device;
//! use burn_nas_data::{epoch_batches, fashion_mnist, Augmentation, Batcher, LastBatch, Normalization};
//! use rand::SeedableRng;
//!
//! let (train, _test) = fashion_mnist::load_embedded()?;
//! let (train, valid) = train.split_last(1_000)?;
//! let batcher = Batcher::new(Normalization::from_dataset(&train), Device::flex());
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
//! let augmentation = Augmentation::enas();
//! let batches = epoch_batches(train.len(), 64, Some(&mut rng), LastBatch::Drop)?;
//! let (images, labels) = batcher.batch(&train, &batches[0], Some((&augmentation, &mut rng)))?;
//! assert_eq!(images.dims(), [64, 1, 28, 28]);
//! assert_eq!(labels.dims(), [64]);
//! assert_eq!(valid.len(), 1_000);
//! # Ok::<(), burn_nas_data::DataError>(())
//! ```

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod augment;
mod batcher;
pub mod cifar10;
mod dataset;
mod epoch;
mod error;
pub mod fashion_mnist;
mod files;
pub mod idx;
mod normalization;
mod resize;
mod split;

pub use augment::Augmentation;
pub use batcher::Batcher;
pub use dataset::ImageDataset;
pub use epoch::{LastBatch, epoch_batches};
pub use error::DataError;
pub use normalization::{MIN_STD, Normalization};
