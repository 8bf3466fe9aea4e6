//! Splitting one epoch into minibatches of indices.

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::DataError;

/// The minibatches of one epoch over `len` items: index lists of `batch_size` covering every
/// index at most once.
///
/// With `rng` the order is a shuffle drawn from it (so a seeded generator reproduces the
/// epoch), else `0..len` in order. The last, smaller batch is kept when `keep_last`, else
/// dropped (so fewer than `batch_size` items and `!keep_last` give no batch at all).
///
/// Errors: [`DataError::InvalidSetting`] when `batch_size` is 0.
pub fn epoch_batches(
    len: usize,
    batch_size: usize,
    rng: Option<&mut ChaCha8Rng>,
    keep_last: bool,
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
        .filter(|chunk| keep_last || chunk.len() == batch_size)
        .map(<[usize]>::to_vec)
        .collect())
}
