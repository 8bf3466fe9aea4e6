//! How well does learning-curve extrapolation predict real learning curves, and what does early
//! stopping on its predictions cost? Trains uniformly random NAS-RL children for `--epochs`
//! epochs each on the embedded Fashion-MNIST subset (or `--data-dir`), records every validation
//! curve, then measures:
//!
//! * the mean absolute error of the predicted final accuracy from the first 20 / 40 / 60% of
//!   each curve — the single best fit (`fit_curve`, what `CurveExtrapolation::new` uses), the
//!   probabilistic ensemble (`CurveEnsemble`, `CurveExtrapolation::probabilistic`) and, for
//!   scale, the last accuracy seen — and how often the final accuracy falls in the ensemble's
//!   90% interval;
//! * early stopping replayed on the curves in training order (`replay_stopping`): runs
//!   stopped, epochs saved, and stopped runs that would have beaten the incumbent.
//!
//! Writes `curves.json` (every child's architecture and curve, after every child) and
//! `report.json` into the run directory (default `runs/curves`). `--from FILE` analyses a
//! `curves.json` without training.
//!
//! ```text
//! cargo run --release --example curves                       # 60 children × 12 epochs
//! cargo run --release --example curves -- --from runs/curves/curves.json
//! ```

mod common;

use std::path::PathBuf;

use burn::tensor::Device;
use burn_nas::estimator::{
    CosineWarmRestarts, CurveEnsemble, StopCriterion, fit_curve, replay_stopping,
};
use burn_nas::prelude::*;
use clap::Parser;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

/// Learning curves of random NAS-RL children, and how well they are predicted.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Children to train.
    #[arg(long, default_value_t = 60)]
    children: usize,
    /// Epochs each child trains (the length of every curve).
    #[arg(long, default_value_t = 12)]
    epochs: usize,
    /// Layers of every child.
    #[arg(long, default_value_t = 6)]
    layers: usize,
    /// Training images (the first ones of the training set).
    #[arg(long, default_value_t = 3_000)]
    train_images: usize,
    /// Validation images (after the training images).
    #[arg(long, default_value_t = 1_000)]
    valid_images: usize,
    /// Image side the children see.
    #[arg(long, default_value_t = 14)]
    image_size: usize,
    /// Multiply every child's filter counts.
    #[arg(long, default_value_t = 0.5)]
    channel_scale: f64,
    /// Directory with Fashion-MNIST IDX files (default: the embedded 6,000-image subset).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Seed of the architectures, the weights and the data order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Analyse this `curves.json` instead of training.
    #[arg(long)]
    from: Option<PathBuf>,
    /// Run directory.
    #[arg(long, default_value = "runs/curves")]
    out: PathBuf,
    /// Replace the contents of an existing --out directory.
    #[arg(long)]
    overwrite: bool,
    /// The ensemble's BIC temperature (`CurveEnsemble::bic_temperature`; default: the
    /// library's).
    #[arg(long)]
    bic_temperature: Option<f64>,
}

/// One trained child.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Recorded {
    arch: NasRlArch,
    /// Validation accuracy after every epoch.
    curve: Vec<f64>,
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    let (curves, run) = match &cli.from {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let recorded: Vec<Recorded> = serde_json::from_str(&text)
                .map_err(|e| format!("{} is not a curves.json: {e}", path.display()))?;
            (recorded, None)
        }
        None => {
            let run = RunDir::create(&cli.out, common::if_exists(cli.overwrite))?;
            (train_children(&cli, &run)?, Some(run))
        }
    };
    let mut ensemble = CurveEnsemble::default();
    if let Some(t) = cli.bic_temperature {
        ensemble.bic_temperature = t;
    }
    let report = analyse(&curves, ensemble);
    println!("{}", serde_json::to_string_pretty(&report)?);
    if let Some(run) = run {
        run.write(
            "report.json",
            serde_json::to_string_pretty(&report)?.as_bytes(),
        )?;
        println!("wrote {}", run.path().display());
    }
    Ok(())
}

