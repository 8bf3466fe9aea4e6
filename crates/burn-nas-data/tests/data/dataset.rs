//! Building, splitting, subsetting, downscaling and normalising datasets; epoch batches.

use crate::common;

use burn_nas_data::{DataError, ImageDataset, LastBatch, Normalization, epoch_batches};
use common::flat_dataset;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[test]
fn new_checks_lengths_labels_and_dimensions() {
    let ok = ImageDataset::new("ok", vec![0; 2 * 3 * 4 * 5], vec![0, 1], 3, 4, 5, 2).unwrap();
    assert_eq!(
        (
            ok.len(),
            ok.channels(),
            ok.height(),
            ok.width(),
            ok.classes()
        ),
        (2, 3, 4, 5, 2)
    );
    assert!(!ok.is_empty());

    let err = ImageDataset::new("short", vec![0; 59], vec![0, 1], 3, 4, 5, 2).unwrap_err();
    assert!(matches!(err, DataError::BadShape { .. }), "{err:?}");
    assert!(err.to_string().contains("short"), "{err}");

    let err = ImageDataset::new("labels", vec![0; 2], vec![0, 2], 1, 1, 1, 2).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::LabelOutOfRange {
                index: 1,
                label: 2,
                ..
            }
        ),
        "{err:?}"
    );

    let err = ImageDataset::new("zero", vec![], vec![], 1, 0, 1, 2).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::InvalidSetting {
                field: "height",
                ..
            }
        ),
        "{err:?}"
    );

    let empty = ImageDataset::new("empty", vec![], vec![], 1, 2, 2, 3).unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.class_counts(), vec![0, 0, 0]);
}

#[test]
fn split_last_follows_the_enas_convention() {
    let ds = flat_dataset(10, 2, 10, |i| i as u8 * 10, |i| i as u8);
    let (train, valid) = ds.split_last(3).unwrap();
    assert_eq!(train.labels(), &[0, 1, 2, 3, 4, 5, 6]);
    assert_eq!(valid.labels(), &[7, 8, 9]);
    assert_eq!(train.image(6), &[60; 4]);
    assert_eq!(valid.image(0), &[70; 4]);
    assert_eq!(valid.image(2), &[90; 4]);

    let (all, none) = ds.split_last(0).unwrap();
    assert_eq!((all.len(), none.len()), (10, 0));
    for too_many in [10, 11] {
        let err = ds.split_last(too_many).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::InvalidSetting {
                    field: "validation",
                    ..
                }
            ),
            "{err:?}"
        );
    }
}

#[test]
fn subset_picks_in_order_and_rejects_bad_indices() {
    let ds = flat_dataset(5, 2, 5, |i| i as u8, |i| i as u8);
    let sub = ds.subset(&[4, 0, 4]).unwrap();
    assert_eq!(sub.labels(), &[4, 0, 4]);
    assert_eq!(sub.image(1), &[0; 4]);
    let err = ds.subset(&[1, 5]).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::InvalidSetting {
                field: "indices",
                ..
            }
        ),
        "{err:?}"
    );
}

/// 100 images, 4 classes of 25 each, interleaved; pixel = index so images are traceable.
fn four_classes() -> ImageDataset {
    flat_dataset(100, 1, 4, |i| i as u8, |i| (i % 4) as u8)
}

#[test]
fn balanced_subset_keeps_class_proportions_and_order() {
    let ds = four_classes();
    let sub = ds.balanced_subset(0.2, 7).unwrap();
    assert_eq!(sub.class_counts(), vec![5, 5, 5, 5]);
    // Original order: the traceable pixels (= original index) increase.
    let origin: Vec<u8> = (0..sub.len()).map(|i| sub.image(i)[0]).collect();
    assert!(origin.windows(2).all(|w| w[0] < w[1]), "{origin:?}");
    // And every kept image keeps its own label.
    for (i, &o) in origin.iter().enumerate() {
        assert_eq!(sub.label(i), o % 4);
    }
    assert_eq!(ds.balanced_subset(1.0, 7).unwrap().labels(), ds.labels());
}

#[test]
fn balanced_subset_is_seeded() {
    let ds = four_classes();
    let a = ds.balanced_subset(0.2, 1).unwrap();
    assert_eq!(a, ds.balanced_subset(0.2, 1).unwrap());
    assert_ne!(a.pixels(), ds.balanced_subset(0.2, 2).unwrap().pixels());
}

#[test]
fn balanced_subset_keeps_one_of_each_present_class() {
    // Class 0: 50 images, class 1: 2, class 2: none.
    let ds = flat_dataset(52, 1, 3, |i| i as u8, |i| u8::from(i >= 50));
    let sub = ds.balanced_subset(0.1, 3).unwrap();
    assert_eq!(sub.class_counts(), vec![5, 1, 0]);
}

#[test]
fn balanced_subset_rejects_fractions_outside_0_1() {
    let ds = four_classes();
    for fraction in [0.0, -0.5, 1.5, f64::NAN] {
        let err = ds.balanced_subset(fraction, 0).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::InvalidSetting {
                    field: "fraction",
                    ..
                }
            ),
            "{fraction}: {err:?}"
        );
    }
}

