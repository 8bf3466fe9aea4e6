//! Probe (temporary): how fast the ENAS micro supernet's random cells learn, at the settings of
//! `../shared/bench/supernet_accuracy.py`.
use burn_nas::data::fashion_mnist;
use burn_nas::estimator::CosineWarmRestarts;
use burn_nas::prelude::*;
use burn_nas::space::nn::MicroSupernet;
use rand::SeedableRng;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let epochs: usize = args.get(1).map_or(4, |s| s.parse().unwrap());
    let (train, test, _) = fashion_mnist::load(None)?;
    let task = Task::split(
        train.subset(&(0..6000).collect::<Vec<_>>())?,
        2000,
        Some(test),
    )?;
    let task = task.reduced(1.0, Some(14), 0)?;
    let device = burn::tensor::Device::flex();
    device.seed(0);
    device.clone().autodiff().seed(0);
    let space = MicroSpace::default();
    let net = MicroSupernetConfig::new(10)
        .with_in_channels(1)
        .with_image_size(14)
        .with_layers(2)
        .with_channels(8)
        .with_dropout(0.0)
        .init(&space, &device.clone().autodiff())?;
    let training = TrainConfig {
        epochs,
        batch_size: 32,
        lr: CosineWarmRestarts::single(
            std::env::var("PROBE_LR").map_or(0.05, |v| v.parse().unwrap()),
            5e-4,
            epochs,
        ),
        momentum: 0.9,
        weight_decay: 1e-4,
        grad_clip: if std::env::var("PROBE_NOCLIP").is_ok() {
            None
        } else {
            Some(5.0)
        },
        augmentation: Augmentation {
            pad_crop: 2,
            ..Augmentation::none()
        },
        seed: 0,
        eval_batch_size: 500,
    };
    let mut est = SharedWeights::<MicroSupernet>::new(net, &task, training, 128, device)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let t0 = std::time::Instant::now();
    for e in 0..epochs {
        let mut sampler = || Ok(space.sample(&mut rng).unwrap());
        let loss = est.train_epoch(&mut sampler)?;
        let mut accs = Vec::new();
        for _ in 0..30 {
            let a = space.sample(&mut rng)?;
            accs.push(
                Estimator::<MicroArch>::estimate(&mut est, &a)?
                    .metrics
                    .valid_accuracy,
            );
        }
        let mean = accs.iter().sum::<f64>() / 30.0;
        let max = accs.iter().cloned().fold(0.0, f64::max);
        println!(
            "epoch {}: train loss {loss:.4}, random-cell valid acc mean {mean:.3} max {max:.3} ({:.0} s)",
            e + 1,
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
