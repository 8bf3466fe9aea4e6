//! [`DevicePool`]: the devices a multi-trial search trains children on concurrently.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

use crate::{DeviceError, DeviceSpec};

/// An ordered, non-empty list of devices; a multi-trial estimator runs one worker thread per
/// entry, each training one child at a time on its device.
///
/// Entries may repeat: `flex,flex` is two worker threads sharing the CPU (burn's `flex`
/// backend has a single device, and its kernels already use every core through rayon, so two
/// CPU workers help only as far as one child leaves cores idle). `cuda:0,cuda:1` is one
/// worker per GPU; `remote:ws://a:3000,remote:ws://b:3000` one per remote server.
///
/// ```
/// use burn_nas_backend::{DeviceError, DevicePool};
/// # #[cfg(feature = "flex")] {
/// let pool: DevicePool = "flex,flex".parse()?;
/// assert_eq!(pool.len(), 2);
/// assert_eq!(pool.to_string(), "flex,flex");
/// # }
/// assert!(matches!(" , ".parse::<DevicePool>(), Err(DeviceError::EmptyList(_))));
/// # Ok::<(), DeviceError>(())
/// ```
#[derive(Debug, Clone)]
pub struct DevicePool {
    devices: Vec<Device>,
    labels: Vec<String>,
}

impl DevicePool {
    /// A pool of already created devices (labels are their `Debug` forms).
    ///
    /// # Errors
    /// [`DeviceError::EmptyPool`] for an empty list.
    pub fn new(devices: Vec<Device>) -> Result<Self, DeviceError> {
        if devices.is_empty() {
            return Err(DeviceError::EmptyPool);
        }
        let labels = devices.iter().map(|d| format!("{d:?}")).collect();
        Ok(DevicePool { devices, labels })
    }

    /// A pool of one device.
    pub fn single(device: Device) -> Self {
        let labels = vec![format!("{device:?}")];
        DevicePool {
            devices: vec![device],
            labels,
        }
    }

    /// Creates the device of every spec, in order (a remote device connects here).
    ///
    /// # Errors
    /// [`DeviceError::EmptyPool`] for an empty list, or the first spec's
    /// [`DeviceSpec::to_device`] error.
    pub fn from_specs(specs: &[DeviceSpec]) -> Result<Self, DeviceError> {
        if specs.is_empty() {
            return Err(DeviceError::EmptyPool);
        }
        let devices = specs
            .iter()
            .map(DeviceSpec::to_device)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(DevicePool {
            devices,
            labels: specs.iter().map(ToString::to_string).collect(),
        })
    }

    /// Parses a comma-separated list ([`DeviceSpec::parse_list`]) and creates its devices.
    ///
    /// # Errors
    /// As [`DeviceSpec::parse_list`] and [`DeviceSpec::to_device`].
    pub fn parse(list: &str) -> Result<Self, DeviceError> {
        Self::from_specs(&DeviceSpec::parse_list(list)?)
    }

    /// Number of devices (and so of concurrent trials); at least 1.
    pub fn len(&self) -> usize {
        self.devices.len()
    }

    /// Always `false`: a pool has at least one device.
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    /// The devices, in order.
    pub fn devices(&self) -> &[Device] {
        &self.devices
    }

    /// The `i`-th device, if there is one.
    pub fn get(&self, i: usize) -> Option<&Device> {
        self.devices.get(i)
    }

    /// The `i`-th device's label (its device string when built from specs), for logs.
    pub fn label(&self, i: usize) -> &str {
        self.labels.get(i).map_or("?", String::as_str)
    }

    /// Seeds the random generator of every device (weight initialisation, dropout).
    pub fn seed(&self, seed: u64) {
        for device in &self.devices {
            device.seed(seed);
            device.clone().autodiff().seed(seed);
        }
    }
}

impl FromStr for DevicePool {
    type Err = DeviceError;

    /// As [`DevicePool::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for DevicePool {
    /// The labels, comma-separated (`flex,flex`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.labels.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_pools_are_refused() {
        assert_eq!(
            DevicePool::new(Vec::new()).unwrap_err(),
            DeviceError::EmptyPool
        );
        assert_eq!(
            DevicePool::from_specs(&[]).unwrap_err(),
            DeviceError::EmptyPool
        );
        assert!(matches!(
            DevicePool::parse(""),
            Err(DeviceError::EmptyList(_))
        ));
        assert!(matches!(
            DevicePool::parse("flex,tpu"),
            Err(DeviceError::UnknownBackend { .. })
        ));
    }

    #[cfg(feature = "flex")]
    #[test]
    fn flex_pools_have_one_entry_per_worker() {
        let pool = DevicePool::parse("flex, flex,flex").unwrap();
        assert_eq!(pool.len(), 3);
        assert!(!pool.is_empty());
        assert_eq!(pool.to_string(), "flex,flex,flex");
        assert_eq!(pool.label(1), "flex");
        assert!(pool.get(3).is_none());
        assert_eq!(DevicePool::single(Device::flex()).len(), 1);
    }

    #[test]
    fn missing_backends_fail_at_creation() {
        if !DeviceSpec::Cuda(0).is_available() {
            assert!(matches!(
                DevicePool::parse("cuda:0,cuda:1"),
                Err(DeviceError::NotCompiled { .. })
            ));
        }
    }
}
