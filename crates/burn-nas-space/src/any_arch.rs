//! [`AnyArch`]: an architecture of any built-in space, for tools that read whatever
//! `best_arch.json` they are given.

use std::fmt;

use crate::enas_macro::MacroArch;
use crate::enas_micro::MicroArch;
use crate::error::{ArchError, Result};
use crate::json;
use crate::nas_rl::NasRlArch;
use crate::space::Architecture;

/// An architecture of one of the built-in spaces, chosen by the JSON document's space tag.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyArch {
    /// An ENAS micro architecture (`"enas_micro"`).
    Micro(MicroArch),
    /// An ENAS macro architecture (`"enas_macro"`).
    Macro(MacroArch),
    /// A NAS-RL architecture (`"nas_rl"`).
    NasRl(NasRlArch),
}

impl AnyArch {
    /// The space tags this type reads.
    pub const SPACES: [&'static str; 3] = [MicroArch::SPACE, MacroArch::SPACE, NasRlArch::SPACE];

    /// Reads a document of any built-in space and validates it.
    ///
    /// # Errors
    /// As [`Architecture::from_json`]; an unknown space tag gives
    /// [`ArchError::WrongSpace`] listing the known ones.
    pub fn from_json(text: &str) -> Result<AnyArch> {
        let (space, body) = json::read_envelope(text)?;
        let arch = match space.as_str() {
            MicroArch::SPACE => AnyArch::Micro(json::from_value(body)?),
            MacroArch::SPACE => AnyArch::Macro(json::from_value(body)?),
            NasRlArch::SPACE => AnyArch::NasRl(json::from_value(body)?),
            _ => {
                return Err(ArchError::WrongSpace {
                    expected: Self::SPACES.join("` or `"),
                    found: space,
                });
            }
        };
        arch.validate()?;
        Ok(arch)
    }

    /// The space tag of the architecture.
    pub fn space(&self) -> &'static str {
        match self {
            AnyArch::Micro(_) => MicroArch::SPACE,
            AnyArch::Macro(_) => MacroArch::SPACE,
            AnyArch::NasRl(_) => NasRlArch::SPACE,
        }
    }

    /// Validates the architecture (see [`Architecture::validate`]).
    ///
    /// # Errors
    /// The first violated rule.
    pub fn validate(&self) -> Result<()> {
        match self {
            AnyArch::Micro(a) => a.validate(),
            AnyArch::Macro(a) => a.validate(),
            AnyArch::NasRl(a) => a.validate(),
        }
    }

    /// The versioned JSON document.
    pub fn to_json(&self) -> String {
        match self {
            AnyArch::Micro(a) => a.to_json(),
            AnyArch::Macro(a) => a.to_json(),
            AnyArch::NasRl(a) => a.to_json(),
        }
    }

    /// The Graphviz DOT drawing.
    pub fn to_dot(&self) -> String {
        match self {
            AnyArch::Micro(a) => a.to_dot(),
            AnyArch::Macro(a) => a.to_dot(),
            AnyArch::NasRl(a) => a.to_dot(),
        }
    }
}

impl fmt::Display for AnyArch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnyArch::Micro(a) => a.fmt(f),
            AnyArch::Macro(a) => a.fmt(f),
            AnyArch::NasRl(a) => a.fmt(f),
        }
    }
}
