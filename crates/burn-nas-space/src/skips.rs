//! Skip lists (indices of earlier layers) shared by the layer-wise spaces.

use crate::error::{ArchError, Result, range_upto};

/// Checks that `skips` of layer `layer` are strictly increasing and all point back.
pub(crate) fn check_skips(layer: usize, field: &str, skips: &[usize]) -> Result<()> {
    if skips.windows(2).any(|w| w[0] >= w[1]) {
        return Err(ArchError::NotIncreasing {
            location: format!("layer {layer}"),
            field: field.to_string(),
            values: skips.to_vec(),
        });
    }
    if let Some(&bad) = skips.iter().find(|&&s| s >= layer) {
        return Err(ArchError::OutOfRange {
            location: format!("layer {layer}"),
            field: field.to_string(),
            value: bad,
            allowed: range_upto(layer),
        });
    }
    Ok(())
}

/// Skip list → one bit per earlier layer.
pub(crate) fn to_bits(layer: usize, skips: &[usize]) -> Vec<bool> {
    let mut bits = vec![false; layer];
    for &s in skips {
        if let Some(b) = bits.get_mut(s) {
            *b = true;
        }
    }
    bits
}

/// Bits → skip list.
pub(crate) fn from_bits(bits: &[bool]) -> Vec<usize> {
    bits.iter()
        .enumerate()
        .filter(|(_, b)| **b)
        .map(|(i, _)| i)
        .collect()
}
