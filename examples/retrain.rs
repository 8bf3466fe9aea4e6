//! Trains any architecture from scratch and reports its test accuracy: a `best_arch.json` of
//! any registered space (or a run directory holding one), or an ENAS integer string.
//!
//! The spaces are those of a `RetrainRegistry`: the three built-in ones and the chain space
//! that `examples/custom_space.rs` defines outside the library (`examples/chain`), registered
//! here the same way — a user's own space is read by registering its child factory.
//!
//! ```text
//! cargo run --release --example retrain -- runs/enas_micro/best_arch.json --epochs 10
//! cargo run --release --example retrain -- runs/custom_space/best_arch.json
//! cargo run --release --example retrain -- --micro \
//!     "0 2 0 0 0 4 0 1 0 4 1 1 1 0 0 1 0 2 1 1 1 0 1 0 0 3 0 2 1 1 3 1 1 0 0 4 0 3 1 1"
//! cargo run --release --example retrain -- --help
//! ```

// This tool uses only the chain space's child factory (the module allows the rest unused).
mod chain;
mod common;

use std::path::PathBuf;

use burn_nas::estimator::{CosineWarmRestarts, RetrainRegistry};
use burn_nas::nn::{CellStyle, ConvInit};
use burn_nas::prelude::*;
use burn_nas::search::RunDir;
use clap::Parser;
use common::CommonArgs;

/// Train an architecture from scratch and report its test accuracy.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// `best_arch.json` (any space), a run directory holding one, or — with --micro/--macro —
    /// an ENAS integer string.
    arch: String,
    /// ARCH is an ENAS micro integer string (normal cell then reduction cell).
    #[arg(long, conflicts_with = "macro_string")]
    micro: bool,
    /// ARCH is an ENAS macro integer string.
    #[arg(long = "macro")]
    macro_string: bool,
    /// Epochs.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Minibatch size.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Initial learning rate (cosine to 1% of it).
    #[arg(long, default_value_t = 0.05)]
    lr: f64,
    /// Channels (micro: of the first cell; macro and chain: of every layer; NAS-RL: filter
    /// scale × 100).
    #[arg(long, default_value_t = 16)]
    channels: usize,
    /// Micro: number of normal cells (two reduction cells are added).
    #[arg(long, default_value_t = 6)]
    layers: usize,
    /// Micro: auxiliary head.
    #[arg(long)]
    aux_head: bool,
    /// Micro: drop-path keep probability at the end of training (1: off).
    #[arg(long, default_value_t = 0.6)]
    drop_path_keep: f64,
    /// Micro: dropout probability before the classifier.
    #[arg(long, default_value_t = 0.2)]
    dropout: f64,
    /// Micro: initialise convolutions uniformly (PyTorch's default) instead of He-normal.
    #[arg(long)]
    uniform_init: bool,
    /// Micro: project each cell's concatenated output back to its channels (as the supernet
    /// and `enas_micro`'s fast preset do) instead of ENAS's plain concatenation.
    #[arg(long)]
    project_cells: bool,
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> std::process::ExitCode {
    common::exit_on_error(run())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    common::init_logging(cli.common.verbose);
    let arch = read_arch(&cli)?;
    let space = burn_nas::space::space_of(&arch)?;
    let device = common::device(&cli.common)?;
    // ENAS holds out the last 5,000 of CIFAR-10's 50,000 training images; a smaller dataset
    // keeps the same share (1/10) rather than losing most of its training images.
    let (task, data) = common::load_task_with(&cli.common, 0, |n| (n / 10).clamp(1, 5_000))?;
    let task = common::retrain_task(&cli.common, &task)?;
    println!("retraining a {space} architecture on {data}");
    let training = TrainConfig {
        epochs: cli.epochs,
        batch_size: cli.batch_size,
        lr: CosineWarmRestarts::single(cli.lr, cli.lr / 100.0, cli.epochs.max(1)),
        augmentation: if task.channels() == 3 {
            Augmentation::enas()
        } else {
            Augmentation::none()
        },
        seed: cli.common.seed,
        ..TrainConfig::default()
    };
    let (classes, channels, size) = (task.classes(), task.channels(), task.image_size());
    let micro = MicroNetConfig::new(classes)
        .with_in_channels(channels)
        .with_image_size(size)
        .with_layers(cli.layers)
        .with_channels(cli.channels)
        .with_aux_head(cli.aux_head)
        .with_drop_path_keep(cli.drop_path_keep)
        .with_dropout(cli.dropout)
        .with_cell_style(if cli.project_cells {
            CellStyle::Projected
        } else {
            CellStyle::Enas
        })
        .with_init(if cli.uniform_init {
            ConvInit::Uniform
        } else {
            ConvInit::He
        });
    let macro_net = MacroNetConfig::new(classes)
        .with_in_channels(channels)
        .with_image_size(size)
        .with_channels(cli.channels);
    let nas_rl = NasRlNetConfig::new(classes)
        .with_in_channels(channels)
        .with_image_size(size)
        .with_filter_scale(cli.channels as f64 / 100.0);
    let mut registry = RetrainRegistry::new();
    registry
        .register(MicroChild(micro))?
        .register(MacroChild(macro_net))?
        .register(NasRlChild(nas_rl))?
        .register(chain::ChainChild {
            channels: cli.channels,
        })?;
    let retrained = registry.retrain_json(&arch, &task, &training, &device, |e| {
        eprintln!(
            "  epoch {:>3}: train loss {:.4} acc {:.4} | valid acc {:.4} | {:.0} s",
            e.epoch, e.train.loss, e.train.accuracy, e.valid.accuracy, e.seconds
        );
    })?;
    let report = &retrained.report;
    println!(
        "test accuracy {}, valid accuracy {:.4}, {} parameters, {:.1} MFLOPs, {:.0} s",
        report
            .test_accuracy
            .map_or_else(|| "n/a".into(), |a| format!("{a:.4}")),
        report.valid.accuracy,
        report.params,
        2.0 * report.macs as f64 / 1e6,
        report.seconds
    );
    let run_dir = match &cli.common.out {
        Some(dir) => RunDir::create(dir, common::if_exists(cli.common.overwrite))?,
        None => RunDir::next_free(PathBuf::from("runs").join("retrain"))?,
    };
    run_dir.write("arch.json", retrained.arch_json.as_bytes())?;
    run_dir.write("arch.dot", retrained.arch_dot.as_bytes())?;
    run_dir.write(
        "retrain.json",
        serde_json::to_string_pretty(report)?.as_bytes(),
    )?;
    run_dir.write("retrained.bpk", &retrained.weights)?;
    println!("outputs in {}/", run_dir.path().display());
    Ok(())
}

/// The architecture document to retrain.
fn read_arch(cli: &Cli) -> Result<String, Box<dyn std::error::Error>> {
    if cli.micro {
        return Ok(MicroArch::from_enas_string(&cli.arch)?.to_json());
    }
    if cli.macro_string {
        return Ok(MacroArch::from_enas_string(&cli.arch)?.to_json());
    }
    let mut path = PathBuf::from(&cli.arch);
    if path.is_dir() {
        path = path.join("best_arch.json");
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(text)
}
