//! NAS-RL (Zoph & Le 2017): an LSTM controller emits a CNN layer by layer (filter height,
//! width, count, stride, skip connections through anchor attention) and learns with REINFORCE
//! from the validation accuracy of children trained from scratch at low fidelity; optional
//! learning-curve extrapolation stops hopeless children early.
//!
//! ```text
//! cargo run --release --example nas_rl
//! cargo run --release --example nas_rl -- --curve-extrapolation --child-epochs 6
//! cargo run --release --example nas_rl -- --layers 12 --depth-schedule 6,2,1600  # growing depth
//! cargo run --release --example nas_rl -- --devices cuda:0,cuda:1   # 2 children at a time
//! cargo run --release --example nas_rl -- --help
//! ```

mod common;

use burn_nas::estimator::{CosineWarmRestarts, Estimator, Objective, Reward};
use burn_nas::prelude::*;
use burn_nas::space::NasRlArch;
use clap::{Parser, ValueEnum};
use common::CommonArgs;

/// The reward the controller learns from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RewardKind {
    /// Zoph & Le: the best validation accuracy of the last 5 epochs, cubed.
    MaxLast5Cubed,
    /// The last epoch's validation accuracy.
    Accuracy,
}

/// NAS-RL with children trained from scratch at low fidelity.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Layers of every child (with `--depth-schedule`, of the deepest children).
    #[arg(long, default_value_t = 6)]
    layers: usize,
    /// Stride options of every layer (one stride for both axes); the paper's are 1,2,3.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 2])]
    strides: Vec<usize>,
    /// Predict the stride along the height and along the width separately (Zoph & Le), each
    /// from `--strides`.
    #[arg(long)]
    stride_per_axis: bool,
    /// Put each layer's skip decision (its anchor point) first, as in Zoph & Le's figure,
    /// instead of last.
    #[arg(long)]
    anchor_first: bool,
    /// Grow the children's depth as Zoph & Le do: START layers, STEP more every EVERY sampled
    /// children, up to `--layers` (the paper: 6,2,1600). Off by default: every child has
    /// `--layers` layers.
    #[arg(long, value_name = "START,STEP,EVERY")]
    depth_schedule: Option<DepthSchedule>,
    /// Children trained per controller update (m).
    #[arg(long, default_value_t = 8)]
    children_per_update: usize,
    /// Epochs each child trains (lower fidelity).
    #[arg(long, default_value_t = 2)]
    child_epochs: usize,
    /// Fraction of the training images each child sees (lower fidelity).
    #[arg(long, default_value_t = 0.25)]
    data_fraction: f64,
    /// Downscale images for children (lower fidelity; 0 = full size).
    #[arg(long, default_value_t = 14)]
    child_image_size: usize,
    /// Multiply every child's filter counts (lower fidelity).
    #[arg(long, default_value_t = 0.5)]
    channel_scale: f64,
    /// Stop children whose extrapolated learning curve ends below the best so far. The curve
    /// is fitted after 3 epochs, so this needs `--child-epochs 4` or more.
    #[arg(long)]
    curve_extrapolation: bool,
    /// With `--curve-extrapolation`: stop a child when the probability that it ends above the
    /// best so far, under the curve ensemble's prediction, falls below this (Domhan et al.'s
    /// rule; `CurveExtrapolation::probabilistic`). Without it, a child stops when the single
    /// best fit predicts it ends below the best so far.
    #[arg(long, requires = "curve_extrapolation")]
    stop_probability: Option<f64>,
    /// The controller's reward: NAS-RL's maximum validation accuracy of the last 5 epochs,
    /// cubed (the paper's), or the last epoch's validation accuracy.
    #[arg(long, value_enum, default_value = "max-last5-cubed")]
    reward: RewardKind,
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> std::process::ExitCode {
    common::exit_on_error(run())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    common::init_logging(cli.common.verbose);
    if cli.curve_extrapolation && cli.child_epochs < 4 {
        return Err(format!(
            "--curve-extrapolation fits the curve after 3 epochs and so cannot stop a child of \
             --child-epochs {}: use --child-epochs 4 or more",
            cli.child_epochs
        )
        .into());
    }
    let device = common::device(&cli.common)?;
    let (task, data) = common::load_task(&cli.common, 12_000, 2_000)?;
    let pool = common::pool(&cli.common)?;
    println!(
        "NAS-RL on {data}, device {}, children trained on {pool}",
        cli.common.device
    );
    let mut space = NasRlSpace::new(cli.layers)?.with_strides(&cli.strides)?;
    if cli.stride_per_axis {
        space = space.with_stride_per_axis()?;
    }
    if cli.anchor_first {
        space = space.with_anchor_first()?;
    }
    let fidelity = Fidelity {
        epochs: cli.child_epochs,
        data_fraction: cli.data_fraction,
        image_size: (cli.child_image_size > 0).then_some(cli.child_image_size),
        channel_scale: cli.channel_scale,
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
    let net = NasRlNetConfig::new(task.classes())
        .with_in_channels(task.channels())
        .with_image_size(task.image_size());
    let from_scratch = TrainFromScratch::new(
        NasRlChild(net.clone()),
        &task,
        fidelity.clone(),
        training,
        device.clone(),
    )?
    .with_pool(pool.clone())
    .with_objective(Objective {
        reward: match cli.reward {
            RewardKind::MaxLast5Cubed => Reward::MaxLast5Cubed,
            RewardKind::Accuracy => Reward::ValidAccuracy,
        },
        penalty: None,
    });
    let estimator: Box<dyn Estimator<NasRlArch>> = if cli.curve_extrapolation {
        Box::new(match cli.stop_probability {
            Some(delta) => CurveExtrapolation::probabilistic(from_scratch, 3, delta)?,
            None => CurveExtrapolation::new(from_scratch, 3, 0.0),
        })
    } else {
        Box::new(from_scratch)
    };
    let controller = ReinforceConfig {
        seed: cli.common.seed,
        ..ReinforceConfig::nas_rl()
    };
    let mut strategy = Reinforce::new(space.clone(), controller, device.clone())?;
    if let Some(schedule) = cli.depth_schedule {
        strategy = strategy.with_depth_schedule(schedule)?;
    }
    let mut config = SearchConfig::multi_trial(6, cli.children_per_update);
    config.budget = common::budget(&cli.common, 6);
    config.quiet = cli.common.quiet;
    let search = Search::new(&space, strategy, estimator, config)?;
    let extra = serde_json::json!({
        "example": "nas_rl", "data": data, "device": cli.common.device.to_string(),
        "devices": pool.to_string(), "fidelity": fidelity, "curve_extrapolation": cli.curve_extrapolation,
        "stop_probability": cli.stop_probability,
        "reward": format!("{:?}", cli.reward),
        "depth_schedule": cli.depth_schedule.map(|s| s.to_string()),
        "strides": cli.strides,
        "stride_per_axis": cli.stride_per_axis,
        "anchor_first": cli.anchor_first,
        "seed": cli.common.seed,
    });
    let search = common::attach(search, &cli.common, "nas_rl", extra)?;
    let retrain_epochs = common::retrain_epochs(
        &cli.common,
        common::RetrainLength::Epochs(4),
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
        &NasRlChild(net),
        &task,
        retraining,
        &cli.common,
        &device,
        None,
    )?;
    Ok(())
}
