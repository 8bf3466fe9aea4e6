//! Area-average downscaling, for low-fidelity (small-image) estimates.

use crate::{DataError, ImageDataset};

impl ImageDataset {
    /// Every image resized to `size`×`size` by area averaging (each output pixel is the mean
    /// of the input area it covers, partial pixels weighted by their overlap, like OpenCV's
    /// `INTER_AREA`), rounded to the nearest byte (halves up).
    ///
    /// Integer factors average whole blocks: 32→16 is the mean of each 2×2 block. The
    /// arithmetic is exact integer arithmetic, so results do not depend on float rounding.
    ///
    /// Errors: [`DataError::InvalidSetting`] when `size` is 0 or larger than the height or
    /// width (this only shrinks).
    pub fn downscale(&self, size: usize) -> Result<ImageDataset, DataError> {
        if size == 0 || size > self.height() || size > self.width() {
            return Err(DataError::invalid(
                "size",
                format!(
                    "cannot downscale {}×{} images of `{}` to {size}×{size}: size must be in 1..={}",
                    self.height(),
                    self.width(),
                    self.name(),
                    self.height().min(self.width())
                ),
            ));
        }
        let rows = overlaps(self.height(), size);
        let cols = overlaps(self.width(), size);
        // Overlaps are in units of 1/size of a source pixel, so a full output pixel weighs
        // height × width in total (per axis: the source length).
        let denom = (self.height() * self.width()) as u64;
        let plane_in = self.height() * self.width();
        let mut pixels = Vec::with_capacity(self.len() * self.channels() * size * size);
        for i in 0..self.len() {
            for plane in self.image(i).chunks_exact(plane_in) {
                for row in &rows {
                    for col in &cols {
                        let mut sum = 0u64;
                        for &(y, wy) in row {
                            let line = &plane[y * self.width()..(y + 1) * self.width()];
                            for &(x, wx) in col {
                                sum += wy * wx * u64::from(line[x]);
                            }
                        }
                        // Round half up; the result is a mean of bytes so it fits a byte.
                        pixels.push(((sum + denom / 2) / denom) as u8);
                    }
                }
            }
        }
        let mut out = self.with_data(
            format!("{}-{size}px", self.name()),
            pixels,
            self.labels().to_vec(),
        );
        out.set_shape(size, size);
        Ok(out)
    }
}

/// For each of `output` cells along an axis of `input` pixels: the source pixels it covers
/// and how much of each, in units of `1 / output` of a pixel (so weights are integers that
/// sum to `input` per cell).
fn overlaps(input: usize, output: usize) -> Vec<Vec<(usize, u64)>> {
    (0..output)
        .map(|o| {
            // Cell o spans [o·input, (o+1)·input) and source pixel i spans
            // [i·output, (i+1)·output), both in units of 1/output pixel.
            let start = o * input;
            let end = (o + 1) * input;
            (start / output..end.div_ceil(output))
                .map(|i| {
                    let lo = start.max(i * output);
                    let hi = end.min((i + 1) * output);
                    (i, (hi - lo) as u64)
                })
                .filter(|&(_, w)| w > 0)
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::overlaps;

    #[test]
    fn overlap_weights_sum_to_the_input_length() {
        for (input, output) in [(32, 16), (28, 14), (28, 10), (7, 3), (5, 5)] {
            for cell in overlaps(input, output) {
                let total: u64 = cell.iter().map(|&(_, w)| w).sum();
                assert_eq!(total, input as u64, "{input}->{output}");
            }
        }
        assert_eq!(
            overlaps(4, 2),
            vec![vec![(0, 2), (1, 2)], vec![(2, 2), (3, 2)]]
        );
        assert_eq!(
            overlaps(3, 2),
            vec![vec![(0, 2), (1, 1)], vec![(1, 1), (2, 2)]]
        );
    }
}
