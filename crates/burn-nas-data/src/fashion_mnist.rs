//! Fashion-MNIST: found on disk, or the small subset embedded in this crate.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::files::{first_existing, maybe_gunzip};
use crate::idx::{build, load_pair, parse_images, parse_labels};
use crate::{DataError, ImageDataset};

/// The Debian/Ubuntu location (package `dataset-fashion-mnist`).
pub const SYSTEM_DIR: &str = "/usr/share/datasets/fashion-mnist";
/// Environment variable naming a directory with the four Fashion-MNIST files.
pub const ENV_VAR: &str = "BURN_NAS_DATA";
/// Class names, indexed by label.
pub const CLASS_NAMES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];
/// Number of classes.
pub const CLASSES: usize = 10;
/// The four files, without the optional `.gz`: train images, train labels, test images,
/// test labels.
pub const FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];
/// Training images in the embedded subset (the first ones of the official training set).
pub const EMBEDDED_TRAIN: usize = 6_000;
/// Test images in the embedded subset (the first ones of the official test set).
pub const EMBEDDED_TEST: usize = 1_000;

/// The embedded gzipped IDX files, in the order of [`FILES`].
const EMBEDDED: [&[u8]; 4] = [
    include_bytes!("../data/fashion-mnist/train-images-idx3-ubyte.gz"),
    include_bytes!("../data/fashion-mnist/train-labels-idx1-ubyte.gz"),
    include_bytes!("../data/fashion-mnist/t10k-images-idx3-ubyte.gz"),
    include_bytes!("../data/fashion-mnist/t10k-labels-idx1-ubyte.gz"),
];

/// Where [`load`] found Fashion-MNIST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FashionMnistSource {
    /// The directory passed to [`load`].
    Directory(PathBuf),
    /// The directory named by [`ENV_VAR`] (or its `fashion-mnist` subdirectory).
    EnvVar(PathBuf),
    /// [`SYSTEM_DIR`].
    System(PathBuf),
    /// The subset compiled into this crate (see [`load_embedded`]).
    Embedded,
}

impl fmt::Display for FashionMnistSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FashionMnistSource::Directory(dir) => write!(f, "directory {}", dir.display()),
            FashionMnistSource::EnvVar(dir) => write!(f, "${ENV_VAR} directory {}", dir.display()),
            FashionMnistSource::System(dir) => write!(f, "system directory {}", dir.display()),
            FashionMnistSource::Embedded => write!(
                f,
                "embedded subset (first 6,000 training / 1,000 test images)"
            ),
        }
    }
}

/// `(train, test, source)`, from the first place that has Fashion-MNIST:
///
/// 1. `explicit`, when given;
/// 2. the directory in `$BURN_NAS_DATA`, when set and not empty (the files directly in it, or
///    in its `fashion-mnist` subdirectory);
/// 3. [`SYSTEM_DIR`], when it holds all four files;
/// 4. the embedded 6,000 / 1,000 subset ([`load_embedded`]).
///
/// A directory holds Fashion-MNIST when it has the four [`FILES`], each plain or with `.gz`.
/// An explicit directory or a set `$BURN_NAS_DATA` without them is an error
/// ([`DataError::Missing`] naming the directory or the first missing file), not a silent
/// fallback to less data. The choice is logged with `log::info!`.
pub fn load(
    explicit: Option<&Path>,
) -> Result<(ImageDataset, ImageDataset, FashionMnistSource), DataError> {
    let (dir, source) = if let Some(dir) = explicit {
        let found = find_files(dir)?;
        (found, FashionMnistSource::Directory(dir.to_path_buf()))
    } else if let Some(dir) = std::env::var_os(ENV_VAR).filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(dir);
        // A data root shared with other datasets may keep Fashion-MNIST in a subdirectory.
        let found = find_files(&dir)
            .or_else(|err| find_files(&dir.join("fashion-mnist")).map_err(|_| err))?;
        (found, FashionMnistSource::EnvVar(dir))
    } else if let Ok(found) = find_files(Path::new(SYSTEM_DIR)) {
        (found, FashionMnistSource::System(PathBuf::from(SYSTEM_DIR)))
    } else {
        let (train, test) = load_embedded()?;
        log::info!("Fashion-MNIST: {}", FashionMnistSource::Embedded);
        return Ok((train, test, FashionMnistSource::Embedded));
    };
    let [train_images, train_labels, test_images, test_labels] = dir;
    let train = load_pair("fashion-mnist-train", &train_images, &train_labels, CLASSES)?;
    let test = load_pair("fashion-mnist-test", &test_images, &test_labels, CLASSES)?;
    log::info!(
        "Fashion-MNIST from {source}: {} training and {} test images",
        train.len(),
        test.len()
    );
    Ok((train, test, source))
}

/// `(train, test)` from the subset compiled into the crate: the first 6,000 training and
/// first 1,000 test images of Fashion-MNIST (MIT licence, Zalando SE), 1×28×28, 10 classes.
///
/// Enough for examples, tests and quick searches with no download. Errors only if the
/// embedded files were damaged at build time.
pub fn load_embedded() -> Result<(ImageDataset, ImageDataset), DataError> {
    // Errors name the file as it sits in the crate source, the only place it can be fixed.
    let path = |k: usize| PathBuf::from(format!("<embedded>/data/fashion-mnist/{}.gz", FILES[k]));
    let decode = |k: usize| maybe_gunzip(&path(k), EMBEDDED[k].to_vec());
    let train = build(
        "fashion-mnist-train",
        &path(0),
        &path(1),
        parse_images(&path(0), decode(0)?)?,
        parse_labels(&path(1), decode(1)?)?,
        CLASSES,
    )?;
    let test = build(
        "fashion-mnist-test",
        &path(2),
        &path(3),
        parse_images(&path(2), decode(2)?)?,
        parse_labels(&path(3), decode(3)?)?,
        CLASSES,
    )?;
    Ok((train, test))
}

/// The paths of the four files in `dir`, in the order of [`FILES`], each plain or `.gz`.
fn find_files(dir: &Path) -> Result<[PathBuf; 4], DataError> {
    if !dir.is_dir() {
        return Err(DataError::Missing {
            path: dir.to_path_buf(),
        });
    }
    let find = |name: &str| {
        let gz = format!("{name}.gz");
        first_existing(dir, &[name, &gz]).ok_or_else(|| DataError::Missing { path: dir.join(gz) })
    };
    Ok([
        find(FILES[0])?,
        find(FILES[1])?,
        find(FILES[2])?,
        find(FILES[3])?,
    ])
}
