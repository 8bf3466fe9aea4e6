//! `cuda:0` is a device or a typed error, never a panic: on a machine without the NVIDIA driver
//! (CI) the error is [`DeviceError::Unavailable`] naming the driver; in a build without the
//! `cuda` feature it is [`DeviceError::NotCompiled`] naming the feature.
//!
//! CI runs this with `--features wgpu,remote,cuda` beside the wgpu and remote tests, in one
//! feature set, so the CUDA backend is built, linked and asked for a device once.

use burn_nas::backend::{DeviceError, DeviceSpec};

#[test]
fn cuda_zero_is_a_device_or_a_typed_error() {
    let result = DeviceSpec::Cuda(0).to_device();
    if cfg!(feature = "cuda") {
        match result {
            // A machine with a driver (and a GPU) gives a device.
            Ok(_) => {}
            Err(DeviceError::Unavailable { spec, reason }) => {
                assert_eq!(spec, "cuda:0");
                assert!(reason.contains("NVIDIA driver"), "{reason}");
            }
            Err(other) => panic!("expected a device or Unavailable, got: {other}"),
        }
    } else {
        match result {
            Err(DeviceError::NotCompiled { spec, feature, .. }) => {
                assert_eq!(spec, "cuda:0");
                assert_eq!(feature, "cuda");
            }
            Err(other) => panic!("expected NotCompiled, got: {other}"),
            Ok(_) => panic!("a build without the cuda feature gave a cuda device"),
        }
    }
}