fn train_children(cli: &Cli, run: &RunDir) -> Result<Vec<Recorded>, Box<dyn std::error::Error>> {
    let (train, _) =
        common::first_fashion_mnist(cli.data_dir.as_deref(), cli.train_images, cli.valid_images)?;
    let task = Task::split(train, cli.valid_images, None)?;
    let fidelity = Fidelity {
        epochs: cli.epochs,
        data_fraction: 1.0,
        image_size: Some(cli.image_size),
        channel_scale: cli.channel_scale,
        depth_scale: 1.0,
    };
    let training = TrainConfig {
        epochs: cli.epochs,
        batch_size: 64,
        lr: CosineWarmRestarts::single(0.05, 1e-3, cli.epochs.max(1)),
        augmentation: Augmentation::none(),
        seed: cli.seed,
        ..TrainConfig::default()
    };
    let net = NasRlNetConfig::new(task.classes())
        .with_in_channels(task.channels())
        .with_image_size(task.image_size());
    let device = Device::flex();
    device.seed(cli.seed);
    device.clone().autodiff().seed(cli.seed);
    let mut estimator =
        TrainFromScratch::new(NasRlChild(net), &task, fidelity, training, device.clone())?;
    let space = NasRlSpace::new(cli.layers)?.with_strides(&[1, 2])?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(cli.seed);
    let mut recorded = Vec::with_capacity(cli.children);
    for i in 0..cli.children {
        let arch = space.sample(&mut rng)?;
        let start = std::time::Instant::now();
        let estimate = estimator.estimate(&arch)?;
        let curve = estimate.metrics.curve().to_vec();
        println!(
            "child {:>3}/{}: {} epochs, final {:.3}, {:.1} s",
            i + 1,
            cli.children,
            curve.len(),
            curve.last().copied().unwrap_or(0.0),
            start.elapsed().as_secs_f64()
        );
        recorded.push(Recorded { arch, curve });
        run.write(
            "curves.json",
            serde_json::to_string_pretty(&recorded)?.as_bytes(),
        )?;
    }
    Ok(recorded)
}

/// Prediction errors from one prefix length.
#[derive(Debug, Serialize)]
struct PrefixErrors {
    /// Share of the curve seen.
    fraction: f64,
    /// Epochs seen.
    epochs_seen: usize,
    /// Mean absolute error of the final accuracy: single best fit.
    mae_best_fit: f64,
    /// … the ensemble's mean.
    mae_ensemble: f64,
    /// … the last accuracy seen.
    mae_last_seen: f64,
    /// Share of finals inside the ensemble's 90% interval (mean ± 1.645 std).
    coverage_90: f64,
}

/// One stop rule replayed.
#[derive(Debug, Serialize)]
struct StopResult {
    rule: String,
    stopped: usize,
    wrongly_stopped: usize,
    epochs_saved_share: f64,
    kept_the_best: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    curves: usize,
    epochs: usize,
    final_accuracy_range: (f64, f64),
    prediction: Vec<PrefixErrors>,
    stopping: Vec<StopResult>,
}

fn analyse(recorded: &[Recorded], ensemble: CurveEnsemble) -> Report {
    let curves: Vec<Vec<f64>> = recorded
        .iter()
        .map(|r| r.curve.clone())
        .filter(|c| c.len() >= 5)
        .collect();
    let epochs = curves.iter().map(Vec::len).max().unwrap_or(0);
    let finals: Vec<f64> = curves.iter().filter_map(|c| c.last().copied()).collect();
    let mut prediction = Vec::new();
    for fraction in [0.2, 0.4, 0.6] {
        let (mut fit_err, mut ens_err, mut last_err, mut covered, mut n) =
            (0.0, 0.0, 0.0, 0usize, 0usize);
        let mut seen_epochs = 0;
        for curve in &curves {
            let total = curve.len();
            let seen = ((fraction * total as f64).round() as usize).clamp(3, total - 1);
            seen_epochs = seen;
            let actual = curve[total - 1];
            let points: Vec<(f64, f64)> = curve[..seen]
                .iter()
                .enumerate()
                .map(|(i, &y)| ((i + 1) as f64, y))
                .collect();
            let (Some(fit), Some(p)) =
                (fit_curve(&points), ensemble.predict(&curve[..seen], total))
            else {
                continue;
            };
            fit_err += (fit.predict(total as f64) - actual).abs();
            ens_err += (p.mean - actual).abs();
            last_err += (curve[seen - 1] - actual).abs();
            covered += usize::from((actual - p.mean).abs() <= 1.645 * p.std);
            n += 1;
        }
        let n = n.max(1) as f64;
        prediction.push(PrefixErrors {
            fraction,
            epochs_seen: seen_epochs,
            mae_best_fit: fit_err / n,
            mae_ensemble: ens_err / n,
            mae_last_seen: last_err / n,
            coverage_90: covered as f64 / n,
        });
    }
    let mut stopping = Vec::new();
    for (label, criterion) in [
        ("best fit, margin 0".to_string(), StopCriterion::Margin(0.0)),
        (
            "ensemble, δ = 0.01".to_string(),
            StopCriterion::Probability(0.01),
        ),
        (
            "ensemble, δ = 0.05".to_string(),
            StopCriterion::Probability(0.05),
        ),
        (
            "ensemble, δ = 0.10".to_string(),
            StopCriterion::Probability(0.10),
        ),
    ] {
        let replay = replay_stopping(&curves, 3, criterion, ensemble);
        stopping.push(StopResult {
            rule: label,
            stopped: replay.stopped,
            wrongly_stopped: replay.wrongly_stopped,
            epochs_saved_share: replay.epochs_saved as f64 / replay.epochs_total.max(1) as f64,
            kept_the_best: replay.kept_the_best,
        });
    }
    Report {
        curves: curves.len(),
        epochs,
        final_accuracy_range: (
            finals.iter().copied().fold(f64::INFINITY, f64::min),
            finals.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        ),
        prediction,
        stopping,
    }
}
