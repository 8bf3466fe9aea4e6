//! `fashion_mnist::load(None)`: the `$BURN_NAS_DATA` and system-directory steps.
//!
//! Kept in its own test binary with a single test, because changing the environment is
//! only sound while no other thread reads it.

mod common;

use std::path::Path;

use burn_nas_data::DataError;
use burn_nas_data::fashion_mnist::{self, ENV_VAR, FashionMnistSource, SYSTEM_DIR};
use common::*;

fn set_env(value: Option<&Path>) {
    // SAFETY: this binary runs this one test on one thread; nothing reads the environment
    // concurrently.
    unsafe {
        match value {
            Some(v) => std::env::set_var(ENV_VAR, v),
            None => std::env::remove_var(ENV_VAR),
        }
    }
}

#[test]
fn resolution_order_without_an_explicit_directory() {
    // Unset (and set-but-empty): the system directory if installed, else the embedded subset.
    for empty in [None, Some(Path::new(""))] {
        set_env(empty);
        let (train, _, source) = fashion_mnist::load(None).unwrap();
        if Path::new(SYSTEM_DIR)
            .join("train-images-idx3-ubyte.gz")
            .is_file()
        {
            assert_eq!(source, FashionMnistSource::System(SYSTEM_DIR.into()));
            assert_eq!(train.len(), 60_000);
        } else {
            assert_eq!(source, FashionMnistSource::Embedded);
            assert_eq!(train.len(), 6_000);
        }
    }

    // Set to a directory without the files: an error, not a fallback.
    let dir = temp_dir();
    set_env(Some(dir.path()));
    let err = fashion_mnist::load(None).unwrap_err();
    assert!(matches!(err, DataError::Missing { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&dir.path().display().to_string()),
        "{err}"
    );

    // Files in its `fashion-mnist` subdirectory are found.
    let nested = dir.path().join("fashion-mnist");
    std::fs::create_dir(&nested).unwrap();
    let images = idx_images(2, 1, 3, &[1, 2, 3, 4, 5, 6]);
    let labels = idx_labels(2, &[9, 0]);
    write(&nested, "train-images-idx3-ubyte.gz", &gzip(&images));
    write(&nested, "train-labels-idx1-ubyte.gz", &gzip(&labels));
    write(&nested, "t10k-images-idx3-ubyte", &images);
    write(&nested, "t10k-labels-idx1-ubyte", &labels);
    let (train, test, source) = fashion_mnist::load(None).unwrap();
    assert_eq!(source, FashionMnistSource::EnvVar(dir.path().to_path_buf()));
    assert_eq!(train.labels(), &[9, 0]);
    assert_eq!(test.image(1), &[4, 5, 6]);

    // An explicit directory wins over the variable.
    let other = temp_dir();
    let err = fashion_mnist::load(Some(other.path())).unwrap_err();
    assert!(
        err.to_string()
            .contains(&other.path().display().to_string()),
        "{err}"
    );
    set_env(None);
}
