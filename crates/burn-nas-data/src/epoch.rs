//! Splitting one epoch into minibatches of indices.

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::DataError;

/// What [`epoch_batches`] does with the last minibatch when `batch_size` does not divide the
/// number of items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastBatch {
    /// Keep the smaller last batch: every item is seen (evaluation, training a child).
    Keep,
    /// Drop it: every batch has exactly `batch_size` items (fewer items than that give no
    /// batch at all). Shared-weight training uses this, as ENAS does.
    Drop,
}

/// The minibatches of one epoch over `len` items: index lists of `batch_size` covering every
/// index at most once.
///
/// With `rng` the order is a shuffle drawn from it (so a seeded generator reproduces the
/// epoch), else `0..len` in order. `last` says whether the last, smaller batch is kept.
///
/// Errors: [`DataError::InvalidSetting`] when `batch_size` is 0.
pub fn epoch_batches(
    len: usize,
    batch_size: usize,
    rng: Option<&mut ChaCha8Rng>,
    last: LastBatch,
) -> Result<Vec<Vec<usize>>, DataError> {
    if batch_size == 0 {
        return Err(DataError::invalid("batch_size", "must be at least 1"));
    }
    let mut order: Vec<usize> = (0..len).collect();
    if let Some(rng) = rng {
        order.shuffle(rng);
    }
    Ok(order
        .chunks(batch_size)
        .filter(|chunk| last == LastBatch::Keep || chunk.len() == batch_size)
        .map(<[usize]>::to_vec)
        .collect())
}
