//! The one error type of the crate.

use std::path::PathBuf;

/// Everything that can go wrong while reading, checking or batching image data.
///
/// Every variant about a file names that file, so a message alone tells the user which
/// download is broken. Datasets built in memory ([`ImageDataset::new`](crate::ImageDataset::new))
/// report their *name* in the `path` field instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file exists but could not be read (permissions, I/O failure, corrupt gzip stream).
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file being read.
        path: PathBuf,
        /// What the operating system (or the gzip decoder) reported.
        source: std::io::Error,
    },

    /// The file (or directory) does not exist.
    #[error("{}: file not found", path.display())]
    Missing {
        /// The path that was looked for.
        path: PathBuf,
    },

    /// An IDX file starts with the wrong magic number (wrong file, or images and labels swapped).
    #[error("{}: bad IDX magic number 0x{found:08x}, expected 0x{expected:08x}", path.display())]
    BadMagic {
        /// The file being read.
        path: PathBuf,
        /// The magic number in the file.
        found: u32,
        /// The magic number this reader needs.
        expected: u32,
    },

    /// The file is shorter than its header (or format) says it must be.
    #[error("{}: truncated: expected {expected} bytes, found {found}", path.display())]
    Truncated {
        /// The file being read.
        path: PathBuf,
        /// Bytes the file must hold (after gzip decompression, for gzipped files).
        expected: u64,
        /// Bytes it holds.
        found: u64,
    },

    /// An images file and its labels file disagree on the number of items.
    #[error(
        "{} holds {image_count} images but {} holds {label_count} labels",
        images.display(),
        labels.display()
    )]
    CountMismatch {
        /// The images file.
        images: PathBuf,
        /// The labels file.
        labels: PathBuf,
        /// Images in the images file.
        image_count: usize,
        /// Labels in the labels file.
        label_count: usize,
    },

    /// A label is not below the number of classes.
    #[error(
        "{}: label {label} of item {index} is out of range for {classes} classes",
        path.display()
    )]
    LabelOutOfRange {
        /// The file (or in-memory dataset name) holding the label.
        path: PathBuf,
        /// Position of the offending item.
        index: usize,
        /// The label found.
        label: u8,
        /// The number of classes allowed.
        classes: usize,
    },

    /// The file's size or header cannot describe a valid set of images.
    #[error("{}: {reason}", path.display())]
    BadShape {
        /// The file (or in-memory dataset name).
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A setting or argument that cannot work (batch size 0, validation split too large, ...).
    #[error("invalid {field}: {reason}")]
    InvalidSetting {
        /// The setting or argument.
        field: &'static str,
        /// Why it is impossible.
        reason: String,
    },
}

impl DataError {
    /// Shorthand for [`DataError::InvalidSetting`].
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        DataError::InvalidSetting {
            field,
            reason: reason.into(),
        }
    }
}
