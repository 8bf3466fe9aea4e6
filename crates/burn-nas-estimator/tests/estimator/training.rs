//! Real training on the embedded Fashion-MNIST subset: low-fidelity training from scratch,
//! early stopping by curve extrapolation, weight inheritance, and ENAS weight sharing.

use std::sync::{Mutex, MutexGuard, OnceLock};

use burn::tensor::Device;
use burn_nas_data::{Augmentation, fashion_mnist};
use burn_nas_estimator::{
    CosineWarmRestarts, CurveExtrapolation, Estimator, Fidelity, MicroChild, NasRlChild,
    SharedWeights, Task, TrainConfig, TrainFromScratch, WeightInheritance,
};
use burn_nas_nn::{MicroNetConfig, MicroSupernetConfig, NasRlNetConfig};
use burn_nas_space::{MicroOp, MicroSpace, NasRlArch, NasRlLayer, SearchSpace};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The embedded subset: 5,000 images train, the last 1,000 of the 6,000 validate.
/// The flex backend has one random generator per process, shared by every thread; seeded
/// training (dropout, drop path, lazily drawn initial weights) in two tests at once would
/// interleave their draws. Each test takes its turn.
static DEVICE_RNG: Mutex<()> = Mutex::new(());

fn turn() -> MutexGuard<'static, ()> {
    DEVICE_RNG.lock().unwrap_or_else(|e| e.into_inner())
}

fn task() -> &'static Task {
    static TASK: OnceLock<Task> = OnceLock::new();
    TASK.get_or_init(|| {
        let (train, test) = fashion_mnist::load_embedded().expect("embedded Fashion-MNIST");
        Task::split(train, 1_000, Some(test)).expect("task")
    })
}

fn layer(k: usize, filters: usize, stride: usize, inputs: Vec<usize>) -> NasRlLayer {
    NasRlLayer {
        filter_height: k,
        filter_width: k,
        filters,
        stride,
        stride_width: None,
        inputs,
    }
}

/// A small but sensible CNN: 3×3/16, 3×3/32 stride 2, 3×3/32 stride 2.
fn good_arch() -> NasRlArch {
    NasRlArch {
        layers: vec![
            layer(3, 16, 1, vec![]),
            layer(3, 32, 2, vec![0]),
            layer(3, 32, 2, vec![1]),
        ],
    }
}

fn training(epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 64,
        lr: CosineWarmRestarts::single(0.05, 0.001, epochs),
        augmentation: Augmentation::none(),
        eval_batch_size: 500,
        ..TrainConfig::default()
    }
}

fn low_fidelity(epochs: usize, fraction: f64) -> Fidelity {
    Fidelity {
        epochs,
        data_fraction: fraction,
        image_size: Some(14),
        channel_scale: 1.0,
        depth_scale: 1.0,
    }
}

#[test]
fn train_from_scratch_at_low_fidelity_learns_fashion_mnist() {
    let _turn = turn();
    let mut estimator = TrainFromScratch::new(
        NasRlChild(NasRlNetConfig::new(10)),
        task(),
        low_fidelity(4, 0.6),
        training(4),
        Device::flex(),
    )
    .unwrap();
    let estimate = estimator.estimate(&good_arch()).unwrap();
    let m = &estimate.metrics;
    println!("low fidelity (4 epochs, 3,000 images at 14×14): {m:?}");
    // Chance is 10%.
    assert!(
        m.valid_accuracy >= 0.70,
        "validation accuracy {}",
        m.valid_accuracy
    );
    let run = m.training.as_ref().expect("a training run");
    assert_eq!(run.curve.len(), 4);
    assert!(
        run.loss_curve[3] < run.loss_curve[0],
        "{:?}",
        run.loss_curve
    );
    assert_eq!(estimate.reward, m.valid_accuracy);
    assert!(m.params.unwrap() > 10_000 && m.macs.unwrap() > 0);
}

#[test]
fn curve_extrapolation_stops_a_hopeless_real_run() {
    let _turn = turn();
    let inner = TrainFromScratch::new(
        NasRlChild(NasRlNetConfig::new(10)),
        task(),
        low_fidelity(6, 0.2),
        training(6),
        Device::flex(),
    )
    .unwrap();
    let mut estimator = CurveExtrapolation::new(inner, 3, 0.0);
    let good = estimator.estimate(&good_arch()).unwrap();
    assert!(!good.metrics.stopped_early());
    // A single 1×1 convolution with 2 filters and stride 3 cannot compete.
    let hopeless = NasRlArch {
        layers: vec![layer(1, 2, 3, vec![])],
    };
    let bad = estimator.estimate(&hopeless).unwrap();
    println!(
        "good: {:?}\nhopeless: {:?}",
        good.metrics.curve(),
        bad.metrics
    );
    let run = bad.metrics.training.as_ref().expect("a training run");
    assert!(run.stopped_early, "{:?}", bad.metrics);
    assert_eq!(run.epochs, 3);
    assert_eq!(run.epochs_saved, 3);
    assert!(run.predicted_accuracy.unwrap() < good.metrics.valid_accuracy);
    assert!(bad.reward < good.reward);
    assert_eq!(estimator.epochs_saved(), 3);
}

