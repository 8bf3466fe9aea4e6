//! A search problem with a known optimum, for testing strategies: the reward of an
//! architecture is the share of its decision units equal to a hidden target's.

use burn_nas_space::Token;

/// The share (in `[0, 1]`) of decision units of `tokens` equal to `target`'s: every choice is
/// one unit, every skip bit is one unit. 1 exactly when `tokens == target`.
pub fn agreement(tokens: &[Token], target: &[Token]) -> f64 {
    let mut same = 0usize;
    let mut total = 0usize;
    for (a, b) in tokens.iter().zip(target) {
        match (a, b) {
            (Token::Choice(x), Token::Choice(y)) => {
                total += 1;
                same += usize::from(x == y);
            }
            (Token::Subset(x), Token::Subset(y)) => {
                total += x.len().max(y.len());
                same += x.iter().zip(y).filter(|(p, q)| p == q).count();
            }
            _ => total += 1,
        }
    }
    total += tokens.len().abs_diff(target.len());
    if total == 0 {
        1.0
    } else {
        same as f64 / total as f64
    }
}
