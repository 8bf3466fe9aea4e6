//! Training-time augmentation settings and the per-image random draws they need.

use rand::Rng;
use serde::{Deserialize, Serialize};

/// Which random augmentations the [`Batcher`](crate::Batcher) applies to each training image.
///
/// Order, as in the ENAS and DARTS CIFAR-10 pipelines: pad-and-crop, then horizontal flip,
/// then normalisation, then cutout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Augmentation {
    /// Zero-pad every side by this many pixels, then crop a random window of the original
    /// size (`0` = off; ENAS and DARTS use 4 on CIFAR-10). Padding is black (pixel 0) before
    /// normalisation, as torchvision's `RandomCrop(32, padding=4)` does.
    pub pad_crop: usize,
    /// Mirror left–right with probability 0.5.
    pub horizontal_flip: bool,
    /// Side of a square set to 0 *after* normalisation at a random centre, clipped at the
    /// borders (`0` = off; DARTS uses 16 on CIFAR-10).
    pub cutout: usize,
}

impl Augmentation {
    /// No augmentation.
    pub fn none() -> Self {
        Augmentation {
            pad_crop: 0,
            horizontal_flip: false,
            cutout: 0,
        }
    }

    /// The ENAS CIFAR-10 setting: pad 4 and random crop, random horizontal flip, no cutout.
    pub fn enas() -> Self {
        Augmentation {
            pad_crop: 4,
            horizontal_flip: true,
            cutout: 0,
        }
    }

    /// Whether this changes nothing.
    pub fn is_none(&self) -> bool {
        self.pad_crop == 0 && !self.horizontal_flip && self.cutout == 0
    }

    /// Draws the random choices for one `height`×`width` image.
    ///
    /// Always draws in the same order (crop, flip, cutout, each only when enabled) so a seed
    /// reproduces a batch exactly.
    pub(crate) fn draw(&self, rng: &mut impl Rng, height: usize, width: usize) -> Draw {
        let (dy, dx) = if self.pad_crop > 0 {
            (
                rng.random_range(0..=2 * self.pad_crop),
                rng.random_range(0..=2 * self.pad_crop),
            )
        } else {
            (self.pad_crop, self.pad_crop)
        };
        let flip = self.horizontal_flip && rng.random::<bool>();
        let cutout = if self.cutout > 0 {
            let cy = rng.random_range(0..height);
            let cx = rng.random_range(0..width);
            // Same square as DARTS' Cutout (centre ± side/2), but exactly `side` wide for odd
            // sides too.
            let y0 = cy.saturating_sub(self.cutout / 2);
            let x0 = cx.saturating_sub(self.cutout / 2);
            let y1 = (cy + self.cutout - self.cutout / 2).min(height);
            let x1 = (cx + self.cutout - self.cutout / 2).min(width);
            Some((y0..y1, x0..x1))
        } else {
            None
        };
        Draw {
            pad: self.pad_crop,
            dy,
            dx,
            flip,
            cutout,
        }
    }
}

impl Default for Augmentation {
    /// [`Augmentation::none`].
    fn default() -> Self {
        Augmentation::none()
    }
}

/// The random choices made for one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Draw {
    /// Padding on each side.
    pub pad: usize,
    /// Crop window offset into the padded image (`pad` = centred, i.e. no shift).
    pub dy: usize,
    /// Crop window offset into the padded image.
    pub dx: usize,
    /// Mirror left–right.
    pub flip: bool,
    /// Rows and columns to zero after normalisation.
    pub cutout: Option<(std::ops::Range<usize>, std::ops::Range<usize>)>,
}

impl Draw {
    /// No change.
    pub(crate) fn identity() -> Draw {
        Draw {
            pad: 0,
            dy: 0,
            dx: 0,
            flip: false,
            cutout: None,
        }
    }

    /// The source pixel `(y, x)` that output pixel `(oy, ox)` shows, or `None` for padding.
    pub(crate) fn source(
        &self,
        oy: usize,
        ox: usize,
        height: usize,
        width: usize,
    ) -> Option<(usize, usize)> {
        // Flip acts on the cropped image, so mirror the output column first.
        let ox = if self.flip { width - 1 - ox } else { ox };
        let y = (oy + self.dy).checked_sub(self.pad)?;
        let x = (ox + self.dx).checked_sub(self.pad)?;
        (y < height && x < width).then_some((y, x))
    }
}
