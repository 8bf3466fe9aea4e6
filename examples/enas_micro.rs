//! ENAS micro search (Pham et al. 2018): a REINFORCE controller samples normal + reduction
//! cells, a supernet shares the weights of every cell, the two are trained in alternation; the
//! best sampled cell is then retrained from scratch and its test accuracy reported.
//!
//! ```text
//! cargo run --release --example enas_micro                     # ~15 min on 2 CPU cores
//! cargo run --release --example enas_micro -- --help
//! cargo run --release --example enas_micro -- --preset paper --dataset cifar10 \
//!     --data-dir cifar-10-batches-bin --device cuda              # the paper's settings
//! cargo run --release --example enas_micro -- --resume runs/enas_micro
//! ```

mod common;

use burn_nas::estimator::{CosineWarmRestarts, MicroChild};
use burn_nas::prelude::*;
use burn_nas::space::nn::MicroSupernet;
use clap::{Parser, ValueEnum};
use common::CommonArgs;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Preset {
    /// Search and a short retrain in about 15 minutes on 2 CPU cores (Fashion-MNIST): a small
    /// supernet (2 + 2 cells × 8 channels) at 14×14 on 10,000 training images, 4 rounds of 30
    /// controller updates × 10; retrain 2 epochs at 28×28 with 8 channels, test on 10,000.
    Fast,
    /// ENAS's CIFAR-10 settings: supernet 6 + 2 layers × 20 channels, 45k/5k split, 150 epochs
    /// of search; retrain 15 layers × 36 channels, aux head, drop path, 630 epochs. For a GPU.
    Paper,
}

/// ENAS micro search, then retraining of the found cell.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Settings bundle; the flags below override single values.
    #[arg(long, value_enum, default_value = "fast")]
    preset: Preset,
    /// Supernet channels at the first cell.
    #[arg(long)]
    channels: Option<usize>,
    /// Supernet normal layers (two reduction cells are added).
    #[arg(long)]
    layers: Option<usize>,
    /// Downscale images to this size during the search (lower fidelity).
    #[arg(long)]
    search_image_size: Option<usize>,
    /// Minibatch size of shared-weight training.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Channels of the retrained network.
    #[arg(long)]
    retrain_channels: Option<usize>,
    /// Layers of the retrained network.
    #[arg(long)]
    retrain_layers: Option<usize>,
    #[command(flatten)]
    common: CommonArgs,
}

struct Settings {
    train_images: usize,
    valid_images: usize,
    rounds: usize,
    channels: usize,
    layers: usize,
    search_image_size: Option<usize>,
    batch_size: usize,
    updates_per_round: usize,
    retrain_epochs: usize,
    retrain_channels: usize,
    retrain_layers: usize,
    retrain_aux: bool,
    retrain_drop_path_keep: f64,
    retrain_dropout: f64,
    retrain_batch: usize,
}

