//! [`Worker`]: serves one local device to searchers on other machines through burn's own
//! remote backend (WebSocket transport), so a pool can list `remote:ws://HOST:PORT` devices.

use std::net::{SocketAddr, TcpListener};

use burn::server::{RemoteServer, WebSocketTransport};
use burn::tensor::Device;

use crate::{DeviceError, DeviceSpec};

/// A burn remote server for one local device, bound and ready to serve.
///
/// Binding and serving are separate so a caller can learn the port (bind to port 0 for a
/// free one) before any searcher connects:
///
/// ```no_run
/// use burn_nas_backend::{DeviceSpec, Worker};
/// let worker = Worker::bind(&DeviceSpec::Flex, "0.0.0.0:3000".parse().unwrap())?;
/// println!("searchers use --devices remote:ws://THIS_HOST:{}", worker.port());
/// worker.serve()?; // until Ctrl-C or SIGTERM
/// # Ok::<(), burn_nas_backend::DeviceError>(())
/// ```
///
/// The WebSocket transport is unencrypted and unauthenticated: run workers on a trusted
/// network only.
#[derive(Debug)]
#[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
pub struct Worker {
    spec: DeviceSpec,
    device: Device,
    listener: TcpListener,
    addr: SocketAddr,
}

impl Worker {
    /// Creates the device of `spec` and binds `addr` (port 0 picks a free port).
    ///
    /// # Errors
    /// [`DeviceError::NotServable`] for a remote spec (a worker serves a local device),
    /// [`DeviceSpec::to_device`]'s errors, [`DeviceError::Bind`] when the address is taken
    /// or not local.
    pub fn bind(spec: &DeviceSpec, addr: SocketAddr) -> Result<Worker, DeviceError> {
        if matches!(spec, DeviceSpec::Remote(_)) {
            return Err(DeviceError::NotServable {
                spec: spec.to_string(),
            });
        }
        let device = spec.to_device()?;
        let bind_error = |e: std::io::Error| DeviceError::Bind {
            addr: addr.to_string(),
            message: e.to_string(),
        };
        let listener = TcpListener::bind(addr).map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        Ok(Worker {
            spec: spec.clone(),
            device,
            listener,
            addr,
        })
    }

    /// The address actually bound (with the chosen port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The device this worker serves.
    pub fn spec(&self) -> &DeviceSpec {
        &self.spec
    }

    /// Serves the device until Ctrl-C or `SIGTERM`, blocking the calling thread. Each
    /// searcher's session trains on this device; the autodiff graph stays on the searcher.
    ///
    /// # Errors
    /// [`DeviceError::Serve`] when the server cannot start or stops on an error.
    pub fn serve(self) -> Result<(), DeviceError> {
        RemoteServer::new([self.device])
            .serve(WebSocketTransport::from_listener(self.listener))
            .map_err(|e| DeviceError::Serve {
                spec: self.spec.to_string(),
                message: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_does_not_serve_a_remote_device() {
        let spec: DeviceSpec = "remote:ws://127.0.0.1:1".parse().unwrap();
        let err = Worker::bind(&spec, "127.0.0.1:0".parse().unwrap()).unwrap_err();
        assert!(matches!(err, DeviceError::NotServable { .. }), "{err}");
    }

    #[cfg(feature = "flex")]
    #[test]
    fn a_taken_port_is_a_typed_error() {
        let worker = Worker::bind(&DeviceSpec::Flex, "127.0.0.1:0".parse().unwrap()).unwrap();
        assert_ne!(worker.port(), 0);
        let err = Worker::bind(&DeviceSpec::Flex, worker.local_addr()).unwrap_err();
        match err {
            DeviceError::Bind { addr, .. } => assert_eq!(addr, worker.local_addr().to_string()),
            other => panic!("expected Bind, got {other}"),
        }
    }
}
