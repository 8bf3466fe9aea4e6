//! Reading CIFAR-10, IDX and Fashion-MNIST files, and every way a file can be broken.

use crate::common;

use std::path::Path;

use burn_nas_data::{DataError, cifar10, fashion_mnist, idx};
use common::*;

// ---------------------------------------------------------------- CIFAR-10

#[test]
fn cifar_batch_reads_back_exactly() {
    let dir = temp_dir();
    let images: Vec<(u8, Vec<u8>)> = (0..7)
        .map(|i| ((i * 3 % 10) as u8, cifar_pixels(i)))
        .collect();
    let path = write(dir.path(), "data_batch_1.bin", &cifar_records(&images));

    let ds = cifar10::read_batch(&path).unwrap();
    assert_eq!(ds.len(), 7);
    assert_eq!(
        (ds.channels(), ds.height(), ds.width(), ds.classes()),
        (3, 32, 32, 10)
    );
    for (i, (label, pixels)) in images.iter().enumerate() {
        assert_eq!(ds.label(i), *label);
        assert_eq!(ds.image(i), pixels.as_slice());
    }
    assert_eq!(ds.labels(), &[0, 3, 6, 9, 2, 5, 8]);
}

fn write_cifar_dir(dir: &Path) -> Vec<(u8, Vec<u8>)> {
    // Batch k holds k + 1 images so that a wrong order or a skipped file shows.
    let mut all = Vec::new();
    let mut seed = 0;
    for (k, file) in cifar10::TRAIN_FILES.iter().enumerate() {
        let images: Vec<(u8, Vec<u8>)> = (0..=k)
            .map(|_| {
                seed += 1;
                ((seed % 10) as u8, cifar_pixels(seed))
            })
            .collect();
        write(dir, file, &cifar_records(&images));
        all.extend(images);
    }
    all
}

#[test]
fn cifar_load_concatenates_the_five_batches_in_order() {
    let dir = temp_dir();
    let train_images = write_cifar_dir(dir.path());
    let test_images = vec![(9, cifar_pixels(100)), (4, cifar_pixels(101))];
    write(dir.path(), cifar10::TEST_FILE, &cifar_records(&test_images));

    let (train, test) = cifar10::load(dir.path()).unwrap();
    assert_eq!(train.len(), 15);
    assert_eq!(test.len(), 2);
    for (i, (label, pixels)) in train_images.iter().enumerate() {
        assert_eq!(
            (train.label(i), train.image(i)),
            (*label, pixels.as_slice()),
            "train {i}"
        );
    }
    for (i, (label, pixels)) in test_images.iter().enumerate() {
        assert_eq!(
            (test.label(i), test.image(i)),
            (*label, pixels.as_slice()),
            "test {i}"
        );
    }
    assert_eq!(train.name(), "cifar10-train");
    assert_eq!(test.name(), "cifar10-test");
}

#[test]
fn cifar_load_accepts_the_archive_subdirectory() {
    let dir = temp_dir();
    let nested = dir.path().join(cifar10::ARCHIVE_DIR);
    std::fs::create_dir(&nested).unwrap();
    let train_images = write_cifar_dir(&nested);
    write(
        &nested,
        cifar10::TEST_FILE,
        &cifar_records(&[(1, cifar_pixels(7))]),
    );

    let (train, test) = cifar10::load(dir.path()).unwrap();
    assert_eq!(train.len(), train_images.len());
    assert_eq!(test.image(0), cifar_pixels(7).as_slice());
}

#[test]
fn cifar_load_reports_the_missing_test_batch() {
    let dir = temp_dir();
    write_cifar_dir(dir.path());
    let err = cifar10::load(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::Missing { .. }), "{err:?}");
    assert!(err.to_string().contains("test_batch.bin"), "{err}");
}

