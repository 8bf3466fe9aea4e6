//! [`Fidelity`]: how much of the full training an estimate pays for.

use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};

/// The fidelity of a train-from-scratch estimate. Full training and every lower-fidelity
/// variant of the NAS survey (fewer epochs, a data subset, smaller images, fewer channels or
/// cells) are settings of this one struct.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fidelity {
    /// Epochs of training.
    pub epochs: usize,
    /// Fraction of the training split used (class-balanced subset), in (0, 1].
    pub data_fraction: f64,
    /// Images downscaled to this size (`None`: original size).
    pub image_size: Option<usize>,
    /// Multiplier of the network's channel counts.
    pub channel_scale: f64,
    /// Multiplier of the network's depth (micro cells; macro and NAS-RL depth is the arch's).
    pub depth_scale: f64,
}

impl Fidelity {
    /// Full fidelity with `epochs` epochs.
    pub fn full(epochs: usize) -> Self {
        Fidelity {
            epochs,
            data_fraction: 1.0,
            image_size: None,
            channel_scale: 1.0,
            depth_scale: 1.0,
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// `InvalidSetting` naming the first impossible one.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(invalid("fidelity.epochs", "must be at least 1"));
        }
        if !(self.data_fraction > 0.0 && self.data_fraction <= 1.0) {
            return Err(invalid(
                "fidelity.data_fraction",
                format!("{} is not in (0, 1]", self.data_fraction),
            ));
        }
        if self.image_size.is_some_and(|s| s < 8) {
            return Err(invalid(
                "fidelity.image_size",
                "images must be at least 8×8",
            ));
        }
        for (field, v) in [
            ("fidelity.channel_scale", self.channel_scale),
            ("fidelity.depth_scale", self.depth_scale),
        ] {
            if !(v > 0.0 && v.is_finite()) {
                return Err(invalid(field, format!("{v} is not a positive number")));
            }
        }
        Ok(())
    }
}