#[test]
fn inherited_weights_start_lower_than_scratch() {
    let _turn = turn();
    let make = || {
        TrainFromScratch::new(
            NasRlChild(NasRlNetConfig::new(10)),
            task(),
            low_fidelity(1, 0.3),
            training(1),
            Device::flex(),
        )
        .unwrap()
    };
    let mut inheriting = WeightInheritance::new(make(), 8);
    let parent = good_arch();
    // Train the parent (two rounds of one epoch each, the second inheriting from the first).
    inheriting.estimate(&parent).unwrap();
    inheriting.estimate_child(&parent, Some(&parent)).unwrap();
    // The child changes the first layer's filter height: every other weight still fits.
    let mut child = parent.clone();
    child.layers[0].filter_height = 5;
    let warm = inheriting.estimate_child(&child, Some(&parent)).unwrap();
    let cold = make().estimate(&child).unwrap();
    let loss_curve = |e: &burn_nas_estimator::Estimate| {
        e.metrics
            .training
            .as_ref()
            .expect("a training run")
            .loss_curve
            .clone()
    };
    let (warm_loss, cold_loss) = (loss_curve(&warm), loss_curve(&cold));
    println!("first-epoch validation loss: inherited {warm_loss:?}, scratch {cold_loss:?}");
    assert!(warm.metrics.inherited() && !cold.metrics.inherited());
    assert!(warm_loss[0] < cold_loss[0]);
}

#[test]
fn shared_weights_accuracy_rises_with_prepare() {
    let _turn = turn();
    let device = Device::flex();
    // A small space (2 nodes, 3 ops) so that a few epochs train every shared op several times.
    let space = MicroSpace::new(
        2,
        &[MicroOp::SepConv3x3, MicroOp::MaxPool3x3, MicroOp::Identity],
    )
    .unwrap();
    let task = task().reduced(0.5, Some(14), 1).unwrap();
    device.seed(5);
    let supernet = MicroSupernetConfig::new(10)
        .with_in_channels(1)
        .with_image_size(14)
        .with_layers(3)
        .with_channels(8)
        .init(&space, &device.clone().autodiff())
        .unwrap();
    let config = TrainConfig {
        batch_size: 32,
        lr: CosineWarmRestarts::single(0.1, 0.01, 3),
        ..training(3)
    };
    let mut estimator = SharedWeights::new(supernet, &task, config, 250, device).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let probes: Vec<_> = (0..6).map(|_| space.sample(&mut rng).unwrap()).collect();
    let mean = |est: &mut SharedWeights<_>| {
        probes
            .iter()
            .map(|a| est.estimate(a).unwrap().reward)
            .sum::<f64>()
            / probes.len() as f64
    };
    let mut curve = vec![mean(&mut estimator)];
    for _ in 0..3 {
        estimator
            .prepare(&mut || Ok(space.sample(&mut rng)?))
            .unwrap();
        curve.push(mean(&mut estimator));
    }
    println!("shared weights: mean accuracy of 6 sampled architectures per epoch {curve:.3?}");
    assert_eq!(estimator.epochs(), 3);
    // Measured 0.102 → 0.273 → 0.354 → 0.434 (device seed 5, the same every run).
    let (before, after) = (curve[0], curve[3]);
    assert!(after > 0.3 && after > before + 0.2, "{curve:?}");

    // Scored together (in parallel), the probes get exactly their one-by-one estimates: the
    // same minibatches in the same order, and the validation cursor ends in the same place.
    let state = estimator.save_state().unwrap();
    let one_by_one: Vec<f64> = probes
        .iter()
        .map(|a| estimator.estimate(a).unwrap().reward)
        .collect();
    let next = estimator.estimate(&probes[0]).unwrap().reward;
    estimator.load_state(&state).unwrap();
    let children: Vec<_> = probes.iter().map(|a| (a, None)).collect();
    let together: Vec<f64> = estimator
        .estimate_many(&children, &std::sync::atomic::AtomicBool::new(false))
        .unwrap()
        .iter()
        .map(|e| e.reward)
        .collect();
    assert!(
        one_by_one.iter().any(|&r| r != one_by_one[0]),
        "{one_by_one:?}"
    );
    assert_eq!(together, one_by_one);
    assert_eq!(estimator.estimate(&probes[0]).unwrap().reward, next);
}

#[test]
fn micro_children_train_through_the_same_loop() {
    let _turn = turn();
    // The micro child (aux head, drop path) trains through the shared loop and improves.
    let config = MicroNetConfig::new(10)
        .with_layers(3)
        .with_channels(8)
        .with_aux_head(true);
    let mut estimator = TrainFromScratch::new(
        MicroChild(config),
        task(),
        low_fidelity(2, 0.1),
        training(2),
        Device::flex(),
    )
    .unwrap();
    let arch = MicroSpace::default()
        .sample(&mut ChaCha8Rng::seed_from_u64(4))
        .unwrap();
    let m = estimator.estimate(&arch).unwrap().metrics;
    println!("micro child: {m:?}");
    // Two short epochs on 500 images: at least twice chance, and the loss falls.
    assert!(
        m.valid_accuracy > 0.2
            && m.training
                .as_ref()
                .is_some_and(|t| t.loss_curve[1] < t.loss_curve[0]),
        "{m:?}"
    );
}
