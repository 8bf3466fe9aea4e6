//! The decision model every space shares: an architecture is the answer to a fixed sequence of
//! decisions, which is all a search strategy ever sees.
//!
//! Decisions come in *blocks* (a layer, a cell node). Finishing a block creates an **anchor**,
//! the thing later [`Decision::SelectInput`] and [`Decision::SkipSet`] decisions point back at
//! (Zoph & Le's anchor points; ENAS's node anchors). Blocks are grouped (an ENAS micro cell is a
//! group); a group may start with anchors that no block created, such as the outputs of the two
//! previous cells, and anchors never cross groups.
//!
//! A controller's state for an anchor is the one at the block's [`Decision::SkipSet`] when the
//! block has one, wherever it sits (Zoph & Le's anchor point starts a layer; ENAS macro's skip
//! step ends it), and otherwise the one after the block's last decision.

use std::borrow::Cow;
use std::fmt;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{ArchError, Result};

/// Declares a name id: a string newtype, `From<&str>` / `From<String>`, a `const` constructor
/// for the spaces' own names, `Display`, and plain-string JSON.
macro_rules! name_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Cow<'static, str>);

        impl $name {
            /// The id called `name` (a constant of a space; a user's names go through `From`).
            pub const fn from_static(name: &'static str) -> Self {
                $name(Cow::Borrowed(name))
            }

            /// The name.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<&str> for $name {
            fn from(name: &str) -> Self {
                $name(Cow::Owned(name.to_string()))
            }
        }

        impl From<String> for $name {
            fn from(name: String) -> Self {
                $name(Cow::Owned(name))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

name_id!(
    /// The head of a [`Decision::Categorical`]: what kind of thing it picks (`micro_op`,
    /// `filter_height`). Decisions with one head share a controller's softmax head, and
    /// settings that concern a head (a controller's logit biases) name it by this id; the
    /// space's own heads are constants ([`MICRO_OP_HEAD`](crate::enas_micro::MICRO_OP_HEAD)),
    /// and [`Decisions::head`] looks one up by name, refusing names the space does not have.
    HeadId
);

name_id!(
    /// A [`DecisionGroup`]'s name (`normal` / `reduce` for the ENAS micro cells, `layers`).
    /// Settings that concern one group (ENAS's fixed op bias on the normal cell) name it by this
    /// id; the spaces' own groups are constants
    /// ([`MicroSpace::NORMAL_CELL`](crate::MicroSpace::NORMAL_CELL)), and [`Decisions::group`]
    /// looks one up by name, refusing names the space does not have.
    GroupId
);

/// One decision of a search space: a single token a strategy has to choose.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Decision {
    /// Pick one of `options` values (an op, a filter size, a filter count). Decisions with the
    /// same `head` mean the same kind of thing and share a controller's softmax head.
    Categorical {
        /// Number of values; the token is an index in `0..options`.
        options: usize,
        /// The head shared by all decisions of this kind, e.g. `micro_op`.
        head: HeadId,
    },
    /// Pick one of the first `among` anchors of the current group (an input of a cell node).
    SelectInput {
        /// Number of anchors to choose from; the token is an index in `0..among`.
        among: usize,
    },
    /// Pick any subset of the first `among` anchors of the current group (skip connections).
    SkipSet {
        /// Number of anchors; the token is one bit per anchor.
        among: usize,
    },
}

impl Decision {
    /// A categorical decision of `options` values on the head called `head`.
    pub fn categorical(options: usize, head: impl Into<HeadId>) -> Self {
        Decision::Categorical {
            options,
            head: head.into(),
        }
    }

    /// Number of distinct tokens this decision accepts (as `f64`, since a skip set over many
    /// anchors has `2^among`).
    pub fn cardinality(&self) -> f64 {
        match self {
            Decision::Categorical { options, .. } => *options as f64,
            Decision::SelectInput { among } => *among as f64,
            Decision::SkipSet { among } => 2f64.powi(*among as i32),
        }
    }

    /// `log10` of [`cardinality`](Self::cardinality), exact even where the count overflows.
    pub fn log10_cardinality(&self) -> f64 {
        match self {
            Decision::Categorical { options, .. } => (*options as f64).log10(),
            Decision::SelectInput { among } => (*among as f64).log10(),
            Decision::SkipSet { among } => *among as f64 * 2f64.log10(),
        }
    }

    /// Draws a token uniformly from this decision's values.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Token {
        match self {
            Decision::Categorical { options: n, .. } | Decision::SelectInput { among: n } => {
                Token::Choice(rng.random_range(0..*n))
            }
            Decision::SkipSet { among } => {
                Token::Subset((0..*among).map(|_| rng.random()).collect())
            }
        }
    }

    /// Checks that `token` is a valid answer to this decision; `index` is the decision's
    /// position, used in the error.
    pub fn check(&self, index: usize, token: &Token) -> Result<()> {
        let location = format!("decision {index}");
        match (self, token) {
            (Decision::Categorical { options: n, .. }, Token::Choice(v))
            | (Decision::SelectInput { among: n }, Token::Choice(v)) => {
                if v < n {
                    Ok(())
                } else {
                    Err(ArchError::OutOfRange {
                        location,
                        field: "choice".into(),
                        value: *v,
                        allowed: crate::error::range_upto(*n),
                    })
                }
            }
            (Decision::SkipSet { among }, Token::Subset(bits)) => {
                if bits.len() == *among {
                    Ok(())
                } else {
                    Err(ArchError::WrongLength {
                        what: format!("{location}, skip bits"),
                        expected: among.to_string(),
                        found: bits.len(),
                    })
                }
            }
            (Decision::SkipSet { .. }, other) => Err(ArchError::TokenKind {
                index,
                expected: "subset",
                found: format!("{other:?}"),
            }),
            (_, other) => Err(ArchError::TokenKind {
                index,
                expected: "choice",
                found: format!("{other:?}"),
            }),
        }
    }
}

