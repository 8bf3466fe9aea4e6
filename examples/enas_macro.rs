//! ENAS macro search (Pham et al. 2018): the controller picks every layer's op and its skip
//! connections, a supernet shares the weights; the best sampled network is then retrained from
//! scratch and its test accuracy reported.
//!
//! ```text
//! cargo run --release --example enas_macro
//! cargo run --release --example enas_macro -- --help
//! cargo run --release --example enas_macro -- --preset paper --dataset cifar10 \
//!     --data-dir cifar-10-batches-bin --device cuda
//! ```

mod common;

use burn_nas::estimator::{CosineWarmRestarts, MacroChild};
use burn_nas::nn::MacroSupernet;
use burn_nas::prelude::*;
use clap::{Parser, ValueEnum};
use common::CommonArgs;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Preset {
    /// Minutes on 2 CPU cores (Fashion-MNIST): 6 layers × 8 channels at 14×14, 12,000 training
    /// images, 4 rounds of 20 controller updates × 10; retrain 2 epochs with 24 channels.
    Fast,
    /// ENAS's CIFAR-10 settings: 12 layers × 36 channels, 50 updates × 20 per epoch, 310
    /// epochs; retrain with 96 channels for 310 epochs. For a GPU.
    Paper,
}

/// ENAS macro search, then retraining of the found network.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Controller values: the official code's (default) or those the ENAS paper states
    /// (100 LSTM units, lr 3.5e-4, tanh constant 2.5, temperature 5), with either preset.
    #[arg(long, value_enum, default_value = "code")]
    controller_values: common::ControllerValues,
    /// Settings bundle; the flags below override single values.
    #[arg(long, value_enum, default_value = "fast")]
    preset: Preset,
    /// Layers of the searched network.
    #[arg(long)]
    layers: Option<usize>,
    /// Supernet channels.
    #[arg(long)]
    channels: Option<usize>,
    /// Downscale images to this size during the search (lower fidelity).
    #[arg(long)]
    search_image_size: Option<usize>,
    /// Channels of the retrained network.
    #[arg(long)]
    retrain_channels: Option<usize>,
    /// Images at the end of the training set held out of the retraining to validate it (0:
    /// none, every training image trains and the per-epoch figures are on the test set, which
    /// nothing selects on; default: the paper preset 0, the fast preset retrains on the
    /// search's own split).
    #[arg(long)]
    retrain_valid_images: Option<usize>,
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> std::process::ExitCode {
    common::exit_on_error(run())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    common::init_logging(cli.common.verbose);
    let paper = cli.preset == Preset::Paper;
    let (layers, channels, image, rounds) = if paper {
        (12, 36, None, 310)
    } else {
        (6, 8, Some(14), 4)
    };
    let layers = cli.layers.unwrap_or(layers);
    let channels = cli.channels.unwrap_or(channels);
    let image = cli.search_image_size.or(image);
    let retrain_channels = cli.retrain_channels.unwrap_or(if paper { 96 } else { 24 });
    // `cifar10_macro_final.sh` trains the final network in batches of 100.
    let retrain_batch = if paper { 100 } else { 64 };
    let device = common::device(&cli.common)?;
    let (train, valid) = if paper { (0, 5_000) } else { (12_000, 2_000) };
    let (task, data) = common::load_task(&cli.common, train, valid)?;
    // The paper preset retrains on all training images, as the official code (`num_valids=0`
    // for a fixed architecture); the fast one on the search's training split.
    let (final_task, retrain_data) = match (paper, cli.retrain_valid_images) {
        (false, None) => (task.clone(), data.clone()),
        (true, given) => common::load_final_task(&cli.common, train, 0, given)?,
        (false, given) => common::load_final_task(&cli.common, train, valid, given)?,
    };
    let retrain_epochs = common::retrain_epochs(
        &cli.common,
        common::RetrainLength::Epochs(if paper { 310 } else { 2 }),
        retrain_batch,
        final_task.train.len(),
    );
    println!("ENAS macro search on {data}, device {}", cli.common.device);
    let search_task = match image {
        Some(size) if size != task.image_size() => {
            task.reduced(1.0, Some(size), cli.common.seed)?
        }
        _ => task.clone(),
    };

    let space = MacroSpace::new(layers, &MacroOp::ALL)?;
    let supernet = MacroSupernetConfig::new(task.classes())
        .with_in_channels(task.channels())
        .with_image_size(search_task.image_size())
        .with_channels(channels)
        .init(&space, &device.clone().autodiff())?;
    let augmentation = if task.channels() == 3 {
        Augmentation::enas()
    } else {
        Augmentation {
            pad_crop: 2,
            ..Augmentation::none()
        }
    };
    let batch_size = if paper { 128 } else { 64 };
    let training = TrainConfig {
        epochs: rounds,
        batch_size,
        lr: if paper {
            CosineWarmRestarts::enas()
        } else {
            CosineWarmRestarts::single(0.05, 5e-4, rounds)
        },
        // The official code adds L2 as `l2 · Σw²` (`child_l2_reg=0.00025`), i.e. weight decay
        // 2 · l2, and computes a clipped gradient that it never applies.
        weight_decay: if paper { 5e-4 } else { 2.5e-4 },
        grad_clip: if paper { None } else { Some(5.0) },
        augmentation: augmentation.clone(),
        seed: cli.common.seed,
        ..TrainConfig::default()
    };
    let estimator = SharedWeights::<MacroSupernet>::new(
        supernet,
        &search_task,
        training,
        batch_size,
        device.clone(),
    )?;
    let controller = cli.controller_values.apply(ReinforceConfig {
        seed: cli.common.seed,
        ..ReinforceConfig::enas_macro()
    });
    let strategy = Reinforce::new(space.clone(), controller, device.clone())?;
    let mut config = SearchConfig::enas_macro(rounds);
    if !paper {
        config.proposals_per_update = 10;
        config.updates_per_round = 20;
    }
    config.budget = common::budget(&cli.common, rounds);
    config.quiet = cli.common.quiet;
    let search = Search::new(&space, strategy, estimator, config)?;
    let extra = serde_json::json!({
        "example": "enas_macro", "preset": format!("{:?}", cli.preset), "data": data,
        "retrain_data": retrain_data,
        "device": cli.common.device.to_string(), "layers": layers, "channels": channels,
        "seed": cli.common.seed, "controller_values": format!("{:?}", cli.controller_values),
    });
    let search = common::attach(search, &cli.common, "enas_macro", extra)?;
    let child = MacroChild(
        MacroNetConfig::new(task.classes())
            .with_in_channels(task.channels())
            .with_image_size(task.image_size())
            .with_channels(retrain_channels)
            // `cifar10_macro_final.sh`: keep probability 0.5.
            .with_dropout(if paper { 0.5 } else { 0.1 }),
    );
    let retraining = if paper {
        // `cifar10_macro_final.sh`: warm restarts 0.05 → 0.001 (T0 10, Tmul 2), L2 2e-4 as
        // `l2 · Σw²`, no clipping applied.
        TrainConfig {
            epochs: retrain_epochs,
            batch_size: retrain_batch,
            lr: CosineWarmRestarts {
                min: 1e-3,
                ..CosineWarmRestarts::enas()
            },
            weight_decay: 4e-4,
            grad_clip: None,
            augmentation,
            seed: cli.common.seed,
            ..TrainConfig::default()
        }
    } else {
        TrainConfig {
            epochs: retrain_epochs,
            batch_size: retrain_batch,
            lr: CosineWarmRestarts::single(0.05, 5e-4, retrain_epochs.max(1)),
            augmentation,
            seed: cli.common.seed,
            ..TrainConfig::default()
        }
    };
    if let Some((derived, _)) = common::finish(
        search,
        &space,
        &child,
        &final_task,
        retraining,
        &cli.common,
        &device,
        None,
    )? {
        println!("ENAS integer string: {}", derived.arch.to_enas_string());
    }
    Ok(())
}
