//! Reading the integer words of ENAS architecture strings.

use crate::error::{ArchError, Result};

/// Parses whitespace-separated non-negative integers, naming the first bad word.
pub(crate) fn parse_ints(family: &'static str, text: &str) -> Result<Vec<usize>> {
    text.split_whitespace()
        .enumerate()
        .map(|(position, word)| {
            word.parse::<usize>().map_err(|_| ArchError::NotAnInteger {
                family,
                position,
                word: word.to_string(),
            })
        })
        .collect()
}
