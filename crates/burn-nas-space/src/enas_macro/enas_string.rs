//! The official ENAS integer strings for macro architectures: layer `i` is written
//! `op s_0 … s_{i−1}`, so `L` layers take `L(L+1)/2` integers.

use super::arch::{MacroArch, MacroLayer};
use super::op::MacroOp;
use crate::enas_ints::parse_ints;
use crate::error::{ArchError, Result, range_upto};
use crate::skips::{from_bits, to_bits};
use crate::space::Architecture;

/// The `L` with `L(L+1)/2 == n`, if any.
fn layers_for(n: usize) -> Option<usize> {
    (1..=n)
        .take_while(|l| l * (l + 1) / 2 <= n)
        .find(|l| l * (l + 1) / 2 == n)
}

impl MacroArch {
    /// Parses an official ENAS macro string.
    ///
    /// # Errors
    /// [`ArchError::NotAnInteger`] for a bad word, [`ArchError::WrongLength`] when the count is
    /// not `L(L+1)/2` for any `L ≥ 1`, [`ArchError::OutOfRange`] for an op id above 5 or a skip
    /// bit other than 0 or 1.
    pub fn from_enas_string(text: &str) -> Result<MacroArch> {
        let ints = parse_ints("macro", text)?;
        let n = layers_for(ints.len()).ok_or_else(|| ArchError::WrongLength {
            what: "ENAS macro string integers".into(),
            expected: "L(L+1)/2 for some L ≥ 1 (1, 3, 6, 10, …, 78 for 12 layers)".into(),
            found: ints.len(),
        })?;
        let mut rest = ints.as_slice();
        let mut layers = Vec::with_capacity(n);
        for i in 0..n {
            let (head, tail) = rest.split_at(i + 1);
            rest = tail;
            let op = MacroOp::from_enas_id(head[0]).ok_or_else(|| ArchError::OutOfRange {
                location: format!("layer {i}"),
                field: "op".into(),
                value: head[0],
                allowed: range_upto(MacroOp::ALL.len()),
            })?;
            let bits = head[1..]
                .iter()
                .enumerate()
                .map(|(j, &bit)| match bit {
                    0 => Ok(false),
                    1 => Ok(true),
                    other => Err(ArchError::OutOfRange {
                        location: format!("layer {i}"),
                        field: format!("skip bit {j}"),
                        value: other,
                        allowed: "0..=1".into(),
                    }),
                })
                .collect::<Result<Vec<_>>>()?;
            layers.push(MacroLayer {
                op,
                skips: from_bits(&bits),
            });
        }
        let arch = MacroArch { layers };
        arch.validate()?;
        Ok(arch)
    }

    /// The official ENAS macro string, single spaces.
    pub fn to_enas_string(&self) -> String {
        let mut words = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            words.push(layer.op.enas_id().to_string());
            words.extend(
                to_bits(i, &layer.skips)
                    .into_iter()
                    .map(|b| u8::from(b).to_string()),
            );
        }
        words.join(" ")
    }
}
