//! The IDX format of MNIST, Fashion-MNIST, KMNIST and friends, plain or gzipped.
//!
//! An IDX file is a big-endian `u32` magic number (`0x0000_08NN`: unsigned bytes, `NN`
//! dimensions), one big-endian `u32` per dimension, then the bytes.

use std::path::Path;

use crate::dataset::check_labels;
use crate::files::read_maybe_gzip;
use crate::{DataError, ImageDataset};

/// Magic number of an IDX file of `u8` images (3 dimensions: count, rows, columns).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of `u8` labels (1 dimension: count).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// `(pixels, count, rows, cols)` from an IDX images file, plain or gzipped (recognised by
/// its content, not its name). Pixels are the images one after another, row-major.
///
/// Errors: [`DataError::Missing`], [`DataError::Io`] (also for a corrupt gzip stream),
/// [`DataError::BadMagic`], [`DataError::Truncated`] when the file is shorter than its
/// header says, [`DataError::BadShape`] for zero rows or columns or bytes past the end.
pub fn read_images(path: &Path) -> Result<(Vec<u8>, usize, usize, usize), DataError> {
    parse_images(path, read_maybe_gzip(path)?)
}

/// The labels of an IDX labels file, plain or gzipped.
///
/// Errors: as [`read_images`].
pub fn read_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    parse_labels(path, read_maybe_gzip(path)?)
}

/// A one-channel dataset named `name` from an IDX images file and its labels file.
///
/// Errors: those of [`read_images`] and [`read_labels`], [`DataError::CountMismatch`] when
/// the files hold different numbers of items, [`DataError::LabelOutOfRange`] (naming the
/// labels file) for a label `>= classes`, [`DataError::InvalidSetting`] when `classes` is 0.
pub fn load_pair(
    name: &str,
    images: &Path,
    labels: &Path,
    classes: usize,
) -> Result<ImageDataset, DataError> {
    if classes == 0 {
        return Err(DataError::invalid("classes", "must be at least 1"));
    }
    let (pixels, count, rows, cols) = read_images(images)?;
    let label_bytes = read_labels(labels)?;
    build(
        name,
        images,
        labels,
        (pixels, count, rows, cols),
        label_bytes,
        classes,
    )
}

/// Checks decoded images and labels against each other and makes the dataset.
pub(crate) fn build(
    name: &str,
    images_path: &Path,
    labels_path: &Path,
    (pixels, count, rows, cols): (Vec<u8>, usize, usize, usize),
    labels: Vec<u8>,
    classes: usize,
) -> Result<ImageDataset, DataError> {
    if count != labels.len() {
        return Err(DataError::CountMismatch {
            images: images_path.to_path_buf(),
            labels: labels_path.to_path_buf(),
            image_count: count,
            label_count: labels.len(),
        });
    }
    check_labels(labels_path, &labels, classes)?;
    ImageDataset::new(name, pixels, labels, 1, rows, cols, classes)
}

/// Images from the (decompressed) bytes of an IDX images file; `path` labels errors.
pub(crate) fn parse_images(
    path: &Path,
    bytes: Vec<u8>,
) -> Result<(Vec<u8>, usize, usize, usize), DataError> {
    let dims = header(path, &bytes, IMAGES_MAGIC, 3)?;
    let (count, rows, cols) = (dims[0], dims[1], dims[2]);
    if rows == 0 || cols == 0 {
        return Err(DataError::BadShape {
            path: path.to_path_buf(),
            reason: format!("images of {rows}×{cols} pixels have no pixels"),
        });
    }
    let body = body(path, bytes, 16, &dims)?;
    Ok((body, count as usize, rows as usize, cols as usize))
}

/// Labels from the (decompressed) bytes of an IDX labels file; `path` labels errors.
pub(crate) fn parse_labels(path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>, DataError> {
    let dims = header(path, &bytes, LABELS_MAGIC, 1)?;
    body(path, bytes, 8, &dims)
}

/// Checks the magic number and returns the `ndim` dimensions that follow it.
fn header(path: &Path, bytes: &[u8], magic: u32, ndim: usize) -> Result<Vec<u64>, DataError> {
    let header_len = 4 * (1 + ndim);
    let word = |k: usize| -> Option<u32> {
        let b = bytes.get(4 * k..4 * k + 4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let truncated = || DataError::Truncated {
        path: path.to_path_buf(),
        expected: header_len as u64,
        found: bytes.len() as u64,
    };
    let found = word(0).ok_or_else(truncated)?;
    if found != magic {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            found,
            expected: magic,
        });
    }
    (1..=ndim)
        .map(|k| word(k).map(u64::from).ok_or_else(truncated))
        .collect()
}

/// The data after a `header_len`-byte header, which must be exactly the product of `dims`.
fn body(
    path: &Path,
    mut bytes: Vec<u8>,
    header_len: usize,
    dims: &[u64],
) -> Result<Vec<u8>, DataError> {
    // Garbage headers can describe more than u64 bytes; saturating still compares correctly
    // ("needs more than exists") and nothing is allocated from the header.
    let expected = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .and_then(|n| n.checked_add(header_len as u64))
        .unwrap_or(u64::MAX);
    let found = bytes.len() as u64;
    if found < expected {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected,
            found,
        });
    }
    if found > expected {
        return Err(DataError::BadShape {
            path: path.to_path_buf(),
            reason: format!(
                "{} bytes after the end of the data its header describes ({expected} bytes)",
                found - expected
            ),
        });
    }
    bytes.drain(..header_len);
    Ok(bytes)
}