#[test]
fn downscale_32_to_16_averages_2x2_blocks() {
    // Two channels of a hand-made 32×32 image of hashed pixel values (second channel inverted)
    // whose 2×2 block sums hit every remainder mod 4, so rounding is tested too.
    let side = 32;
    let value = |c: usize, y: usize, x: usize| {
        let v = (((y * 32 + x) as u64 * 2_654_435_761) >> 13) % 256;
        if c == 0 { v as u8 } else { 255 - v as u8 }
    };
    let mut pixels = Vec::new();
    for c in 0..2 {
        for y in 0..side {
            for x in 0..side {
                pixels.push(value(c, y, x));
            }
        }
    }
    let ds = ImageDataset::new("img", pixels, vec![1], 2, side, side, 2).unwrap();
    let small = ds.downscale(16).unwrap();
    assert_eq!(
        (small.channels(), small.height(), small.width(), small.len()),
        (2, 16, 16, 1)
    );
    assert_eq!(small.labels(), &[1]);
    let mut remainders = [0; 4];
    for c in 0..2 {
        for y in 0..16 {
            for x in 0..16 {
                let sum: u32 = [(0, 0), (0, 1), (1, 0), (1, 1)]
                    .iter()
                    .map(|&(dy, dx)| u32::from(value(c, 2 * y + dy, 2 * x + dx)))
                    .sum();
                remainders[(sum % 4) as usize] += 1;
                let expected = ((sum + 2) / 4) as u8; // round half up
                assert_eq!(
                    small.image(0)[c * 256 + y * 16 + x],
                    expected,
                    "c{c} y{y} x{x}"
                );
            }
        }
    }
    assert!(remainders.iter().all(|&n| n > 0), "{remainders:?}");
}

#[test]
fn downscale_non_integer_factor_weights_partial_pixels() {
    // 3 pixels -> 2: cell 0 = (2·a + 1·b) / 3, cell 1 = (1·b + 2·c) / 3 per axis.
    let ds = ImageDataset::new(
        "img",
        vec![30, 60, 90, 30, 60, 90, 30, 60, 90],
        vec![0],
        1,
        3,
        3,
        1,
    )
    .unwrap();
    let small = ds.downscale(2).unwrap();
    assert_eq!(small.image(0), &[40, 80, 40, 80]);
    assert_eq!(ds.downscale(3).unwrap().image(0), ds.image(0));
    for size in [0, 4] {
        let err = ds.downscale(size).unwrap_err();
        assert!(
            matches!(err, DataError::InvalidSetting { field: "size", .. }),
            "{err:?}"
        );
    }
}

#[test]
fn normalization_is_the_exact_per_channel_mean_and_std() {
    // Channel 0 holds 0 and 255 equally often: mean 0.5, std 0.5.
    // Channel 1 holds 51 everywhere: mean 0.2, std 0 (floored to 1e-6).
    let image = |bright: bool| {
        let mut v = vec![if bright { 255 } else { 0 }; 4];
        v.extend([51u8; 4]);
        v
    };
    let pixels = [image(true), image(false), image(true), image(false)].concat();
    let ds = ImageDataset::new("n", pixels, vec![0; 4], 2, 2, 2, 1).unwrap();
    let norm = Normalization::from_dataset(&ds);
    assert_eq!(norm.mean, vec![0.5, 0.2]);
    assert_eq!(norm.std, vec![0.5, 1e-6]);

    // Known small case: values 1, 2, 3, 4 (×255⁻¹): mean 2.5, population std √1.25.
    let ds = ImageDataset::new("m", vec![1, 2, 3, 4], vec![0], 1, 2, 2, 1).unwrap();
    let norm = Normalization::from_dataset(&ds);
    assert_eq!(norm.mean, vec![(2.5f64 / 255.0) as f32]);
    assert_eq!(norm.std, vec![(1.25f64.sqrt() / 255.0) as f32]);
}

#[test]
fn epoch_batches_in_order_and_keep_last() {
    let batches = epoch_batches(10, 4, None, LastBatch::Keep).unwrap();
    assert_eq!(
        batches,
        vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]
    );
    let batches = epoch_batches(10, 4, None, LastBatch::Drop).unwrap();
    assert_eq!(batches, vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7]]);
    assert!(
        epoch_batches(3, 4, None, LastBatch::Drop)
            .unwrap()
            .is_empty()
    );
    assert_eq!(epoch_batches(8, 4, None, LastBatch::Drop).unwrap().len(), 2);
    assert!(
        epoch_batches(0, 4, None, LastBatch::Keep)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn epoch_batches_shuffle_covers_every_index_once_and_is_seeded() {
    let shuffled = |seed: u64| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        epoch_batches(103, 10, Some(&mut rng), LastBatch::Keep).unwrap()
    };
    let a = shuffled(5);
    assert_eq!(a.len(), 11);
    assert!(a[..10].iter().all(|b| b.len() == 10));
    assert_eq!(a[10].len(), 3);
    let mut all: Vec<usize> = a.concat();
    assert_ne!(all, (0..103).collect::<Vec<_>>(), "not shuffled");
    all.sort_unstable();
    assert_eq!(all, (0..103).collect::<Vec<_>>());
    assert_eq!(a, shuffled(5));
    assert_ne!(a, shuffled(6));

    // Consecutive epochs from one generator differ.
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let first = epoch_batches(103, 10, Some(&mut rng), LastBatch::Drop).unwrap();
    let second = epoch_batches(103, 10, Some(&mut rng), LastBatch::Drop).unwrap();
    assert_ne!(first, second);
    assert_eq!(first.concat().len(), 100);
}

#[test]
fn epoch_batch_size_zero_is_invalid() {
    let err = epoch_batches(10, 0, None, LastBatch::Keep).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::InvalidSetting {
                field: "batch_size",
                ..
            }
        ),
        "{err:?}"
    );
}
