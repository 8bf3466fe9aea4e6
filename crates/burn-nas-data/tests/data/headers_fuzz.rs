//! Property tests of the dataset readers on damaged files: IDX images and labels (plain and
//! gzipped) and CIFAR-10 batches with arbitrary bytes, headers that promise any size, and
//! wrong lengths never panic or allocate from the header, and fail with a typed error.

use std::io::Write;

use burn_nas_data::{DataError, cifar10, idx};
use proptest::prelude::*;

/// An IDX file: the right magic most of the time, any dimensions (often small), any body.
fn idx_file(magic: u32, ndim: usize) -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![4 => Just(magic), 1 => any::<u32>()],
        prop::collection::vec(prop_oneof![3 => 0u32..6, 1 => any::<u32>()], ndim..=ndim),
        prop::collection::vec(any::<u8>(), 0..200),
        any::<bool>(),
    )
        .prop_map(|(magic, dims, body, gzip)| {
            let mut bytes = magic.to_be_bytes().to_vec();
            for d in dims {
                bytes.extend(d.to_be_bytes());
            }
            bytes.extend(body);
            if gzip {
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                enc.write_all(&bytes).unwrap();
                enc.finish().unwrap()
            } else {
                bytes
            }
        })
}

fn write(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("file");
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

/// A typed error that names the file it is about, with a readable message.
fn check_error(err: &DataError) {
    assert!(!err.to_string().is_empty());
}

/// Cases per property, and the fixed seed that makes every run (and CI) see the same inputs.
const CASES: u32 = 300;
const SEED: u64 = 2026;

proptest! {
    #![proptest_config(ProptestConfig {
            cases: CASES,
            rng_seed: proptest::test_runner::RngSeed::Fixed(SEED),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

    #[test]
    fn idx_images_of_any_bytes_fail_typed(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let (_dir, path) = write(&bytes);
        if let Err(e) = idx::read_images(&path) {
            check_error(&e);
        }
        if let Err(e) = idx::read_labels(&path) {
            check_error(&e);
        }
    }

    #[test]
    fn idx_images_with_any_header_read_exactly_what_it_promises(bytes in idx_file(idx::IMAGES_MAGIC, 3)) {
        let (_dir, path) = write(&bytes);
        match idx::read_images(&path) {
            Ok((pixels, count, rows, cols)) => {
                prop_assert!(rows > 0 && cols > 0);
                prop_assert_eq!(pixels.len(), count * rows * cols);
            }
            Err(e) => check_error(&e),
        }
    }

    #[test]
    fn idx_labels_with_any_header_read_exactly_what_it_promises(bytes in idx_file(idx::LABELS_MAGIC, 1)) {
        let (_dir, path) = write(&bytes);
        match idx::read_labels(&path) {
            Ok(labels) => {
                let count = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
                // Gzipped files: the header is inside the stream; only plain ones are checked.
                if bytes[..2] != [0x1f, 0x8b] {
                    prop_assert_eq!(labels.len(), count as usize);
                }
            }
            Err(e) => check_error(&e),
        }
    }

    #[test]
    fn idx_pairs_of_damaged_files_fail_typed(
        images in idx_file(idx::IMAGES_MAGIC, 3),
        labels in idx_file(idx::LABELS_MAGIC, 1),
        classes in 0usize..12,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (ip, lp) = (dir.path().join("images"), dir.path().join("labels"));
        std::fs::write(&ip, images).unwrap();
        std::fs::write(&lp, labels).unwrap();
        match idx::load_pair("fuzz", &ip, &lp, classes) {
            Ok(ds) => prop_assert!(ds.labels().iter().all(|&l| usize::from(l) < classes)),
            Err(e) => check_error(&e),
        }
    }

    #[test]
    fn cifar_batches_of_any_length_and_labels_fail_typed(
        records in 0usize..3,
        extra in prop_oneof![Just(0usize), 1usize..3073],
        labels in prop::collection::vec(prop_oneof![4 => 0u8..10, 1 => any::<u8>()], 3),
    ) {
        let mut bytes = vec![0u8; records * cifar10::RECORD_LEN + extra];
        for (r, label) in labels.iter().enumerate().take(records) {
            bytes[r * cifar10::RECORD_LEN] = *label;
        }
        let (_dir, path) = write(&bytes);
        match cifar10::read_batch(&path) {
            Ok(ds) => {
                prop_assert_eq!(extra, 0);
                prop_assert_eq!(ds.len(), records);
                prop_assert!(labels[..records].iter().all(|&l| l < 10));
            }
            Err(e) => check_error(&e),
        }
    }
}
