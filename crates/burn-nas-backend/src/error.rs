//! Errors of device selection.

use thiserror::Error;

/// Why a device string could not be turned into a device.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// The backend name is not one burn-nas knows.
    #[error(
        "unknown device `{spec}`: expected one of {known} (e.g. `flex`, `wgpu:0`, `cuda:1`, `remote:ws://host:3000`)"
    )]
    UnknownBackend {
        /// The string as given.
        spec: String,
        /// The backend names that exist.
        known: &'static str,
    },

    /// The backend exists but this build was compiled without it.
    #[error(
        "device `{spec}` needs the `{feature}` cargo feature, which this build does not have (built with: {available})"
    )]
    NotCompiled {
        /// The string as given.
        spec: String,
        /// The cargo feature of `burn-nas` that enables it.
        feature: &'static str,
        /// The backends this build has, comma-separated.
        available: String,
    },

    /// The part after `:` is not a valid device index or selector.
    #[error(
        "device `{spec}`: `{part}` is not a device index (expected a non-negative integer{extra})"
    )]
    BadIndex {
        /// The string as given.
        spec: String,
        /// The offending part.
        part: String,
        /// Other selectors the backend accepts, if any.
        extra: &'static str,
    },

    /// A device whose backend is compiled in but cannot run on this machine (no driver).
    #[error("device `{spec}` is not available on this machine: {reason}")]
    Unavailable {
        /// The device as given.
        spec: String,
        /// What is missing.
        reason: String,
    },

    /// A remote device without a usable WebSocket URL.
    #[error("device `{spec}`: {reason}")]
    BadUrl {
        /// The string as given.
        spec: String,
        /// What is wrong with the URL.
        reason: String,
    },

    /// A device list (`--devices`) with no device in it.
    #[error("empty device list `{0}`: give at least one device, e.g. `flex` or `cuda:0,cuda:1`")]
    EmptyList(String),

    /// A [`DevicePool`](crate::DevicePool) was given no device.
    #[error("a device pool needs at least one device")]
    EmptyPool,

    /// The remote server could not be reached.
    #[error("cannot connect to remote device `{url}`: {message}")]
    Connect {
        /// The server's URL.
        url: String,
        /// The transport's error.
        message: String,
    },

    /// A `Worker` (feature `remote`) was asked to serve a device it cannot host.
    #[error(
        "device `{spec}` cannot be served by a worker: a worker serves a local device (flex, wgpu, cuda)"
    )]
    NotServable {
        /// The string as given.
        spec: String,
    },

    /// A `Worker` (feature `remote`) could not listen on its address.
    #[error("cannot listen on {addr}: {message}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The operating system's error.
        message: String,
    },

    /// The server of a `Worker` (feature `remote`) failed.
    #[error("worker serving `{spec}` failed: {message}")]
    Serve {
        /// The device served.
        spec: String,
        /// The server's error.
        message: String,
    },

    /// The value of the `BURN_NAS_DEVICE` environment variable is invalid.
    #[error("environment variable {var}: {source}")]
    Env {
        /// The variable's name.
        var: &'static str,
        /// What is wrong with its value.
        #[source]
        source: Box<DeviceError>,
    },
}