fn settings(cli: &Cli) -> Settings {
    let base = match cli.preset {
        Preset::Fast => Settings {
            train_images: 12_000,
            valid_images: 2_000,
            rounds: 4,
            channels: 8,
            layers: 2,
            search_image_size: Some(14),
            batch_size: 32,
            updates_per_round: 30,
            retrain_epochs: 2,
            retrain_channels: 8,
            retrain_layers: 2,
            retrain_aux: false,
            // Two epochs of a small network: regularisation would only slow it down.
            retrain_drop_path_keep: 1.0,
            retrain_dropout: 0.0,
            retrain_batch: 64,
        },
        Preset::Paper => Settings {
            train_images: 0,
            valid_images: 5_000,
            rounds: 150,
            channels: 20,
            layers: 6,
            search_image_size: None,
            batch_size: 128,
            updates_per_round: 30,
            retrain_epochs: 630,
            retrain_channels: 36,
            retrain_layers: 15,
            retrain_aux: true,
            retrain_drop_path_keep: 0.6,
            retrain_dropout: 0.2,
            retrain_batch: 128,
        },
    };
    Settings {
        channels: cli.channels.unwrap_or(base.channels),
        layers: cli.layers.unwrap_or(base.layers),
        search_image_size: cli.search_image_size.or(base.search_image_size),
        batch_size: cli.batch_size.unwrap_or(base.batch_size),
        retrain_epochs: cli.common.retrain_epochs.unwrap_or(base.retrain_epochs),
        retrain_channels: cli.retrain_channels.unwrap_or(base.retrain_channels),
        retrain_layers: cli.retrain_layers.unwrap_or(base.retrain_layers),
        ..base
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    common::init_logging(cli.common.verbose);
    let s = settings(&cli);
    let device = common::device(&cli.common)?;
    let (task, data) = common::load_task(&cli.common, s.train_images, s.valid_images)?;
    println!("ENAS micro search on {data}, device {}", cli.common.device);
    let search_task = match s.search_image_size {
        Some(size) if size != task.image_size() => {
            task.reduced(1.0, Some(size), cli.common.seed)?
        }
        _ => task.clone(),
    };

    let space = MicroSpace::default();
    let supernet = MicroSupernetConfig::new(task.classes())
        .with_in_channels(task.channels())
        .with_image_size(search_task.image_size())
        .with_layers(s.layers)
        .with_channels(s.channels)
        .init(&space, &device.clone().autodiff())?;
    let augmentation = if task.channels() == 3 {
        Augmentation::enas()
    } else {
        // Fashion-MNIST: no flips (asymmetric items), small shifts only.
        Augmentation {
            pad_crop: 2,
            ..Augmentation::none()
        }
    };
    let shared_training = TrainConfig {
        epochs: s.rounds,
        batch_size: s.batch_size,
        lr: match cli.preset {
            Preset::Paper => CosineWarmRestarts::enas(),
            // A few rounds: one cosine cycle over the whole search.
            Preset::Fast => CosineWarmRestarts::single(0.05, 5e-4, s.rounds),
        },
        momentum: 0.9,
        weight_decay: 1e-4,
        grad_clip: Some(5.0),
        augmentation: augmentation.clone(),
        seed: cli.common.seed,
        eval_batch_size: 500,
    };
    let estimator = SharedWeights::<MicroSupernet>::new(
        supernet,
        &search_task,
        shared_training,
        128, // validation images per reward
        device.clone(),
    )?;
    let controller = ReinforceConfig {
        seed: cli.common.seed,
        ..ReinforceConfig::enas_micro()
    };
    let strategy = Reinforce::new(space.clone(), controller, device.clone())?;
    let config = SearchConfig {
        updates_per_round: s.updates_per_round,
        budget: common::budget(&cli.common, s.rounds),
        quiet: cli.common.quiet,
        ..SearchConfig::enas_micro(s.rounds)
    };
    let search = Search::new(&space, strategy, estimator, config)?;
    let extra = serde_json::json!({
        "example": "enas_micro",
        "preset": format!("{:?}", cli.preset),
        "data": data,
        "device": cli.common.device.to_string(),
        "supernet": { "channels": s.channels, "layers": s.layers,
                      "image_size": search_task.image_size(), "batch_size": s.batch_size },
        "seed": cli.common.seed,
    });
    let search = common::attach(search, &cli.common, "enas_micro", extra)?;

    let child = MicroChild(
        MicroNetConfig::new(task.classes())
            .with_in_channels(task.channels())
            .with_image_size(task.image_size())
            .with_layers(s.retrain_layers)
            .with_channels(s.retrain_channels)
            .with_aux_head(s.retrain_aux)
            .with_drop_path_keep(s.retrain_drop_path_keep)
            .with_dropout(s.retrain_dropout),
    );
    let retraining = TrainConfig {
        epochs: s.retrain_epochs,
        batch_size: s.retrain_batch,
        lr: CosineWarmRestarts::single(0.05, 5e-4, s.retrain_epochs.max(1)),
        weight_decay: 3e-4,
        augmentation,
        seed: cli.common.seed,
        ..TrainConfig::default()
    };
    if let Some((derived, _)) = common::finish(search, &child, &task, retraining, &device)? {
        println!("ENAS integer string: {}", derived.arch.to_enas_string());
    }
    Ok(())
}
