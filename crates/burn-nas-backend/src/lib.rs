//! Device selection for [burn-nas](https://crates.io/crates/burn-nas): one string picks the
//! backend and device a search runs on.
//!
//! | string                  | device                                   | cargo feature |
//! |-------------------------|------------------------------------------|---------------|
//! | `flex`                  | burn's pure-Rust CPU backend (default)   | `flex`        |
//! | `wgpu`                  | the best wgpu adapter                    | `wgpu`        |
//! | `wgpu:N`                | the N-th discrete GPU through wgpu       | `wgpu`        |
//! | `wgpu:cpu`              | a CPU adapter (e.g. Mesa's lavapipe)     | `wgpu`        |
//! | `cuda`, `cuda:N`        | CUDA device N (default 0)                | `cuda`        |
//! | `remote:ws://HOST:PORT` | a burn remote server (`Worker`, the `worker` example) | `remote` |
//!
//! A comma-separated list (`--devices flex,flex`, `cuda:0,cuda:1`) becomes a [`DevicePool`]:
//! multi-trial estimators train one child per pool entry at a time, through a
//! [`TrialExecutor`] that retires failed devices and retries their trials elsewhere.
//!
//! Strings parse whether or not the backend was compiled in; [`DeviceSpec::to_device`] then
//! says which cargo feature is missing. [`DeviceSpec::from_env`] reads `BURN_NAS_DEVICE`.
//!
//! ```
//! use burn_nas_backend::DeviceSpec;
//! let spec: DeviceSpec = "cuda:1".parse()?;
//! assert_eq!(spec, DeviceSpec::Cuda(1));
//! assert_eq!(spec.to_string(), "cuda:1");
//! assert!("tpu".parse::<DeviceSpec>().is_err());
//! # Ok::<(), burn_nas_backend::DeviceError>(())
//! ```
//!
//! ## Cargo features
#![doc = document_features::document_features!()]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

mod compute;
mod error;
mod executor;
mod pool;
mod trials;
#[cfg(feature = "remote")]
mod worker;

use std::fmt;
use std::str::FromStr;

pub use burn::tensor::Device;
pub use compute::join_compute_pool;
pub use error::DeviceError;
#[doc(hidden)]
pub use executor::FaultInjection;
pub use executor::{DEFAULT_MAX_RETRIES, TrialExecutor};
pub use pool::DevicePool;
pub use trials::{Attempt, TrialOutcome, TrialsReport};
#[cfg(feature = "remote")]
#[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
pub use worker::Worker;

/// The process's device random generators, held for one "seed, then draw" sequence.
///
/// burn's random generators are per process (`flex`: one global generator; the CubeCL
/// backends: one per process too), so a trial that seeds a device and draws its initial weights
/// must not interleave with another thread doing the same: each holds this guard from seeding
/// to its last draw (parameters are drawn lazily, so draw them inside it, e.g. with
/// `burn_nas_nn::materialize_params`).
///
/// ```
/// let _guard = burn_nas_backend::device_rng_guard();
/// // seed the device and draw the initial weights here
/// ```
pub fn device_rng_guard() -> std::sync::MutexGuard<'static, ()> {
    static DEVICE_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // A thread that panicked while holding it left nothing half-written in `()`.
    DEVICE_RNG.lock().unwrap_or_else(|e| e.into_inner())
}

/// Name of the environment variable holding the default device string.
pub const DEVICE_ENV: &str = "BURN_NAS_DEVICE";

const KNOWN: &str = "`flex`, `wgpu`, `cuda`, `remote`";

/// Which wgpu adapter to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WgpuAdapter {
    /// wgpu's choice (high-power GPU first; `CUBECL_WGPU_DEFAULT_DEVICE` overrides).
    Default,
    /// The N-th discrete GPU.
    Discrete(usize),
    /// A CPU adapter such as Mesa's lavapipe software Vulkan.
    Cpu,
}

/// A device named by a string: backend plus which device of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DeviceSpec {
    /// burn's `flex` CPU backend.
    Flex,
    /// A wgpu adapter.
    Wgpu(WgpuAdapter),
    /// A CUDA device by index.
    Cuda(usize),
    /// A burn remote server's device 0, by WebSocket URL (`ws://host:port`).
    Remote(String),
}

impl Default for DeviceSpec {
    /// `flex`, the CPU backend every default build has.
    fn default() -> Self {
        DeviceSpec::Flex
    }
}

