//! The mutation operator of evolutionary search: change one decision of an architecture.

use burn_nas_space::{ArchError, Decision, Decisions, Token};
use rand::Rng;

use crate::error::Result;

/// Whether a decision has more than one possible token, i.e. whether mutating it can change
/// anything.
fn can_change(decision: &Decision) -> bool {
    match decision {
        Decision::Categorical { options: n, .. } | Decision::SelectInput { among: n } => *n >= 2,
        Decision::SkipSet { among } => *among >= 1,
    }
}

/// Returns a copy of `tokens` with exactly one *decision unit* changed: one choice replaced by
/// a different value, or one skip bit flipped.
///
/// The decision to change is drawn uniformly among those that can change (a categorical or
/// input choice with at least two values, a skip set over at least one anchor); a choice then
/// takes a uniformly drawn *different* value, and a skip set flips one uniformly drawn bit.
/// This is the "one random change" mutation of regularized evolution (Real et al., 2019),
/// expressed on decisions so that it works on every space. The result always satisfies
/// [`Decisions::check`]. When no decision can change (every decision has a single value), the
/// tokens are returned unchanged.
///
/// # Errors
/// [`StrategyError::Arch`](crate::StrategyError::Arch) when `tokens` do not fit `decisions`
/// (wrong count, wrong kind, value out of range).
///
/// # Example
/// ```
/// use burn_nas_controller::mutate;
/// use burn_nas_space::{MacroSpace, SearchSpace};
/// use rand::SeedableRng;
///
/// let space = MacroSpace::default();
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
/// let parent = space.decisions().sample(&mut rng);
/// let child = mutate(space.decisions(), &parent, &mut rng)?;
/// assert_ne!(child, parent);
/// space.decode(&child)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn mutate<R: Rng + ?Sized>(
    decisions: &Decisions,
    tokens: &[Token],
    rng: &mut R,
) -> Result<Vec<Token>> {
    decisions.check(tokens)?;
    let mut child = tokens.to_vec();
    let changeable: Vec<usize> = decisions
        .as_slice()
        .iter()
        .enumerate()
        .filter(|(_, d)| can_change(d))
        .map(|(i, _)| i)
        .collect();
    if changeable.is_empty() {
        return Ok(child);
    }
    let index = changeable[rng.random_range(0..changeable.len())];
    match (&decisions.as_slice()[index], &mut child[index]) {
        (
            Decision::Categorical { options: n, .. } | Decision::SelectInput { among: n },
            Token::Choice(value),
        ) => {
            // Draw among the n - 1 other values: skip over the current one.
            let other = rng.random_range(0..*n - 1);
            *value = if other >= *value { other + 1 } else { other };
        }
        (Decision::SkipSet { among }, Token::Subset(bits)) => {
            let bit = rng.random_range(0..*among);
            bits[bit] = !bits[bit];
        }
        // `decisions.check` above rules this out; report it rather than panic.
        (_, other) => {
            return Err(ArchError::TokenKind {
                index,
                expected: "a token of its decision's kind",
                found: format!("{other:?}"),
            }
            .into());
        }
    }
    Ok(child)
}
