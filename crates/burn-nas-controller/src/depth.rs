//! [`DepthSchedule`]: NAS-RL's growing child depth (Zoph & Le 2017, §4.1).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Result, StrategyError, invalid};

/// How deep the sampled children are as a search goes on: `start` layers for the first `every`
/// children, then `step` more for each further `every`, up to the space's own depth.
///
/// Zoph & Le start at 6 layers and add 2 every 1,600 sampled children
/// ([`paper`](Self::paper)). Set it on a controller with
/// [`Reinforce::with_depth_schedule`](crate::Reinforce::with_depth_schedule); it needs a space
/// that can be built at several depths ([`SearchSpace::at_depth`](burn_nas_space::SearchSpace::at_depth)).
///
/// ```
/// use burn_nas_controller::DepthSchedule;
/// let schedule: DepthSchedule = "6,2,1600".parse()?;
/// assert_eq!(schedule, DepthSchedule::paper());
/// assert_eq!(schedule.depth_at(0, 15), 6);
/// assert_eq!(schedule.depth_at(1_600, 15), 8);
/// assert_eq!(schedule.depth_at(100_000, 15), 15);
/// # Ok::<(), burn_nas_controller::StrategyError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepthSchedule {
    /// Layers of the first children.
    pub start: usize,
    /// Layers added at each growth.
    pub step: usize,
    /// Sampled children between two growths.
    pub every: u64,
}

impl DepthSchedule {
    /// The paper's schedule: 6 layers, 2 more every 1,600 children.
    pub fn paper() -> Self {
        DepthSchedule {
            start: 6,
            step: 2,
            every: 1_600,
        }
    }

    /// Checks that the schedule can be followed.
    ///
    /// # Errors
    /// [`StrategyError::InvalidSetting`] for zero starting layers, a zero step or a zero
    /// interval.
    pub fn validate(&self) -> Result<()> {
        if self.start == 0 {
            return Err(invalid(
                "depth_schedule.start",
                "at least 1 layer is needed",
            ));
        }
        if self.step == 0 {
            return Err(invalid(
                "depth_schedule.step",
                "the depth must grow by at least 1 layer",
            ));
        }
        if self.every == 0 {
            return Err(invalid(
                "depth_schedule.every",
                "at least 1 child must be sampled between growths",
            ));
        }
        Ok(())
    }

    /// The depth of children sampled after `children` earlier ones, capped at `max`.
    pub fn depth_at(&self, children: u64, max: usize) -> usize {
        let growths = usize::try_from(children / self.every.max(1)).unwrap_or(usize::MAX);
        growths
            .saturating_mul(self.step)
            .saturating_add(self.start)
            .min(max)
    }
}

impl fmt::Display for DepthSchedule {
    /// `START,STEP,EVERY`, the form [`FromStr`] reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{},{}", self.start, self.step, self.every)
    }
}

impl FromStr for DepthSchedule {
    type Err = StrategyError;

    /// Reads `START,STEP,EVERY`, e.g. `6,2,1600`.
    fn from_str(text: &str) -> Result<Self> {
        let bad = || {
            invalid(
                "depth_schedule",
                format!("`{text}` is not START,STEP,EVERY (e.g. 6,2,1600)"),
            )
        };
        let parts: Vec<&str> = text.split(',').map(str::trim).collect();
        let [start, step, every] = parts.as_slice() else {
            return Err(bad());
        };
        let schedule = DepthSchedule {
            start: start.parse().map_err(|_| bad())?,
            step: step.parse().map_err(|_| bad())?,
            every: every.parse().map_err(|_| bad())?,
        };
        schedule.validate()?;
        Ok(schedule)
    }
}