fn parse_index(spec: &str, part: &str, extra: &'static str) -> Result<usize, DeviceError> {
    part.parse().map_err(|_| DeviceError::BadIndex {
        spec: spec.to_string(),
        part: part.to_string(),
        extra,
    })
}

impl FromStr for DeviceSpec {
    type Err = DeviceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let spec = s.trim();
        let (backend, rest) = match spec.split_once(':') {
            Some((b, r)) => (b, Some(r)),
            None => (spec, None),
        };
        match (backend.to_ascii_lowercase().as_str(), rest) {
            ("flex" | "cpu", None) => Ok(DeviceSpec::Flex),
            ("wgpu", None) => Ok(DeviceSpec::Wgpu(WgpuAdapter::Default)),
            ("wgpu", Some("cpu")) => Ok(DeviceSpec::Wgpu(WgpuAdapter::Cpu)),
            ("wgpu", Some(n)) => Ok(DeviceSpec::Wgpu(WgpuAdapter::Discrete(parse_index(
                spec,
                n,
                " or `cpu`",
            )?))),
            ("cuda", None) => Ok(DeviceSpec::Cuda(0)),
            ("cuda", Some(n)) => Ok(DeviceSpec::Cuda(parse_index(spec, n, "")?)),
            ("remote", Some(url)) => {
                let host = url
                    .strip_prefix("ws://")
                    .or_else(|| url.strip_prefix("wss://"))
                    .ok_or_else(|| DeviceError::BadUrl {
                        spec: spec.to_string(),
                        reason: "a remote device is `remote:ws://HOST:PORT` (or wss://)".into(),
                    })?;
                if host.is_empty() || host.starts_with(':') {
                    return Err(DeviceError::BadUrl {
                        spec: spec.to_string(),
                        reason: "the URL has no host".into(),
                    });
                }
                Ok(DeviceSpec::Remote(url.to_string()))
            }
            ("remote", None) => Err(DeviceError::BadUrl {
                spec: spec.to_string(),
                reason: "a remote device needs a URL: `remote:ws://HOST:PORT`".into(),
            }),
            ("flex" | "cpu", Some(part)) => Err(DeviceError::BadIndex {
                spec: spec.to_string(),
                part: part.to_string(),
                extra: " (flex has a single device: write just `flex`)",
            }),
            _ => Err(DeviceError::UnknownBackend {
                spec: spec.to_string(),
                known: KNOWN,
            }),
        }
    }
}

impl fmt::Display for DeviceSpec {
    /// The canonical string, which parses back to the same spec.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Flex => f.write_str("flex"),
            DeviceSpec::Wgpu(WgpuAdapter::Default) => f.write_str("wgpu"),
            DeviceSpec::Wgpu(WgpuAdapter::Discrete(n)) => write!(f, "wgpu:{n}"),
            DeviceSpec::Wgpu(WgpuAdapter::Cpu) => f.write_str("wgpu:cpu"),
            DeviceSpec::Cuda(n) => write!(f, "cuda:{n}"),
            DeviceSpec::Remote(url) => write!(f, "remote:{url}"),
        }
    }
}

/// Whether `device` is burn's `flex` CPU backend (plain or autodiff): where work is spread over
/// the CPU's threads by the caller (e.g. the shared weights scoring several children at once).
///
/// ```
/// use burn_nas_backend::{Device, is_flex};
///
/// assert!(is_flex(&Device::flex()));
/// assert!(is_flex(&Device::flex().autodiff()));
/// ```
pub fn is_flex(device: &Device) -> bool {
    #[cfg(feature = "flex")]
    {
        matches!(
            device.clone().inner().as_dispatch(),
            burn::backend::DispatchDevice::Flex(_)
        )
    }
    #[cfg(not(feature = "flex"))]
    {
        let _ = device;
        false
    }
}

/// The backends this build was compiled with, by name (`"flex"`, `"wgpu"`, `"cuda"`, `"remote"`).
pub fn available_backends() -> Vec<&'static str> {
    let mut out = Vec::new();
    if cfg!(feature = "flex") {
        out.push("flex");
    }
    if cfg!(feature = "wgpu") {
        out.push("wgpu");
    }
    if cfg!(feature = "cuda") {
        out.push("cuda");
    }
    if cfg!(feature = "remote") {
        out.push("remote");
    }
    out
}

