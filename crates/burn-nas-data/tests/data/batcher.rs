//! Batches as tensors: shapes, values, and each augmentation.

use burn::tensor::{DType, Device, Int, Tensor};
use burn_nas_data::{Augmentation, Batcher, DataError, ImageDataset, Normalization};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const SIDE: usize = 8;

/// Two 2-channel 8×8 images with distinct, asymmetric pixels: `(i, c, y, x) -> 1 + i·128 +
/// c·64 + y·8 + x` (never 0, so padding and flips are recognisable), labels 3 and 1.
fn dataset() -> ImageDataset {
    let mut pixels = Vec::new();
    for i in 0..2 {
        for c in 0..2 {
            for p in 0..SIDE * SIDE {
                pixels.push((1 + i * 128 + c * 64 + p) as u8);
            }
        }
    }
    ImageDataset::new("asym", pixels, vec![3, 1], 2, SIDE, SIDE, 4).unwrap()
}

fn floats(t: &Tensor<4>) -> Vec<f32> {
    t.to_data().iter::<f32>().collect()
}

fn batcher(norm: Normalization) -> Batcher {
    Batcher::new(norm, Device::flex())
}

/// The raw pixel a normalised value came from, under the identity normalisation.
fn pixel(v: f32) -> u8 {
    (v * 255.0).round() as u8
}

#[test]
fn batch_shapes_dtypes_and_labels() {
    let ds = dataset();
    let b = batcher(Normalization::from_dataset(&ds));
    let (images, labels): (Tensor<4>, Tensor<1, Int>) = b.batch(&ds, &[1, 0, 1], None).unwrap();
    assert_eq!(images.dims(), [3, 2, SIDE, SIDE]);
    assert_eq!(labels.dims(), [3]);
    assert_eq!(images.dtype(), DType::F32);
    assert!(labels.dtype().is_int(), "{:?}", labels.dtype());
    assert_eq!(
        labels.to_data().iter::<i64>().collect::<Vec<_>>(),
        vec![1, 3, 1]
    );
}

#[test]
fn batch_normalises_each_channel() {
    let ds = dataset();
    let norm = Normalization {
        mean: vec![0.1, 0.5],
        std: vec![0.5, 0.25],
    };
    let (images, _) = batcher(norm).batch(&ds, &[0, 1], None).unwrap();
    let v = floats(&images);
    let plane = SIDE * SIDE;
    // Image 0, channel 0, pixel (0, 0) is 1; image 1, channel 1, pixel (2, 3) is 1+128+64+19.
    let at = |i: usize, c: usize, y: usize, x: usize| v[(i * 2 + c) * plane + y * SIDE + x];
    assert!((at(0, 0, 0, 0) - (1.0 / 255.0 - 0.1) / 0.5).abs() < 1e-6);
    assert!((at(1, 1, 2, 3) - (212.0 / 255.0 - 0.5) / 0.25).abs() < 1e-6);
}

#[test]
fn batch_without_augmentation_is_deterministic_and_exact() {
    let ds = dataset();
    let b = batcher(Normalization::identity(2));
    let (a, _) = b.batch(&ds, &[0, 1], None).unwrap();
    let (again, _) = b.batch(&ds, &[0, 1], None).unwrap();
    assert_eq!(floats(&a), floats(&again));
    let raw: Vec<u8> = floats(&a).into_iter().map(pixel).collect();
    assert_eq!(raw, [ds.image(0), ds.image(1)].concat());
    // A disabled augmentation changes nothing and draws nothing.
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (none, _) = b
        .batch(&ds, &[0, 1], Some((&Augmentation::none(), &mut rng)))
        .unwrap();
    assert_eq!(floats(&none), floats(&a));
}

#[test]
fn pad_crop_shifts_the_image_with_black_borders_and_is_seeded() {
    let ds = dataset();
    let b = batcher(Normalization::identity(2));
    let aug = Augmentation {
        pad_crop: 2,
        horizontal_flip: false,
        cutout: 0,
    };
    let plain = floats(&b.batch(&ds, &[0], None).unwrap().0);
    let run = |seed: u64| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        floats(&b.batch(&ds, &[0], Some((&aug, &mut rng))).unwrap().0)
    };
    let mut changed = 0;
    for seed in 0..20 {
        let out = run(seed);
        assert_eq!(out, run(seed), "seed {seed} not reproducible");
        changed += usize::from(out != plain);
        // Some shift (dy, dx) in -2..=2 explains every pixel, out-of-image ones being black.
        let explained = (-2i64..=2).any(|dy| {
            (-2i64..=2).any(|dx| {
                (0..2).all(|c| {
                    (0..SIDE as i64).all(|y| {
                        (0..SIDE as i64).all(|x| {
                            let (sy, sx) = (y + dy, x + dx);
                            let inside =
                                (0..SIDE as i64).contains(&sy) && (0..SIDE as i64).contains(&sx);
                            let expected = if inside {
                                ds.image(0)[c * SIDE * SIDE + sy as usize * SIDE + sx as usize]
                            } else {
                                0
                            };
                            pixel(out[c * SIDE * SIDE + (y * SIDE as i64 + x) as usize]) == expected
                        })
                    })
                })
            })
        });
        assert!(
            explained,
            "seed {seed}: output is not a padded shift of the input"
        );
    }
    assert!(changed > 10, "only {changed} of 20 seeds moved the image");
}