#[test]
fn cifar_size_not_a_multiple_of_3073_is_bad_shape() {
    let dir = temp_dir();
    let mut bytes = cifar_records(&[(1, cifar_pixels(0)), (2, cifar_pixels(1))]);
    bytes.pop();
    let path = write(dir.path(), "short_batch.bin", &bytes);
    let err = cifar10::read_batch(&path).unwrap_err();
    assert!(matches!(err, DataError::BadShape { .. }), "{err:?}");
    assert!(err.to_string().contains("short_batch.bin"), "{err}");
    assert!(err.to_string().contains("6145"), "{err}");
}

#[test]
fn cifar_label_12_is_out_of_range() {
    let dir = temp_dir();
    let bytes = cifar_records(&[(1, cifar_pixels(0)), (12, cifar_pixels(1))]);
    let path = write(dir.path(), "bad_label.bin", &bytes);
    let err = cifar10::read_batch(&path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::LabelOutOfRange {
                index: 1,
                label: 12,
                classes: 10,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("bad_label.bin"), "{err}");
}

#[test]
fn cifar_missing_file_is_missing() {
    let dir = temp_dir();
    let path = dir.path().join("nowhere.bin");
    let err = cifar10::read_batch(&path).unwrap_err();
    assert!(matches!(err, DataError::Missing { .. }), "{err:?}");
    assert!(err.to_string().contains("nowhere.bin"), "{err}");
}

// ---------------------------------------------------------------- IDX

/// 3 images of 2×4 pixels and their labels.
fn small_idx() -> (Vec<u8>, Vec<u8>) {
    let body: Vec<u8> = (0..24).map(|p| (p * 10) as u8).collect();
    (idx_images(3, 2, 4, &body), idx_labels(3, &[2, 0, 1]))
}

#[test]
fn idx_plain_reads_back_exactly() {
    let dir = temp_dir();
    let (images, labels) = small_idx();
    let ip = write(dir.path(), "images-idx3-ubyte", &images);
    let lp = write(dir.path(), "labels-idx1-ubyte", &labels);

    let (pixels, count, rows, cols) = idx::read_images(&ip).unwrap();
    assert_eq!((count, rows, cols), (3, 2, 4));
    assert_eq!(pixels, (0..24).map(|p| (p * 10) as u8).collect::<Vec<_>>());
    assert_eq!(idx::read_labels(&lp).unwrap(), vec![2, 0, 1]);

    let ds = idx::load_pair("small", &ip, &lp, 3).unwrap();
    assert_eq!(
        (
            ds.len(),
            ds.channels(),
            ds.height(),
            ds.width(),
            ds.classes()
        ),
        (3, 1, 2, 4, 3)
    );
    assert_eq!(ds.image(1), &[80, 90, 100, 110, 120, 130, 140, 150]);
    assert_eq!(ds.name(), "small");
}

#[test]
fn idx_gzipped_equals_plain_whatever_the_name() {
    let dir = temp_dir();
    let (images, labels) = small_idx();
    let plain_i = write(dir.path(), "images", &images);
    let plain_l = write(dir.path(), "labels", &labels);
    // Gzip is detected by content: one file carries the suffix, the other does not.
    let gz_i = write(dir.path(), "images.gz", &gzip(&images));
    let gz_l = write(dir.path(), "labels-no-suffix", &gzip(&labels));

    assert_ne!(std::fs::read(&gz_i).unwrap(), images);
    assert_eq!(
        idx::read_images(&gz_i).unwrap(),
        idx::read_images(&plain_i).unwrap()
    );
    assert_eq!(
        idx::read_labels(&gz_l).unwrap(),
        idx::read_labels(&plain_l).unwrap()
    );
    assert_eq!(
        idx::load_pair("x", &gz_i, &gz_l, 3).unwrap(),
        idx::load_pair("x", &plain_i, &plain_l, 3).unwrap()
    );
}

#[test]
fn idx_wrong_magic_is_bad_magic() {
    let dir = temp_dir();
    let (_, labels) = small_idx();
    // A labels file where images are expected: the classic swapped-arguments mistake.
    let path = write(dir.path(), "swapped-idx1-ubyte", &labels);
    let err = idx::read_images(&path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::BadMagic {
                found: 0x801,
                expected: 0x803,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("swapped-idx1-ubyte"), "{err}");
}

#[test]
fn idx_truncated_images_file_is_truncated() {
    let dir = temp_dir();
    let (mut images, _) = small_idx();
    images.truncate(images.len() - 5);
    let path = write(dir.path(), "cut-images.gz", &gzip(&images));
    let err = idx::read_images(&path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Truncated {
                expected: 40,
                found: 35,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("cut-images.gz"), "{err}");
}

#[test]
fn idx_truncated_header_is_truncated() {
    let dir = temp_dir();
    let path = write(dir.path(), "stub-images", &[0, 0, 8, 3, 0, 0]);
    let err = idx::read_images(&path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Truncated {
                expected: 16,
                found: 6,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn idx_truncated_labels_file_is_truncated() {
    let dir = temp_dir();
    let path = write(dir.path(), "cut-labels", &idx_labels(5, &[1, 2, 3]));
    let err = idx::read_labels(&path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Truncated {
                expected: 13,
                found: 11,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("cut-labels"), "{err}");
}

#[test]
fn idx_trailing_bytes_are_bad_shape() {
    let dir = temp_dir();
    let path = write(dir.path(), "long-labels", &idx_labels(2, &[1, 2, 3]));
    let err = idx::read_labels(&path).unwrap_err();
    assert!(matches!(err, DataError::BadShape { .. }), "{err:?}");
    assert!(err.to_string().contains("long-labels"), "{err}");
}

#[test]
fn idx_zero_sized_images_are_bad_shape() {
    let dir = temp_dir();
    let path = write(dir.path(), "empty-rows", &idx_images(3, 0, 4, &[]));
    let err = idx::read_images(&path).unwrap_err();
    assert!(matches!(err, DataError::BadShape { .. }), "{err:?}");
    assert!(err.to_string().contains("empty-rows"), "{err}");
}

#[test]
fn idx_count_mismatch_names_both_files() {
    let dir = temp_dir();
    let (images, _) = small_idx();
    let ip = write(dir.path(), "three-images", &images);
    let lp = write(dir.path(), "four-labels", &idx_labels(4, &[0, 1, 2, 0]));
    let err = idx::load_pair("x", &ip, &lp, 3).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::CountMismatch {
                image_count: 3,
                label_count: 4,
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("three-images") && message.contains("four-labels"),
        "{message}"
    );
}

#[test]
fn idx_label_10_with_10_classes_is_out_of_range() {
    let dir = temp_dir();
    let (images, _) = small_idx();
    let ip = write(dir.path(), "images", &images);
    let lp = write(dir.path(), "labels-with-10", &idx_labels(3, &[9, 10, 0]));
    let err = idx::load_pair("x", &ip, &lp, 10).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::LabelOutOfRange {
                index: 1,
                label: 10,
                classes: 10,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("labels-with-10"), "{err}");
}

#[test]
fn idx_missing_file_is_missing() {
    let dir = temp_dir();
    let path = dir.path().join("absent-idx3-ubyte");
    let err = idx::read_images(&path).unwrap_err();
    assert!(matches!(err, DataError::Missing { .. }), "{err:?}");
    assert!(err.to_string().contains("absent-idx3-ubyte"), "{err}");
}

#[test]
fn corrupt_gzip_is_an_io_error_naming_the_file() {
    let dir = temp_dir();
    let (images, _) = small_idx();
    let mut bytes = gzip(&images);
    bytes.truncate(bytes.len() / 2);
    let path = write(dir.path(), "broken.gz", &bytes);
    let err = idx::read_images(&path).unwrap_err();
    assert!(matches!(err, DataError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("broken.gz"), "{err}");
}

// ---------------------------------------------------------------- Fashion-MNIST

#[test]
fn embedded_fashion_mnist_is_the_documented_subset() {
    let (train, test) = fashion_mnist::load_embedded().unwrap();
    assert_eq!((train.len(), test.len()), (6_000, 1_000));
    for ds in [&train, &test] {
        assert_eq!(
            (ds.channels(), ds.height(), ds.width(), ds.classes()),
            (1, 28, 28, 10)
        );
    }
    assert!(
        train.class_counts().iter().all(|&n| n > 0),
        "{:?}",
        train.class_counts()
    );
    assert!(
        test.class_counts().iter().all(|&n| n > 0),
        "{:?}",
        test.class_counts()
    );
    // Not blank: real images have varied pixels.
    let image = train.image(0);
    assert!(image.contains(&0) && image.iter().any(|&p| p > 200));
}

#[test]
fn fashion_mnist_explicit_dir_without_files_is_missing() {
    let dir = temp_dir();
    let err = fashion_mnist::load(Some(dir.path())).unwrap_err();
    assert!(matches!(err, DataError::Missing { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&dir.path().display().to_string()),
        "{err}"
    );

    let absent = dir.path().join("no-such-dir");
    let err = fashion_mnist::load(Some(&absent)).unwrap_err();
    assert!(matches!(err, DataError::Missing { .. }), "{err:?}");
    assert!(err.to_string().contains("no-such-dir"), "{err}");
}

#[test]
fn fashion_mnist_explicit_dir_with_plain_and_gzipped_files() {
    let dir = temp_dir();
    let (images, labels) = small_idx();
    // 28×28 is not required: any IDX pair is read as it is.
    write(dir.path(), "train-images-idx3-ubyte", &images);
    write(dir.path(), "train-labels-idx1-ubyte.gz", &gzip(&labels));
    write(dir.path(), "t10k-images-idx3-ubyte.gz", &gzip(&images));
    write(dir.path(), "t10k-labels-idx1-ubyte", &labels);

    let (train, test, source) = fashion_mnist::load(Some(dir.path())).unwrap();
    assert_eq!(
        (train.pixels(), train.labels()),
        (test.pixels(), test.labels())
    );
    assert_eq!(train.len(), 3);
    assert_eq!(train.labels(), &[2, 0, 1]);
    assert_eq!(
        source,
        fashion_mnist::FashionMnistSource::Directory(dir.path().to_path_buf())
    );
    assert!(
        source
            .to_string()
            .contains(&dir.path().display().to_string())
    );
}

#[test]
fn fashion_mnist_system_dir_has_the_full_set() {
    let system = Path::new(fashion_mnist::SYSTEM_DIR);
    if !system.is_dir() {
        eprintln!("skipped: {} does not exist", system.display());
        return;
    }
    let (train, test, source) = fashion_mnist::load(Some(system)).unwrap();
    assert_eq!((train.len(), test.len()), (60_000, 10_000));
    assert_eq!(
        source,
        fashion_mnist::FashionMnistSource::Directory(system.to_path_buf())
    );
    // The embedded subset is exactly the start of the full set.
    let (small_train, small_test) = fashion_mnist::load_embedded().unwrap();
    assert_eq!(
        &train.pixels()[..small_train.pixels().len()],
        small_train.pixels()
    );
    assert_eq!(&train.labels()[..6_000], small_train.labels());
    assert_eq!(
        &test.pixels()[..small_test.pixels().len()],
        small_test.pixels()
    );
    assert_eq!(&test.labels()[..1_000], small_test.labels());
}

#[test]
fn embedded_source_describes_itself() {
    assert_eq!(
        fashion_mnist::FashionMnistSource::Embedded.to_string(),
        "embedded subset (first 6,000 training / 1,000 test images)"
    );
}