impl DeviceSpec {
    /// The cargo feature that compiles this spec's backend in.
    pub fn feature(&self) -> &'static str {
        match self {
            DeviceSpec::Flex => "flex",
            DeviceSpec::Wgpu(_) => "wgpu",
            DeviceSpec::Cuda(_) => "cuda",
            DeviceSpec::Remote(_) => "remote",
        }
    }

    /// `true` when this build can create the device (its backend was compiled in).
    pub fn is_available(&self) -> bool {
        available_backends().contains(&self.feature())
    }

    fn not_compiled(&self) -> DeviceError {
        DeviceError::NotCompiled {
            spec: self.to_string(),
            feature: self.feature(),
            available: available_backends().join(", "),
        }
    }

    /// The default device: `BURN_NAS_DEVICE` if set and non-empty, else `flex`.
    ///
    /// # Errors
    /// [`DeviceError::Env`] when the variable holds an invalid device string.
    pub fn from_env() -> Result<DeviceSpec, DeviceError> {
        match std::env::var(DEVICE_ENV) {
            Ok(v) if !v.trim().is_empty() => v.parse().map_err(|e| DeviceError::Env {
                var: DEVICE_ENV,
                source: Box::new(e),
            }),
            _ => Ok(DeviceSpec::Flex),
        }
    }

    /// Parses a comma-separated device list such as `cuda:0,cuda:1`.
    ///
    /// # Errors
    /// [`DeviceError::EmptyList`] for a list without devices, or the first bad entry's error.
    pub fn parse_list(list: &str) -> Result<Vec<DeviceSpec>, DeviceError> {
        let specs = list
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(str::parse)
            .collect::<Result<Vec<DeviceSpec>, _>>()?;
        if specs.is_empty() {
            return Err(DeviceError::EmptyList(list.to_string()));
        }
        Ok(specs)
    }

    /// Creates the burn device (without autodiff; call `.autodiff()` on it to train).
    ///
    /// Local devices are created lazily by burn: a missing GPU or driver shows up at the first
    /// tensor operation. A remote device connects here.
    ///
    /// # Errors
    /// [`DeviceError::NotCompiled`] when this build lacks the backend,
    /// [`DeviceError::Unavailable`] for CUDA without a loadable NVIDIA driver,
    /// [`DeviceError::Connect`] when a remote server cannot be reached.
    pub fn to_device(&self) -> Result<Device, DeviceError> {
        if !self.is_available() {
            return Err(self.not_compiled());
        }
        match self {
            #[cfg(feature = "flex")]
            DeviceSpec::Flex => Ok(Device::flex()),
            #[cfg(feature = "wgpu")]
            DeviceSpec::Wgpu(adapter) => {
                use burn::tensor::DeviceKind;
                let kind = match adapter {
                    WgpuAdapter::Default => DeviceKind::DefaultDevice,
                    WgpuAdapter::Discrete(n) => DeviceKind::DiscreteGpu(*n),
                    WgpuAdapter::Cpu => DeviceKind::Cpu,
                };
                Ok(Device::wgpu(kind))
            }
            #[cfg(feature = "cuda")]
            DeviceSpec::Cuda(n) => {
                cuda_driver_loads().map_err(|reason| DeviceError::Unavailable {
                    spec: self.to_string(),
                    reason,
                })?;
                Ok(Device::cuda(*n))
            }
            #[cfg(feature = "remote")]
            DeviceSpec::Remote(url) => {
                let host = burn::remote::RemoteHost::websocket(url);
                Device::remote_options(&host)
                    .init()
                    .map_err(|e| DeviceError::Connect {
                        url: url.clone(),
                        message: e.to_string(),
                    })
            }
            #[allow(unreachable_patterns)]
            _ => Err(self.not_compiled()),
        }
    }
}

