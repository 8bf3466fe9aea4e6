//! What the end-to-end test binaries share: a tiny Fashion-MNIST task, short training
//! settings, the lock that makes the tests of one binary take turns with the device's
//! random generator (burn's generators are per process), and the NAS-RL search whose history
//! the parallel, fault-injection and remote tests compare between runs.

#![allow(dead_code)] // Each test binary uses part of this module.

use std::sync::{Mutex, MutexGuard, OnceLock};

use burn::tensor::Device;
use burn_nas::backend::DevicePool;
use burn_nas::data::{Augmentation, fashion_mnist};
use burn_nas::estimator::{CosineWarmRestarts, Metrics};
use burn_nas::prelude::*;
use burn_nas::search::Evaluation;

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

/// `epochs` on half the training images, at full size, width and depth.
pub fn half_data(epochs: usize) -> Fidelity {
    Fidelity {
        epochs,
        data_fraction: 0.5,
        image_size: None,
        channel_scale: 1.0,
        depth_scale: 1.0,
    }
}

/// The 2-layer NAS-RL space of the history tests (filter sizes 1/3, 4 or 8 filters).
pub fn nas_rl_space() -> NasRlSpace {
    NasRlSpace::with_options(2, &[1, 3], &[1, 3], &[4, 8], None).unwrap()
}

/// NAS-RL children trained from scratch for `epochs` on [`half_data`], seeded: on one `flex`
/// device, or on the pool `devices` names (`"flex,flex"`, `"remote:ws://…,…"`).
pub fn nas_rl_estimator(devices: Option<&str>, epochs: usize) -> TrainFromScratch<NasRlChild> {
    let device = Device::flex();
    device.seed(1);
    let estimator = TrainFromScratch::new(
        NasRlChild(NasRlNetConfig::new(10).with_filter_scale(0.5)),
        task(),
        half_data(epochs),
        training(epochs, 3),
        device,
    )
    .unwrap();
    match devices {
        Some(list) => estimator.with_pool(DevicePool::parse(list).unwrap()),
        None => estimator,
    }
}

/// The NAS-RL controller of the history tests on `space` (seed 7).
pub fn nas_rl_controller(space: &NasRlSpace) -> Reinforce<NasRlSpace> {
    Reinforce::new(
        space.clone(),
        ReinforceConfig {
            seed: 7,
            ..ReinforceConfig::nas_rl()
        },
        Device::flex(),
    )
    .unwrap()
}

/// The history of a NAS-RL search of [`nas_rl_space`]: 2 rounds of 4 children, controller
/// seed 7, children estimated by `estimator`.
pub fn nas_rl_history(estimator: impl Estimator<NasRlArch> + 'static) -> Vec<Evaluation> {
    let space = nas_rl_space();
    let strategy = nas_rl_controller(&space);
    let mut config = SearchConfig::multi_trial(2, 4);
    config.quiet = true;
    let mut search = Search::new(&space, strategy, estimator, config).unwrap();
    assert_eq!(search.run().unwrap(), Outcome::BudgetReached);
    search.history().to_vec()
}

/// Metrics without what depends on timing (seconds, retries).
pub fn timeless(m: &Metrics) -> Metrics {
    Metrics {
        seconds: 0.0,
        retries: 0,
        ..m.clone()
    }
}

/// `actual` is `expected` evaluation for evaluation: architectures, rewards, baselines,
/// log-probabilities and every metric but the timing.
pub fn assert_same_history(actual: &[Evaluation], expected: &[Evaluation]) {
    assert_eq!(actual.len(), expected.len());
    for (a, e) in actual.iter().zip(expected) {
        assert_eq!(
            (a.index, a.round, a.update, &a.arch),
            (e.index, e.round, e.update, &e.arch)
        );
        assert_eq!(a.reward, e.reward, "evaluation {}", a.index);
        assert_eq!(a.baseline, e.baseline, "evaluation {}", a.index);
        assert_eq!(a.log_prob, e.log_prob, "evaluation {}", a.index);
        assert_eq!(
            timeless(&a.metrics),
            timeless(&e.metrics),
            "evaluation {}",
            a.index
        );
    }
}

/// A fresh scratch directory for one test (removed first if an earlier run left it), unique per
/// process: `burn-nas-test-<name>-<pid>` in the system's temporary directory.
pub fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("burn-nas-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Path of an example binary built beside the running test binary: test binaries live in
/// `target/<profile>/deps`, examples in `target/<profile>/examples` (`cargo test` builds the
/// examples of the enabled features first).
pub fn example_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>");
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build --example {name}` (`cargo test` builds \
         the examples)",
        path.display()
    );
    path
}
