//! Your own search space, searched end to end by the library's strategies and estimators.
//!
//! `examples/chain/mod.rs` defines a space the library does not know — a chain of layers, each
//! picking a 3×3 or 5×5 convolution, max pooling or identity and whether to add its input
//! back — with everything a search needs: its decisions (`SearchSpace`), the architecture as
//! plain data (`Architecture`: JSON, DOT), the child network (`ChildFactory`, `Network`) and a
//! weight-sharing supernet (`Supernet`). This example searches it one of two ways, then
//! retrains the result and writes `best_arch.json` / `.dot`, the history, the reward plot and
//! `summary.json` like every other search example:
//!
//! * `--method reinforce-shared` (default): a REINFORCE controller with ENAS's settings and
//!   shared weights (one supernet epoch per round, then controller updates);
//! * `--method evolution-low-fidelity`: regularized evolution, each child trained from scratch
//!   for `--child-epochs` on `--data-fraction` of the images.
//!
//! ```text
//! cargo run --release --example custom_space
//! cargo run --release --example custom_space -- --method evolution-low-fidelity
//! cargo run --release --example custom_space -- --layers 9 --channels 24 --rounds 6
//! ```

mod chain;
mod common;

use burn_nas::estimator::{CosineWarmRestarts, ImageShape};
use burn_nas::prelude::*;
use chain::{ChainChild, ChainSpace, ChainSupernet};
use clap::{Parser, ValueEnum};
use common::CommonArgs;

/// How the chain space is searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Method {
    /// REINFORCE controller, shared weights (ENAS).
    ReinforceShared,
    /// Regularized evolution, children trained briefly on part of the data.
    EvolutionLowFidelity,
}

/// Searches a space defined outside the library.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Strategy and estimator.
    #[arg(long, value_enum, default_value = "reinforce-shared")]
    method: Method,
    /// Layers of the chain.
    #[arg(long, default_value_t = 6)]
    layers: usize,
    /// Channels of every layer.
    #[arg(long, default_value_t = 16)]
    channels: usize,
    /// Controller updates per round (reinforce-shared).
    #[arg(long, default_value_t = 10)]
    updates_per_round: usize,
    /// Epochs each child trains (evolution-low-fidelity).
    #[arg(long, default_value_t = 1)]
    child_epochs: usize,
    /// Fraction of the training images each child sees (evolution-low-fidelity).
    #[arg(long, default_value_t = 0.5)]
    data_fraction: f64,
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
    let (task, data) = common::load_task(&cli.common, 6_000, 1_000)?;
    let task = task.reduced(1.0, Some(14), cli.common.seed)?;
    let space = ChainSpace::new(cli.layers)?;
    println!(
        "chain space: {} layers, {:.0} architectures; {data} at 14×14; {:?}",
        cli.layers,
        space.size().count(),
        cli.method
    );
    let child = ChainChild {
        channels: cli.channels,
    };
    let training = |epochs: usize, lr_min: f64| TrainConfig {
        epochs,
        batch_size: 64,
        lr: CosineWarmRestarts::single(0.05, lr_min, epochs.max(1)),
        augmentation: Augmentation::none(),
        seed: cli.common.seed,
        ..TrainConfig::default()
    };
    let extra = serde_json::json!({
        "example": "custom_space", "data": data, "method": format!("{:?}", cli.method),
        "layers": cli.layers, "channels": cli.channels, "seed": cli.common.seed,
    });
    let search = match cli.method {
        Method::ReinforceShared => {
            let shape = ImageShape {
                channels: task.channels(),
                size: task.image_size(),
                classes: task.classes(),
            };
            let supernet =
                ChainSupernet::new(cli.layers, cli.channels, shape, &device.clone().autodiff());
            let estimator =
                SharedWeights::new(supernet, &task, training(1, 5e-4), 128, device.clone())?;
            // ENAS's controller settings; the presets' op biases name the ENAS spaces' heads,
            // which this space does not have.
            let controller = ReinforceConfig {
                fixed_bias: Vec::new(),
                learned_bias: Vec::new(),
                skip_target: None,
                skip_weight: 0.0,
                seed: cli.common.seed,
                ..ReinforceConfig::enas_macro()
            };
            let strategy = Reinforce::new(space.clone(), controller, device.clone())?;
            let mut config = SearchConfig::enas_micro(4);
            config.updates_per_round = cli.updates_per_round;
            config.budget = common::budget(&cli.common, 4);
            config.quiet = cli.common.quiet;
            Search::new(&space, strategy, estimator, config)?
        }
        Method::EvolutionLowFidelity => {
            let fidelity = Fidelity {
                epochs: cli.child_epochs,
                data_fraction: cli.data_fraction,
                image_size: None,
                channel_scale: 1.0,
                depth_scale: 1.0,
            };
            let estimator = TrainFromScratch::new(
                child.clone(),
                &task,
                fidelity,
                training(cli.child_epochs, 1e-3),
                device.clone(),
            )?;
            let strategy = RegularizedEvolution::new(
                space.clone(),
                EvolutionConfig {
                    population: 8,
                    sample_size: 3,
                    seed: cli.common.seed,
                },
            )?;
            let mut config = SearchConfig::multi_trial(6, 4);
            config.budget = common::budget(&cli.common, 6);
            config.quiet = cli.common.quiet;
            Search::new(&space, strategy, estimator, config)?
        }
    };
    let search = common::attach(search, &cli.common, "custom_space", extra)?;
    let epochs = common::retrain_epochs(
        &cli.common,
        common::RetrainLength::Epochs(5),
        64,
        task.train.len(),
    );
    common::finish(
        search,
        &space,
        &child,
        &task,
        training(epochs, 5e-4),
        &cli.common,
        &device,
        None,
    )?;
    Ok(())
}
