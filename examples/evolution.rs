//! Regularized evolution (Real et al. 2019) on the ENAS micro space with weight inheritance:
//! every child is a one-decision mutation of a tournament winner and starts from its parent's
//! trained weights wherever they fit, then trains briefly at low fidelity.
//!
//! ```text
//! cargo run --release --example evolution
//! cargo run --release --example evolution -- --population 20 --rounds 10 --help
//! ```

mod common;

use burn_nas::estimator::CosineWarmRestarts;
use burn_nas::nn::CellStyle;
use burn_nas::prelude::*;
use clap::Parser;
use common::CommonArgs;

/// Regularized evolution with weight inheritance on ENAS micro cells.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Population size (the oldest member dies when a child is born).
    #[arg(long, default_value_t = 8)]
    population: usize,
    /// Tournament size.
    #[arg(long, default_value_t = 3)]
    sample_size: usize,
    /// Children per round.
    #[arg(long, default_value_t = 4)]
    children_per_round: usize,
    /// Epochs each child trains.
    #[arg(long, default_value_t = 1)]
    child_epochs: usize,
    /// Fraction of the training images each child sees.
    #[arg(long, default_value_t = 0.25)]
    data_fraction: f64,
    /// Cell nodes (B).
    #[arg(long, default_value_t = 5)]
    nodes: usize,
    /// Channels of the children.
    #[arg(long, default_value_t = 8)]
    channels: usize,
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> std::process::ExitCode {
    common::exit_on_error(run())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    common::init_logging(cli.common.verbose);
    let device = common::device(&cli.common)?;
    let (task, data) = common::load_task(&cli.common, 12_000, 2_000)?;
    let pool = common::pool(&cli.common)?;
    println!(
        "regularized evolution on {data}, device {}, children trained on {pool}",
        cli.common.device
    );
    let space = MicroSpace::new(cli.nodes, &MicroOp::ALL)?;
    let child = MicroNetConfig::new(task.classes())
        .with_in_channels(task.channels())
        .with_image_size(task.image_size())
        .with_layers(2)
        .with_channels(cli.channels)
        .with_aux_head(false)
        .with_drop_path_keep(1.0)
        .with_dropout(0.0)
        .with_cell_style(CellStyle::Projected);
    let fidelity = Fidelity {
        epochs: cli.child_epochs,
        data_fraction: cli.data_fraction,
        image_size: Some(14),
        channel_scale: 1.0,
        depth_scale: 1.0,
    };
    let training = TrainConfig {
        epochs: cli.child_epochs,
        batch_size: 64,
        lr: CosineWarmRestarts::single(0.05, 1e-3, cli.child_epochs.max(1)),
        augmentation: Augmentation::none(),
        seed: cli.common.seed,
        ..TrainConfig::default()
    };
    let inner = TrainFromScratch::new(
        MicroChild(child.clone()),
        &task,
        fidelity.clone(),
        training,
        device.clone(),
    )?
    .with_pool(pool.clone());
    let estimator = WeightInheritance::new(inner, cli.population * 2);
    let strategy = RegularizedEvolution::new(
        space.clone(),
        EvolutionConfig {
            population: cli.population,
            sample_size: cli.sample_size,
            seed: cli.common.seed,
        },
    )?;
    let mut config = SearchConfig::multi_trial(6, cli.children_per_round);
    config.budget = common::budget(&cli.common, 6);
    config.quiet = cli.common.quiet;
    let search = Search::new(&space, strategy, estimator, config)?;
    let extra = serde_json::json!({
        "example": "evolution", "data": data, "device": cli.common.device.to_string(),
        "devices": pool.to_string(), "population": cli.population, "sample_size": cli.sample_size, "fidelity": fidelity,
        "seed": cli.common.seed,
    });
    let search = common::attach(search, &cli.common, "evolution", extra)?;
    let retrain_epochs = common::retrain_epochs(
        &cli.common,
        common::RetrainLength::Epochs(3),
        64,
        task.train.len(),
    );
    let retraining = TrainConfig {
        epochs: retrain_epochs,
        batch_size: 64,
        lr: CosineWarmRestarts::single(0.05, 5e-4, retrain_epochs.max(1)),
        augmentation: Augmentation::none(),
        seed: cli.common.seed,
        ..TrainConfig::default()
    };
    common::finish(
        search,
        &space,
        &MicroChild(child),
        &task,
        retraining,
        &cli.common,
        &device,
        None,
    )?;
    Ok(())
}
