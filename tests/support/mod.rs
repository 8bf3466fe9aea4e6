//! What the end-to-end test binaries share: a tiny Fashion-MNIST task, short training
//! settings, and the lock that makes the tests of one binary take turns with the device's
//! random generator (burn's generators are per process).

#![allow(dead_code)] // Each test binary uses part of this module.

use std::sync::{Mutex, MutexGuard, OnceLock};

use burn_nas::data::{Augmentation, fashion_mnist};
use burn_nas::estimator::CosineWarmRestarts;
use burn_nas::prelude::*;

/// 600 training and 200 validation images at 14×14, 200 test images (embedded subset).
pub fn task() -> &'static Task {
    static TASK: OnceLock<Task> = OnceLock::new();
    TASK.get_or_init(|| {
        let (train, test) = fashion_mnist::load_embedded().expect("embedded Fashion-MNIST");
        let train = train.subset(&(0..800).collect::<Vec<_>>()).unwrap();
        let test = test.subset(&(0..200).collect::<Vec<_>>()).unwrap();
        Task::split(train, 200, Some(test))
            .unwrap()
            .reduced(1.0, Some(14), 0)
            .unwrap()
    })
}

/// `epochs` of SGD in batches of 50 with a cosine rate 0.05 → 0.005, no augmentation.
pub fn training(epochs: usize, seed: u64) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 50,
        lr: CosineWarmRestarts::single(0.05, 0.005, epochs.max(1)),
        augmentation: Augmentation::none(),
        eval_batch_size: 200,
        seed,
        ..TrainConfig::default()
    }
}

/// Weight initialisation and dropout draw from the device's generator, which every test of
/// a binary shares: each test holds this lock while it runs.
static DEVICE: Mutex<()> = Mutex::new(());

/// Takes the test's turn.
pub fn turn() -> MutexGuard<'static, ()> {
    DEVICE.lock().unwrap_or_else(|e| e.into_inner())
}