/// The answer to one [`Decision`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Token {
    /// The chosen index, for [`Decision::Categorical`] and [`Decision::SelectInput`].
    Choice(usize),
    /// One bit per anchor, for [`Decision::SkipSet`]: `true` = connected.
    Subset(Vec<bool>),
}

impl Token {
    /// The chosen index, or `None` for a subset token.
    pub fn choice(&self) -> Option<usize> {
        match self {
            Token::Choice(v) => Some(*v),
            Token::Subset(_) => None,
        }
    }

    /// The skip bits, or `None` for a choice token.
    pub fn subset(&self) -> Option<&[bool]> {
        match self {
            Token::Choice(_) => None,
            Token::Subset(bits) => Some(bits),
        }
    }
}

/// A group of blocks that share anchors: a whole network (NAS-RL, ENAS macro) or one cell type
/// (ENAS micro normal / reduction cell).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionGroup {
    /// Name of the group, e.g. `normal`, `reduce`, `layers`. Strategies may key per-group
    /// settings (such as ENAS's fixed op bias on the normal cell) on it.
    pub name: GroupId,
    /// Anchors that exist before the first block (ENAS micro: 2, the two previous cells).
    pub initial_anchors: usize,
    /// The blocks in order; finishing block `b` creates anchor `initial_anchors + b`.
    pub blocks: Vec<Vec<Decision>>,
}

/// The complete, ordered decision list of a search space, with its block and group structure.
///
/// Built with [`Decisions::new`], which checks that every input or skip decision only refers to
/// anchors that exist when it is taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decisions {
    groups: Vec<DecisionGroup>,
    flat: Vec<Decision>,
}

/// Where a decision sits in the structure of [`Decisions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecisionSite {
    /// Index of the group.
    pub group: usize,
    /// Index of the block inside its group.
    pub block: usize,
    /// Index of the decision inside its block.
    pub position: usize,
    /// `true` for the last decision of its block (an anchor is created after it).
    pub ends_block: bool,
}

impl Decisions {
    /// Builds and checks a decision list.
    ///
    /// # Errors
    /// [`ArchError::InvalidSpace`] when a categorical decision has no option, or an input or
    /// skip decision refers to more anchors than its group has at that point (or an input
    /// decision has none to choose from).
    pub fn new(groups: Vec<DecisionGroup>) -> Result<Self> {
        let mut flat = Vec::new();
        for group in &groups {
            for (b, block) in group.blocks.iter().enumerate() {
                let anchors = group.initial_anchors + b;
                for decision in block {
                    let bad = |reason: String| ArchError::InvalidSpace {
                        field: format!("decisions: group `{}`, block {b}", group.name),
                        reason,
                    };
                    match decision {
                        Decision::Categorical { options: 0, head } => {
                            return Err(bad(format!("head `{head}` has no option")));
                        }
                        Decision::SelectInput { among } if *among == 0 || *among > anchors => {
                            return Err(bad(format!(
                                "select-input among {among}, but {anchors} anchors exist (need 1..={anchors})"
                            )));
                        }
                        Decision::SkipSet { among } if *among > anchors => {
                            return Err(bad(format!(
                                "skip set among {among}, but only {anchors} anchors exist"
                            )));
                        }
                        _ => {}
                    }
                    flat.push(decision.clone());
                }
            }
        }
        Ok(Decisions { groups, flat })
    }

    /// The groups, in order.
    pub fn groups(&self) -> &[DecisionGroup] {
        &self.groups
    }

    /// All decisions, flattened in order: the token sequence has one token per entry.
    pub fn as_slice(&self) -> &[Decision] {
        &self.flat
    }