#[test]
fn flip_mirrors_left_to_right() {
    let ds = dataset();
    let b = batcher(Normalization::identity(2));
    let aug = Augmentation {
        pad_crop: 0,
        horizontal_flip: true,
        cutout: 0,
    };
    let plain: Vec<u8> = floats(&b.batch(&ds, &[1], None).unwrap().0)
        .into_iter()
        .map(pixel)
        .collect();
    let mirror: Vec<u8> = plain
        .chunks(SIDE)
        .flat_map(|row| row.iter().rev().copied())
        .collect();
    assert_ne!(plain, mirror);
    let (mut flipped, mut kept) = (0, 0);
    for seed in 0..20 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let out: Vec<u8> = floats(&b.batch(&ds, &[1], Some((&aug, &mut rng))).unwrap().0)
            .into_iter()
            .map(pixel)
            .collect();
        if out == mirror {
            flipped += 1;
        } else {
            assert_eq!(out, plain, "seed {seed}: neither the image nor its mirror");
            kept += 1;
        }
    }
    assert!(flipped > 0 && kept > 0, "flipped {flipped}, kept {kept}");
}

#[test]
fn cutout_zeroes_a_square_in_normalised_space() {
    // All pixels 0 normalise to -2 (mean 0.5, std 0.25), so only cutout produces 0.0.
    let ds =
        ImageDataset::new("black", vec![0; 2 * SIDE * SIDE], vec![0], 2, SIDE, SIDE, 1).unwrap();
    let norm = Normalization {
        mean: vec![0.5, 0.5],
        std: vec![0.25, 0.25],
    };
    let b = batcher(norm);
    let aug = Augmentation {
        pad_crop: 0,
        horizontal_flip: false,
        cutout: 4,
    };
    let mut full_squares = 0;
    for seed in 0..30 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let out = floats(&b.batch(&ds, &[0], Some((&aug, &mut rng))).unwrap().0);
        assert!(out.iter().all(|&v| v == 0.0 || v == -2.0), "seed {seed}");
        let (ch0, ch1) = out.split_at(SIDE * SIDE);
        assert_eq!(ch0, ch1, "seed {seed}: both channels share one square");
        let zeros: Vec<(usize, usize)> = (0..SIDE * SIDE)
            .filter(|&p| ch0[p] == 0.0)
            .map(|p| (p / SIDE, p % SIDE))
            .collect();
        assert!(!zeros.is_empty(), "seed {seed}: nothing cut");
        // The zeros form a filled rectangle at most 4×4 (a square clipped at the border).
        let (y0, y1) = (
            zeros.iter().map(|z| z.0).min().unwrap(),
            zeros.iter().map(|z| z.0).max().unwrap(),
        );
        let (x0, x1) = (
            zeros.iter().map(|z| z.1).min().unwrap(),
            zeros.iter().map(|z| z.1).max().unwrap(),
        );
        assert!(y1 - y0 < 4 && x1 - x0 < 4, "seed {seed}: {zeros:?}");
        assert_eq!(
            zeros.len(),
            (y1 - y0 + 1) * (x1 - x0 + 1),
            "seed {seed}: not a rectangle"
        );
        full_squares += usize::from(zeros.len() == 16);
    }
    assert!(full_squares > 0, "no unclipped 4×4 square in 30 seeds");
}

#[test]
fn augmentation_constructors() {
    assert!(Augmentation::none().is_none());
    assert!(!Augmentation::enas().is_none());
    assert_eq!(
        Augmentation::enas(),
        Augmentation {
            pad_crop: 4,
            horizontal_flip: true,
            cutout: 0
        }
    );
    assert_eq!(Augmentation::default(), Augmentation::none());
}

#[test]
fn batch_rejects_bad_requests() {
    let ds = dataset();
    let b = batcher(Normalization::identity(2));
    for (indices, field) in [(&[][..], "indices"), (&[0, 2][..], "indices")] {
        let err = b.batch(&ds, indices, None).unwrap_err();
        assert!(
            matches!(err, DataError::InvalidSetting { field: f, .. } if f == field),
            "{err:?}"
        );
    }
    let err = batcher(Normalization::identity(3))
        .batch(&ds, &[0], None)
        .unwrap_err();
    assert!(
        matches!(
            err,
            DataError::InvalidSetting {
                field: "normalization",
                ..
            }
        ),
        "{err:?}"
    );
    let zero_std = Normalization {
        mean: vec![0.0, 0.0],
        std: vec![1.0, 0.0],
    };
    let err = batcher(zero_std).batch(&ds, &[0], None).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::InvalidSetting {
                field: "normalization",
                ..
            }
        ),
        "{err:?}"
    );
}
