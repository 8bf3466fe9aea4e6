//! The in-memory image dataset every loader produces.

use std::path::Path;

use crate::DataError;

/// Labelled images held as raw bytes: one `u8` per pixel and channel, each image stored
/// channel-major (C×H×W) and the images stored one after another.
///
/// Keeping `u8` rather than `f32` uses a quarter of the memory (CIFAR-10 is 150 MB instead of
/// 600 MB) and leaves normalisation and augmentation to the [`Batcher`](crate::Batcher), which
/// does both per minibatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageDataset {
    name: String,
    pixels: Vec<u8>,
    labels: Vec<u8>,
    channels: usize,
    height: usize,
    width: usize,
    classes: usize,
}

impl ImageDataset {
    /// A dataset from raw C×H×W bytes and one label per image.
    ///
    /// Errors: [`DataError::InvalidSetting`] when a dimension or `classes` is zero,
    /// [`DataError::BadShape`] when `pixels.len()` is not `labels.len() × C × H × W`, and
    /// [`DataError::LabelOutOfRange`] when a label is `>= classes`. Both data errors name the
    /// dataset (`name`) in their `path` field.
    pub fn new(
        name: impl Into<String>,
        pixels: Vec<u8>,
        labels: Vec<u8>,
        channels: usize,
        height: usize,
        width: usize,
        classes: usize,
    ) -> Result<Self, DataError> {
        let name = name.into();
        for (field, value) in [
            ("channels", channels),
            ("height", height),
            ("width", width),
            ("classes", classes),
        ] {
            if value == 0 {
                return Err(DataError::invalid(
                    field,
                    format!("dataset `{name}`: must be at least 1"),
                ));
            }
        }
        let image_len = channels
            .checked_mul(height)
            .and_then(|n| n.checked_mul(width))
            .ok_or_else(|| DataError::invalid("channels", "C × H × W overflows usize"))?;
        let expected = labels.len().checked_mul(image_len);
        if expected != Some(pixels.len()) {
            return Err(DataError::BadShape {
                path: name.into(),
                reason: format!(
                    "{} pixel bytes do not make {} images of {channels}×{height}×{width}",
                    pixels.len(),
                    labels.len()
                ),
            });
        }
        check_labels(Path::new(&name), &labels, classes)?;
        Ok(ImageDataset {
            name,
            pixels,
            labels,
            channels,
            height,
            width,
            classes,
        })
    }

    /// The name given at construction (e.g. `"cifar10-train"`), used in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Channels per image (3 for CIFAR-10, 1 for MNIST-like data).
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Image height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Image width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Number of classes; every label is below it.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Bytes in one image: channels × height × width.
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// The C×H×W bytes of image `i`.
    ///
    /// # Panics
    /// When `i >= len()`, like slice indexing.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_len();
        &self.pixels[i * n..(i + 1) * n]
    }

    /// The label of image `i`.
    ///
    /// # Panics
    /// When `i >= len()`, like slice indexing.
    pub fn label(&self, i: usize) -> u8 {
        self.labels[i]
    }

    /// All labels, in image order.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// All pixel bytes: the images one after another, each C×H×W.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// Images per class: entry `c` counts the images labelled `c`; length [`classes`](Self::classes).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes];
        for &label in &self.labels {
            counts[usize::from(label)] += 1;
        }
        counts
    }

    /// A new dataset holding the images at `indices`, in that order (repeats allowed).
    ///
    /// Errors: [`DataError::InvalidSetting`] when an index is `>= len()`.
    pub fn subset(&self, indices: &[usize]) -> Result<ImageDataset, DataError> {
        check_indices(indices, self.len())?;
        let n = self.image_len();
        let mut pixels = Vec::with_capacity(indices.len() * n);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            pixels.extend_from_slice(self.image(i));
            labels.push(self.labels[i]);
        }
        Ok(self.with_data(self.name.clone(), pixels, labels))
    }

    /// A dataset with this one's shape and classes but other contents.
    ///
    /// Callers guarantee the contents match the shape, so no check is repeated.
    pub(crate) fn with_data(&self, name: String, pixels: Vec<u8>, labels: Vec<u8>) -> ImageDataset {
        ImageDataset {
            name,
            pixels,
            labels,
            channels: self.channels,
            height: self.height,
            width: self.width,
            classes: self.classes,
        }
    }

    /// Sets height and width; the caller has already replaced the pixels to match.
    pub(crate) fn set_shape(&mut self, height: usize, width: usize) {
        self.height = height;
        self.width = width;
    }

    /// Gives the dataset another name.
    pub(crate) fn rename(&mut self, name: String) {
        self.name = name;
    }

    /// Images of `parts` one after another, under a new name.
    ///
    /// Errors: [`DataError::BadShape`] (naming the odd part) when shapes or classes differ,
    /// [`DataError::InvalidSetting`] when `parts` is empty.
    pub(crate) fn concat(name: &str, parts: Vec<ImageDataset>) -> Result<ImageDataset, DataError> {
        let mut iter = parts.into_iter();
        let mut out = iter
            .next()
            .ok_or_else(|| DataError::invalid("parts", "nothing to concatenate"))?;
        out.name = name.to_string();
        for part in iter {
            let same = (part.channels, part.height, part.width, part.classes)
                == (out.channels, out.height, out.width, out.classes);
            if !same {
                return Err(DataError::BadShape {
                    path: part.name.into(),
                    reason: format!(
                        "images are {}×{}×{} with {} classes, unlike the {}×{}×{} with {} classes before it",
                        part.channels,
                        part.height,
                        part.width,
                        part.classes,
                        out.channels,
                        out.height,
                        out.width,
                        out.classes
                    ),
                });
            }
            out.pixels.extend_from_slice(&part.pixels);
            out.labels.extend_from_slice(&part.labels);
        }
        Ok(out)
    }
}

/// Checks every label is below `classes`; `path` names the source in the error.
pub(crate) fn check_labels(path: &Path, labels: &[u8], classes: usize) -> Result<(), DataError> {
    match labels
        .iter()
        .position(|&label| usize::from(label) >= classes)
    {
        Some(index) => Err(DataError::LabelOutOfRange {
            path: path.to_path_buf(),
            index,
            label: labels[index],
            classes,
        }),
        None => Ok(()),
    }
}

/// Checks every index is below `len`.
pub(crate) fn check_indices(indices: &[usize], len: usize) -> Result<(), DataError> {
    match indices.iter().find(|&&i| i >= len) {
        Some(i) => Err(DataError::invalid(
            "indices",
            format!("index {i} is out of range for a dataset of {len} images"),
        )),
        None => Ok(()),
    }
}
