//! Real data, small budget: the ENAS micro supernet's shared weights must learn a signal that
//! tells architectures apart. Before the fixes of issue 14 random cells scored near chance
//! after a whole epoch; this test fails if that comes back.

use crate::support;
use burn::tensor::Device;
use burn_nas::data::fashion_mnist;
use burn_nas::estimator::CosineWarmRestarts;
use burn_nas::nn::MicroSupernet;
use burn_nas::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Mean validation accuracy of `n` uniformly random cells scored with the shared weights.
fn mean_random_cell_accuracy(
    estimator: &mut SharedWeights<MicroSupernet>,
    space: &MicroSpace,
    n: usize,
    rng: &mut ChaCha8Rng,
) -> f64 {
    let mut sum = 0.0;
    for _ in 0..n {
        let arch = space.sample(rng).unwrap();
        sum += Estimator::<MicroArch>::estimate(estimator, &arch)
            .unwrap()
            .metrics
            .valid_accuracy;
    }
    sum / n as f64
}

/// Mean shared-weight loss of the last epoch must end below this (chance: ln 10 = 2.30).
/// Measured with seed 3: 2.22 → 2.03 → 1.89. The last epoch's loss over seeds 3–7 (the
/// device's and the data order's seed; the cells' seed + 2): 1.89, 1.99, 1.72, 1.81, 1.81, and
/// 1.92, 2.01, 1.81, 2.01, 1.75 with the reductions' convolutions through the dense kernel
/// (the same sums in another order: training is chaotic in the last bits).
const LOSS_CEILING: f64 = 2.1;
/// Mean random-cell accuracy after training must reach this (chance: 0.10; 0.10–0.11 before
/// training). Over the same seeds 3–7: 0.352, 0.250, 0.373, 0.334, 0.373, and 0.242, 0.236,
/// 0.349, 0.269, 0.360 through the dense kernel — so the floor sits below every one of them,
/// more than twice chance. (It once stood at 0.28, set from seed 3 alone: seed 4 misses it.)
const ACCURACY_FLOOR: f64 = 0.22;

#[test]
fn shared_weights_learn_random_cells_well_above_chance() {
    let _turn = support::turn();
    // The fast preset's supernet and training, on 4,000 embedded Fashion-MNIST images at 14×14
    // (375 steps).
    let (train, test) = fashion_mnist::load_embedded().unwrap();
    let first = train.subset(&(0..5_000).collect::<Vec<_>>()).unwrap();
    let task = Task::split(first, 1_000, Some(test))
        .unwrap()
        .reduced(1.0, Some(14), 0)
        .unwrap();
    let device = Device::flex();
    device.seed(3);
    device.clone().autodiff().seed(3);
    let space = MicroSpace::default();
    let supernet = MicroSupernetConfig::new(10)
        .with_in_channels(1)
        .with_image_size(14)
        .with_layers(2)
        .with_channels(8)
        .init(&space, &device.clone().autodiff())
        .unwrap();
    let epochs = 3;
    let training = TrainConfig {
        epochs,
        batch_size: 32,
        lr: CosineWarmRestarts::single(0.05, 5e-4, epochs),
        momentum: 0.9,
        weight_decay: 1e-4,
        grad_clip: Some(5.0),
        augmentation: Augmentation {
            pad_crop: 2,
            ..Augmentation::none()
        },
        seed: 3,
        eval_batch_size: 500,
    };
    let mut shared =
        SharedWeights::<MicroSupernet>::new(supernet, &task, training, 250, device).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let before = mean_random_cell_accuracy(&mut shared, &space, 12, &mut rng);
    let mut losses = Vec::new();
    for _ in 0..epochs {
        let mut sampler = || Ok(space.sample(&mut rng)?);
        losses.push(shared.train_epoch(&mut sampler).unwrap());
    }
    let after = mean_random_cell_accuracy(&mut shared, &space, 12, &mut rng);
    eprintln!("random cells: {before:.3} before, {after:.3} after; losses {losses:?}");
    assert!(
        losses[2] < losses[0] && losses[2] < LOSS_CEILING,
        "the shared-weight loss must fall well below chance (ln 10 = 2.30): {losses:?}"
    );
    assert!(
        after >= ACCURACY_FLOOR && after >= before + 0.12,
        "random cells must score well above chance (0.10) after training: {before:.3} → {after:.3}"
    );
}
