//! CIFAR-10 in its binary distribution (`cifar-10-binary.tar.gz`, extracted).

use std::path::{Path, PathBuf};

use crate::dataset::check_labels;
use crate::files::read_file;
use crate::{DataError, ImageDataset};

/// Image side in pixels.
pub const SIDE: usize = 32;
/// Colour channels (red, green, blue planes).
pub const CHANNELS: usize = 3;
/// Number of classes.
pub const CLASSES: usize = 10;
/// Bytes in one record: a label byte, then 3 × 32 × 32 pixel bytes (channel-major).
pub const RECORD_LEN: usize = 1 + CHANNELS * SIDE * SIDE;
/// Class names, indexed by label.
pub const CLASS_NAMES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];
/// The subdirectory the official archive extracts to.
pub const ARCHIVE_DIR: &str = "cifar-10-batches-bin";
/// The five training batch files, in order.
pub const TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
/// The test batch file.
pub const TEST_FILE: &str = "test_batch.bin";

/// One CIFAR-10 binary batch file: records of 1 label byte + 3,072 pixel bytes (C×H×W,
/// 3×32×32), as many as the file holds.
///
/// Errors: [`DataError::Missing`], [`DataError::Io`], [`DataError::BadShape`] when the file is
/// empty or its size is not a multiple of 3,073, [`DataError::LabelOutOfRange`] for a label
/// above 9.
pub fn read_batch(path: &Path) -> Result<ImageDataset, DataError> {
    let bytes = read_file(path)?;
    if bytes.is_empty() || bytes.len() % RECORD_LEN != 0 {
        return Err(DataError::BadShape {
            path: path.to_path_buf(),
            reason: format!(
                "{} bytes is not a whole number of CIFAR-10 records of {RECORD_LEN} bytes",
                bytes.len()
            ),
        });
    }
    let count = bytes.len() / RECORD_LEN;
    let mut labels = Vec::with_capacity(count);
    let mut pixels = Vec::with_capacity(count * (RECORD_LEN - 1));
    for record in bytes.chunks_exact(RECORD_LEN) {
        labels.push(record[0]);
        pixels.extend_from_slice(&record[1..]);
    }
    check_labels(path, &labels, CLASSES)?;
    let name = path.file_stem().map_or_else(
        || "cifar10".to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    ImageDataset::new(name, pixels, labels, CHANNELS, SIDE, SIDE, CLASSES)
}

/// `(train, test)`: `data_batch_1.bin` … `data_batch_5.bin` concatenated in order (50,000
/// images), and `test_batch.bin` (10,000).
///
/// The files may be directly in `dir` or in `dir/cifar-10-batches-bin/` (where the official
/// archive extracts them). Errors: those of [`read_batch`]; a missing file is reported at
/// its path in `dir` unless the archive subdirectory exists.
pub fn load(dir: &Path) -> Result<(ImageDataset, ImageDataset), DataError> {
    let dir = locate(dir)?;
    let parts = TRAIN_FILES
        .iter()
        .map(|file| read_batch(&dir.join(file)))
        .collect::<Result<Vec<_>, _>>()?;
    let train = ImageDataset::concat("cifar10-train", parts)?;
    let mut test = read_batch(&dir.join(TEST_FILE))?;
    test.rename("cifar10-test".to_string());
    log::info!(
        "CIFAR-10 from {}: {} training and {} test images",
        dir.display(),
        train.len(),
        test.len()
    );
    Ok((train, test))
}

/// The directory that holds the batch files: `dir` itself or its archive subdirectory.
fn locate(dir: &Path) -> Result<PathBuf, DataError> {
    if !dir.is_dir() {
        return Err(DataError::Missing {
            path: dir.to_path_buf(),
        });
    }
    let nested = dir.join(ARCHIVE_DIR);
    if !dir.join(TRAIN_FILES[0]).exists() && nested.is_dir() {
        Ok(nested)
    } else {
        Ok(dir.to_path_buf())
    }
}
