//! How fast the ENAS micro supernet's shared weights learn: trains the supernet with a
//! uniformly random cell per minibatch and prints, after every epoch, the mean training loss
//! and the mean validation accuracy of random cells scored with the shared weights.
//!
//! The Rust twin of `shared/bench/supernet_accuracy.py` (PyTorch), with the same defaults: the
//! fast preset of `enas_micro` on Fashion-MNIST (first 4,000 training images, the next 2,000
//! for validation, 14×14, pad-and-crop 2, C = 8, 2 normal + 2 reduction cells, batch 32, SGD
//! Nesterov 0.9, L2 1e-4, clip 5, cosine 0.05 → 5e-4 over the run), 30 random cells on
//! 128-image validation batches.
//!
//! ```text
//! cargo run --release --example supernet_accuracy
//! cargo run --release --example supernet_accuracy -- --init he --per-branch-weights --seed 1
//! ```

mod common;

use burn::tensor::Device;
use burn_nas::data::fashion_mnist;
use burn_nas::estimator::CosineWarmRestarts;
use burn_nas::nn::{ConvInit, MicroSupernet};
use burn_nas::prelude::*;
use clap::{Parser, ValueEnum};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Init {
    /// Uniform ±1/√fan-in (PyTorch's default; the supernet's default).
    Uniform,
    /// He normal (ENAS's code).
    He,
}

/// Shared-weight learning speed of the ENAS micro supernet on uniformly random cells.
#[derive(Debug, Parser)]
struct Cli {
    /// Directory of the Fashion-MNIST IDX files (default: as the other examples find it).
    #[arg(long)]
    data_dir: Option<std::path::PathBuf>,
    /// Epochs of shared-weight training.
    #[arg(long, default_value_t = 4)]
    epochs: usize,
    /// Channels `C` of the first cells.
    #[arg(long, default_value_t = 8)]
    channels: usize,
    /// Normal layers (two reduction cells are added).
    #[arg(long, default_value_t = 2)]
    layers: usize,
    /// Image size (area downscaling).
    #[arg(long, default_value_t = 14)]
    hw: usize,
    /// Training images (the first ones of the training set).
    #[arg(long, default_value_t = 4_000)]
    train: usize,
    /// Validation images (the ones after them).
    #[arg(long, default_value_t = 2_000)]
    valid: usize,
    /// Minibatch size.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Random cells scored after each epoch.
    #[arg(long, default_value_t = 30)]
    cells: usize,
    /// Convolution initialisation of the supernet.
    #[arg(long, value_enum, default_value = "uniform")]
    init: Init,
    /// Separate op weights for the two branches of a node (ENAS's code).
    #[arg(long)]
    per_branch_weights: bool,
    /// Seed of the weights, the data order and the sampled cells.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> std::process::ExitCode {
    common::exit_on_error(run())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    let (train, test, source) = fashion_mnist::load(cli.data_dir.as_deref())?;
    let wanted = cli.train + cli.valid;
    if wanted > train.len() {
        return Err(format!(
            "--train {} + --valid {} = {wanted} images, the {source} has {}",
            cli.train,
            cli.valid,
            train.len()
        )
        .into());
    }
    let first = train.subset(&(0..wanted).collect::<Vec<_>>())?;
    let task = Task::split(first, cli.valid, Some(test))?.reduced(1.0, Some(cli.hw), cli.seed)?;
    let device = Device::flex();
    device.seed(cli.seed);
    device.clone().autodiff().seed(cli.seed);
    let space = MicroSpace::default();
    let supernet = MicroSupernetConfig::new(task.classes())
        .with_in_channels(task.channels())
        .with_image_size(cli.hw)
        .with_layers(cli.layers)
        .with_channels(cli.channels)
        .with_dropout(0.0)
        .with_init(match cli.init {
            Init::Uniform => ConvInit::Uniform,
            Init::He => ConvInit::He,
        })
        .with_per_branch_weights(cli.per_branch_weights)
        .init(&space, &device.clone().autodiff())?;
    let training = TrainConfig {
        epochs: cli.epochs,
        batch_size: cli.batch,
        lr: CosineWarmRestarts::single(0.05, 5e-4, cli.epochs),
        momentum: 0.9,
        weight_decay: 1e-4,
        grad_clip: Some(5.0),
        augmentation: Augmentation {
            pad_crop: 2,
            ..Augmentation::none()
        },
        seed: cli.seed,
        eval_batch_size: 500,
    };
    let mut shared = SharedWeights::<MicroSupernet>::new(supernet, &task, training, 128, device)?;
    let mut rng = ChaCha8Rng::seed_from_u64(cli.seed);
    let start = std::time::Instant::now();
    for epoch in 1..=cli.epochs {
        let mut sampler = || Ok(space.sample(&mut rng)?);
        let loss = shared.train_epoch(&mut sampler)?;
        let mut accuracies = Vec::with_capacity(cli.cells);
        for _ in 0..cli.cells {
            let arch = space.sample(&mut rng)?;
            let estimate = Estimator::<MicroArch>::estimate(&mut shared, &arch)?;
            accuracies.push(estimate.metrics.valid_accuracy);
        }
        let mean = accuracies.iter().sum::<f64>() / accuracies.len().max(1) as f64;
        let max = accuracies.iter().copied().fold(0.0, f64::max);
        println!(
            "epoch {epoch}: train loss {loss:.4}, random-cell valid accuracy mean {mean:.3} \
             max {max:.3} ({:.0} s)",
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