/// Whether the NVIDIA driver library loads. burn's CUDA runtime loads it lazily on a worker
/// thread and panics there when it is missing; checking first turns that into an error.
#[cfg(feature = "cuda")]
fn cuda_driver_loads() -> Result<(), String> {
    const NAMES: &[&str] = if cfg!(windows) {
        &["nvcuda.dll"]
    } else {
        &["libcuda.so.1", "libcuda.so"]
    };
    for name in NAMES {
        // SAFETY: loading the driver runs its initialisers, exactly as the CUDA runtime does
        // when it opens the device right after; the handle is only dropped here.
        if unsafe { libloading::Library::new(name) }.is_ok() {
            return Ok(());
        }
    }
    Err(format!(
        "the NVIDIA driver ({}) cannot be loaded: install the driver or add its directory to \
         LD_LIBRARY_PATH",
        NAMES.join(" or ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "cuda")]
    #[test]
    fn cuda_without_a_driver_is_an_error_not_a_panic() {
        match (cuda_driver_loads(), DeviceSpec::Cuda(0).to_device()) {
            (Ok(()), device) => assert!(device.is_ok()),
            (Err(_), Err(DeviceError::Unavailable { spec, reason })) => {
                assert_eq!(spec, "cuda:0");
                assert!(reason.contains("NVIDIA driver"), "{reason}");
            }
            (Err(_), other) => panic!("expected Unavailable, got ok = {}", other.is_ok()),
        }
    }

    #[test]
    fn parses_and_prints_every_form() {
        for (text, spec) in [
            ("flex", DeviceSpec::Flex),
            ("wgpu", DeviceSpec::Wgpu(WgpuAdapter::Default)),
            ("wgpu:2", DeviceSpec::Wgpu(WgpuAdapter::Discrete(2))),
            ("wgpu:cpu", DeviceSpec::Wgpu(WgpuAdapter::Cpu)),
            ("cuda:1", DeviceSpec::Cuda(1)),
            (
                "remote:ws://127.0.0.1:3000",
                DeviceSpec::Remote("ws://127.0.0.1:3000".into()),
            ),
        ] {
            assert_eq!(text.parse::<DeviceSpec>().unwrap(), spec, "{text}");
            assert_eq!(spec.to_string(), text);
        }
        assert_eq!("cuda".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(0));
        assert_eq!(" FLEX ".parse::<DeviceSpec>().unwrap(), DeviceSpec::Flex);
    }

    #[test]
    fn unknown_backend_is_named() {
        let err = "tpu:0".parse::<DeviceSpec>().unwrap_err();
        assert!(matches!(&err, DeviceError::UnknownBackend { spec, .. } if spec == "tpu:0"));
        assert!(err.to_string().contains("`tpu:0`"), "{err}");
    }

    #[test]
    fn bad_index_is_named() {
        let err = "cuda:x".parse::<DeviceSpec>().unwrap_err();
        assert!(
            matches!(&err, DeviceError::BadIndex { part, .. } if part == "x"),
            "{err}"
        );
        let err = "flex:1".parse::<DeviceSpec>().unwrap_err();
        assert!(matches!(err, DeviceError::BadIndex { .. }));
    }

    #[test]
    fn bad_remote_url_is_named() {
        for bad in ["remote", "remote:http://h:1", "remote:ws://"] {
            let err = bad.parse::<DeviceSpec>().unwrap_err();
            assert!(matches!(err, DeviceError::BadUrl { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn lists_parse_and_empty_lists_fail() {
        assert_eq!(
            DeviceSpec::parse_list("cuda:0, cuda:1").unwrap(),
            vec![DeviceSpec::Cuda(0), DeviceSpec::Cuda(1)]
        );
        assert!(matches!(
            DeviceSpec::parse_list(" , "),
            Err(DeviceError::EmptyList(_))
        ));
        assert!(matches!(
            DeviceSpec::parse_list("flex,tpu"),
            Err(DeviceError::UnknownBackend { .. })
        ));
    }

    #[test]
    fn missing_backend_names_its_feature() {
        for spec in [
            DeviceSpec::Wgpu(WgpuAdapter::Default),
            DeviceSpec::Cuda(0),
            DeviceSpec::Remote("ws://127.0.0.1:1".into()),
        ] {
            if spec.is_available() {
                continue;
            }
            match spec.to_device() {
                Err(DeviceError::NotCompiled { feature, .. }) => {
                    assert_eq!(feature, spec.feature())
                }
                other => panic!("{spec}: expected NotCompiled, got {other:?}"),
            }
        }
    }

    #[cfg(feature = "flex")]
    #[test]
    fn flex_device_computes() {
        use burn::tensor::Tensor;
        let device = DeviceSpec::Flex.to_device().unwrap();
        let t = Tensor::<1>::from_floats([1.0, 2.0, 3.0], &device);
        let sum = t.sum().into_scalar::<f32>();
        assert_eq!(sum, 6.0);
        assert!(available_backends().contains(&"flex"));
    }
}
