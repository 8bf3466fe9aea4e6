//! The two traits every search space implements: [`Architecture`] (a typed, serializable
//! description of one network) and [`SearchSpace`] (the set of them, as decisions).

use std::fmt::{Debug, Display};

use rand::Rng;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::decision::{Decisions, SpaceSize, Token};
use crate::error::{ArchError, Result};
use crate::json;

/// A typed description of one network of some search space: plain data that can be compared,
/// printed, checked, stored as JSON and drawn as a Graphviz graph.
pub trait Architecture:
    Clone + Debug + PartialEq + Display + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// The space tag written into (and required from) JSON documents, e.g. `"enas_micro"`.
    const SPACE: &'static str;

    /// Checks the rules that hold in every space of this family (input indices point back,
    /// skip lists are increasing). Space settings (op subsets, sizes) are checked by
    /// [`SearchSpace::validate`].
    ///
    /// # Errors
    /// The first violated rule, naming its cell / node / layer and field.
    fn validate(&self) -> Result<()>;

    /// The architecture as a Graphviz DOT graph (`dot -Tpng` draws it).
    fn to_dot(&self) -> String;

    /// The architecture as a pretty-printed, versioned JSON document:
    /// `{"format_version": 1, "space": "<tag>", "arch": {...}}`.
    fn to_json(&self) -> String {
        json::to_json(Self::SPACE, self)
    }

    /// Reads a document written by [`to_json`](Self::to_json) and validates it.
    ///
    /// # Errors
    /// [`InvalidJson`](crate::ArchError::InvalidJson) with the path of the bad value,
    /// [`WrongSpace`](crate::ArchError::WrongSpace),
    /// [`UnsupportedVersion`](crate::ArchError::UnsupportedVersion), or a validation error.
    fn from_json(text: &str) -> Result<Self> {
        let arch: Self = json::from_json(Self::SPACE, text)?;
        arch.validate()?;
        Ok(arch)
    }
}

/// A set of possible networks, described to strategies as a list of [`Decisions`].
///
/// `decode` and `encode` are exact inverses between token sequences and architectures, so a
/// strategy that only knows decisions (random search, evolution, a REINFORCE controller) works
/// on every space, including your own.
///
/// # Defining your own space
///
/// ```
/// use burn_nas_space::{ArchError, Decision, DecisionGroup, Decisions, SearchSpace, Token};
///
/// /// A plain chain of convolutions: per layer a kernel size and a width.
/// #[derive(Debug, Clone, PartialEq)]
/// struct ChainArch { layers: Vec<(usize, usize)> }
///
/// struct ChainSpace { depth: usize, decisions: Decisions }
///
/// impl ChainSpace {
///     const KERNELS: [usize; 3] = [1, 3, 5];
///     const WIDTHS: [usize; 2] = [16, 32];
///     fn new(depth: usize) -> Result<Self, ArchError> {
///         let block = vec![
///             Decision::categorical(Self::KERNELS.len(), "kernel"),
///             Decision::categorical(Self::WIDTHS.len(), "width"),
///         ];
///         let decisions = Decisions::new(vec![DecisionGroup {
///             name: "layers".into(),
///             initial_anchors: 0,
///             blocks: vec![block; depth],
///         }])?;
///         Ok(ChainSpace { depth, decisions })
///     }
/// }
///
/// impl SearchSpace for ChainSpace {
///     type Arch = ChainArch;
///     fn name(&self) -> &str { "chain" }
///     fn decisions(&self) -> &Decisions { &self.decisions }
///     fn decode(&self, tokens: &[Token]) -> Result<ChainArch, ArchError> {
///         self.decisions.check(tokens)?;
///         let choice = |t: &Token| t.choice().unwrap_or(0); // checked above
///         let layers = tokens
///             .chunks(2)
///             .map(|c| (Self::KERNELS[choice(&c[0])], Self::WIDTHS[choice(&c[1])]))
///             .collect();
///         Ok(ChainArch { layers })
///     }
///     fn encode(&self, arch: &ChainArch) -> Result<Vec<Token>, ArchError> {
///         let index = |options: &[usize], v: usize| {
///             options.iter().position(|&o| o == v)
///                 .ok_or_else(|| ArchError::Custom(format!("{v} is not an option")))
///         };
///         let mut tokens = Vec::new();
///         for &(k, w) in &arch.layers {
///             tokens.push(Token::Choice(index(&Self::KERNELS, k)?));
///             tokens.push(Token::Choice(index(&Self::WIDTHS, w)?));
///         }
///         self.decisions.check(&tokens)?;
///         Ok(tokens)
///     }
/// }
///
/// let space = ChainSpace::new(4)?;
/// assert_eq!(space.size().count().round(), 6f64.powi(4));
/// let mut rng = rand::rng();
/// let arch = space.sample(&mut rng)?;
/// assert_eq!(space.decode(&space.encode(&arch)?)?, arch);
/// # Ok::<(), ArchError>(())
/// ```
pub trait SearchSpace {
    /// The architecture type this space describes.
    type Arch: Clone + Debug + PartialEq;

    /// A short name for logs and reports, e.g. `"enas_micro"`.
    fn name(&self) -> &str;

    /// The ordered decisions a strategy answers, one token each.
    fn decisions(&self) -> &Decisions;

    /// Builds the architecture a token sequence describes.
    ///
    /// # Errors
    /// A wrong token count, a token of the wrong kind, or a value out of range.
    fn decode(&self, tokens: &[Token]) -> Result<Self::Arch>;

    /// The token sequence of an architecture: `decode(encode(a)) == a`.
    ///
    /// # Errors
    /// The architecture does not belong to this space (wrong size, an op the space does not
    /// offer, an index out of range).
    fn encode(&self, arch: &Self::Arch) -> Result<Vec<Token>>;

    /// Checks that `arch` belongs to this space.
    ///
    /// # Errors
    /// As [`encode`](Self::encode).
    fn validate(&self, arch: &Self::Arch) -> Result<()> {
        self.encode(arch).map(|_| ())
    }

    /// Draws an architecture uniformly over the token sequences of the space.
    ///
    /// # Errors
    /// Only if the space's own `decode` rejects tokens its decisions allow (a bug in the space).
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Result<Self::Arch>
    where
        Self: Sized,
    {
        self.decode(&self.decisions().sample(rng))
    }

    /// How many architectures (token sequences) the space holds.
    fn size(&self) -> SpaceSize {
        self.decisions().size()
    }

    /// The space's depth (layers), for spaces that can be built at other depths (see
    /// [`at_depth`](Self::at_depth)); `None` for spaces of a fixed shape.
    fn depth(&self) -> Option<usize> {
        None
    }

    /// The same space at another depth, whose decisions are a prefix of every deeper version's
    /// (Zoph & Le's depth schedule: a controller trained on the shallow space keeps its meaning
    /// when the space deepens).
    ///
    /// # Errors
    /// [`ArchError::InvalidSpace`] for a space of fixed depth (the default) or a depth the
    /// space cannot have (zero layers).
    fn at_depth(&self, depth: usize) -> Result<Self>
    where
        Self: Sized,
    {
        Err(ArchError::InvalidSpace {
            field: "depth".into(),
            reason: format!(
                "space `{}` has a fixed depth and cannot be built with {depth} layers",
                self.name()
            ),
        })
    }
}