    /// Number of decisions (= number of tokens of an architecture).
    pub fn len(&self) -> usize {
        self.flat.len()
    }

    /// `true` when the space has no decision at all.
    pub fn is_empty(&self) -> bool {
        self.flat.is_empty()
    }

    /// Every decision with its place in the group/block structure, in token order.
    pub fn sites(&self) -> impl Iterator<Item = (DecisionSite, &Decision)> + '_ {
        self.groups.iter().enumerate().flat_map(|(g, group)| {
            group.blocks.iter().enumerate().flat_map(move |(b, block)| {
                let last = block.len().saturating_sub(1);
                block.iter().enumerate().map(move |(p, d)| {
                    (
                        DecisionSite {
                            group: g,
                            block: b,
                            position: p,
                            ends_block: p == last,
                        },
                        d,
                    )
                })
            })
        })
    }

    /// Distinct categorical heads in order of first appearance, with their option counts.
    ///
    /// # Errors
    /// [`ArchError::InvalidSpace`] when one head is used with two different option counts.
    pub fn heads(&self) -> Result<Vec<(HeadId, usize)>> {
        let mut heads: Vec<(HeadId, usize)> = Vec::new();
        for d in &self.flat {
            if let Decision::Categorical { options, head } = d {
                match heads.iter().find(|(h, _)| h == head) {
                    Some((_, n)) if n != options => {
                        return Err(ArchError::InvalidSpace {
                            field: format!("head `{head}`"),
                            reason: format!("used with {n} and with {options} options"),
                        });
                    }
                    Some(_) => {}
                    None => heads.push((head.clone(), *options)),
                }
            }
        }
        Ok(heads)
    }

    /// The id of the head called `name`.
    ///
    /// # Errors
    /// [`ArchError::InvalidSpace`] when no categorical decision has that head (the message
    /// lists those that exist), or [`heads`](Self::heads)' error.
    pub fn head(&self, name: &str) -> Result<HeadId> {
        let heads = self.heads()?;
        heads
            .iter()
            .find(|(h, _)| h.as_str() == name)
            .map(|(h, _)| h.clone())
            .ok_or_else(|| {
                let known: Vec<&str> = heads.iter().map(|(h, _)| h.as_str()).collect();
                ArchError::InvalidSpace {
                    field: format!("head `{name}`"),
                    reason: format!("the space has no such head (it has: {})", known.join(", ")),
                }
            })
    }

    /// The id of the group called `name`.
    ///
    /// # Errors
    /// [`ArchError::InvalidSpace`] when no group has that name (the message lists those that
    /// exist).
    pub fn group(&self, name: &str) -> Result<GroupId> {
        self.groups
            .iter()
            .find(|g| g.name.as_str() == name)
            .map(|g| g.name.clone())
            .ok_or_else(|| {
                let known: Vec<&str> = self.groups.iter().map(|g| g.name.as_str()).collect();
                ArchError::InvalidSpace {
                    field: format!("group `{name}`"),
                    reason: format!("the space has no such group (it has: {})", known.join(", ")),
                }
            })
    }

    /// Checks a whole token sequence against the decisions.
    ///
    /// # Errors
    /// [`ArchError::WrongLength`] for a wrong token count, otherwise the first token error
    /// (see [`Decision::check`]).
    pub fn check(&self, tokens: &[Token]) -> Result<()> {
        if tokens.len() != self.flat.len() {
            return Err(ArchError::WrongLength {
                what: "tokens".into(),
                expected: self.flat.len().to_string(),
                found: tokens.len(),
            });
        }
        self.flat
            .iter()
            .zip(tokens)
            .enumerate()
            .try_for_each(|(i, (d, t))| d.check(i, t))
    }

    /// Draws one token per decision, uniformly and independently.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<Token> {
        self.flat.iter().map(|d| d.sample(rng)).collect()
    }

    /// The number of distinct token sequences, i.e. of architectures as encoded.
    pub fn size(&self) -> SpaceSize {
        SpaceSize::from_log10(self.flat.iter().map(Decision::log10_cardinality).sum())
    }
}

/// How many architectures a space holds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpaceSize {
    /// `log10` of the count; finite even for spaces whose count overflows `f64`.
    pub log10: f64,
}

impl SpaceSize {
    /// A size from its `log10`.
    pub fn from_log10(log10: f64) -> Self {
        SpaceSize { log10 }
    }

    /// The count as `f64` (`inf` beyond about 1.8e308; rounded beyond 2^53).
    pub fn count(&self) -> f64 {
        10f64.powf(self.log10)
    }
}

impl std::fmt::Display for SpaceSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let exp = self.log10.floor();
        let mantissa = 10f64.powf(self.log10 - exp);
        write!(f, "{mantissa:.2}e{exp}")
    }
}
