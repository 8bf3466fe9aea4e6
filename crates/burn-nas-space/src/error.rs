//! The one error type of this crate: everything that can be wrong with an architecture, a token
//! sequence, a serialized description or a space's settings.

use thiserror::Error;

/// What is wrong with an architecture, its serialized form, or a search space's settings.
///
/// Every variant names *where* the problem is (a cell, node, layer, decision index or JSON
/// path) and *what* would have been allowed, so a message can be shown to a user as it is.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ArchError {
    /// A number lies outside its allowed range, e.g.
    /// `reduction cell, node 3, input 2 = 7: must be in 0..=4`.
    #[error("{location}, {field} = {value}: must be in {allowed}")]
    OutOfRange {
        /// Where: `"reduction cell, node 3"`, `"layer 4"`, `"decision 12"`.
        location: String,
        /// Which field: `"input 2"`, `"skip"`, `"filter height"`.
        field: String,
        /// The offending value.
        value: usize,
        /// The allowed values, e.g. `"0..=4"` or `"{1, 3, 5, 7}"`.
        allowed: String,
    },

    /// An op that exists but that this (restricted) space does not offer.
    #[error("{location}, {field} = {op}: not in this space's ops {allowed:?}")]
    OpNotAllowed {
        /// Where the op appears.
        location: String,
        /// Which field: `"op 1"`, `"op"`.
        field: String,
        /// The op's name.
        op: String,
        /// Names of the ops the space allows.
        allowed: Vec<String>,
    },

    /// An op name that no op of the space's family has.
    #[error("unknown {family} op `{name}`: expected one of {expected:?}")]
    UnknownOp {
        /// The op family: `"ENAS micro"`, `"ENAS macro"`.
        family: &'static str,
        /// The name that was given.
        name: String,
        /// The names that exist.
        expected: Vec<&'static str>,
    },

    /// A list has the wrong number of elements (nodes, layers, tokens, integers, skip bits).
    #[error("{what}: expected {expected}, found {found}")]
    WrongLength {
        /// What was counted: `"normal cell nodes"`, `"tokens"`, `"ENAS micro integers"`.
        what: String,
        /// The expected count, in words (`"5"`, `"a multiple of 8"`).
        expected: String,
        /// The count that was found.
        found: usize,
    },

    /// A list of layer indices (skip connections, inputs) is not strictly increasing.
    #[error("{location}, {field} = {values:?}: must be strictly increasing (sorted, no repeats)")]
    NotIncreasing {
        /// Where the list appears.
        location: String,
        /// Which field.
        field: String,
        /// The list as given.
        values: Vec<usize>,
    },

    /// A token has the wrong kind for its decision (a choice where a subset was expected, or
    /// the reverse).
    #[error("decision {index}: expected a {expected} token, found {found}")]
    TokenKind {
        /// Index of the decision in the space's flat decision list.
        index: usize,
        /// `"choice"` or `"subset"`.
        expected: &'static str,
        /// What was found, printed.
        found: String,
    },

    /// A word of an ENAS integer string is not a non-negative integer.
    #[error("ENAS {family} string, word {position} = `{word}`: not a non-negative integer")]
    NotAnInteger {
        /// `"micro"` or `"macro"`.
        family: &'static str,
        /// Zero-based position of the word in the string.
        position: usize,
        /// The word as given.
        word: String,
    },

    /// The JSON could not be read: malformed text, a missing field, a wrong type, an unknown op
    /// name. `path` says where (`"arch.normal.nodes[2].ops[1]"`), empty for the document root.
    #[error("invalid architecture JSON at `{path}`: {message}")]
    InvalidJson {
        /// Path to the offending value, `.`-separated, with `[i]` for array elements.
        path: String,
        /// serde's description of the problem (line and column included).
        message: String,
    },

    /// The JSON describes an architecture of another search space.
    #[error("architecture JSON is for space `{found}`, expected `{expected}`")]
    WrongSpace {
        /// The space tag this reader accepts.
        expected: String,
        /// The space tag the document carries.
        found: String,
    },

    /// The JSON was written by an unknown (newer) version of the format.
    #[error(
        "architecture JSON format_version {found} is not supported (this build reads {supported})"
    )]
    UnsupportedVersion {
        /// The version the document carries.
        found: u64,
        /// The version this build reads and writes.
        supported: u32,
    },

    /// The settings of a search space are impossible (no ops, zero layers, repeated options).
    #[error("invalid search space setting `{field}`: {reason}")]
    InvalidSpace {
        /// The setting's name.
        field: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A problem reported by a user-defined search space.
    #[error("{0}")]
    Custom(String),
}

/// Shorthand for results whose error is [`ArchError`].
pub type Result<T, E = ArchError> = std::result::Result<T, E>;

/// Formats an inclusive range the way errors print it, `"0..=4"`, or `"nothing"` when empty.
pub(crate) fn range_upto(len: usize) -> String {
    if len == 0 {
        "nothing (no value is allowed)".to_string()
    } else {
        format!("0..={}", len - 1)
    }
}
