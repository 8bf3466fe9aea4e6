//! Helpers shared by the integration tests: writing small CIFAR-10 and IDX files.

#![allow(dead_code)] // each test binary uses a different part

use std::io::Write;
use std::path::{Path, PathBuf};

use burn_nas_data::ImageDataset;

/// Bytes of one CIFAR-10 image.
pub const CIFAR_IMAGE: usize = 3 * 32 * 32;

/// A fresh temporary directory, removed when dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("create a temporary directory")
}

/// A deterministic CIFAR-10 image: pixel `p` of image `seed` is `(seed * 31 + p * 7) % 256`.
pub fn cifar_pixels(seed: usize) -> Vec<u8> {
    (0..CIFAR_IMAGE)
        .map(|p| ((seed * 31 + p * 7) % 256) as u8)
        .collect()
}

/// CIFAR-10 binary records for the given `(label, pixels)` pairs.
pub fn cifar_records(images: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (label, pixels) in images {
        out.push(*label);
        out.extend_from_slice(pixels);
    }
    out
}

/// Writes `bytes` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write test file");
    path
}

/// An IDX images file (magic 0x803) with the given header counts and body.
pub fn idx_images(count: u32, rows: u32, cols: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for word in [0x0000_0803u32, count, rows, cols] {
        out.extend_from_slice(&word.to_be_bytes());
    }
    out.extend_from_slice(body);
    out
}

/// An IDX labels file (magic 0x801) with the given header count and labels.
pub fn idx_labels(count: u32, labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for word in [0x0000_0801u32, count] {
        out.extend_from_slice(&word.to_be_bytes());
    }
    out.extend_from_slice(labels);
    out
}

/// `bytes` gzip-compressed.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip in memory");
    encoder.finish().expect("gzip in memory")
}

/// A one-channel `side`×`side` dataset whose image `i` is all `pixel(i)` and label `label(i)`.
pub fn flat_dataset(
    n: usize,
    side: usize,
    classes: usize,
    pixel: impl Fn(usize) -> u8,
    label: impl Fn(usize) -> u8,
) -> ImageDataset {
    let mut pixels = Vec::new();
    for i in 0..n {
        pixels.extend(std::iter::repeat_n(pixel(i), side * side));
    }
    let labels = (0..n).map(label).collect();
    ImageDataset::new("test", pixels, labels, 1, side, side, classes).expect("valid test dataset")
}
