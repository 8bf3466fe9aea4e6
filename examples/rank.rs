//! How well does a cheap performance estimator *rank* architectures? Scores uniformly random
//! cells of the ENAS micro space with a reference (each cell trained from scratch as a
//! standalone network) and with each cheap estimator asked for, then reports the rank agreement
//! of every cheap one with the reference (Kendall τ, Spearman ρ) and the time each took. A
//! search only needs its estimator to order architectures like the reference does, not to match
//! its accuracies. The reference trains once; every estimator is compared with the same runs.
//!
//! The estimators: `shared` (ENAS weight sharing: a supernet of the children's size trained for
//! a few epochs on uniformly random cells, each cell scored on the whole validation split),
//! `shared-he` (the same with the supernet settings before the shared-weight fixes that remain
//! switchable: He-initialised convolutions, one weight set per branch), `low-fidelity` (training
//! from scratch for fewer epochs on a fraction of the data, optionally fewer pixels or
//! channels), `curve` (the reference's training, stopped early when the fitted learning curve
//! predicts that a run ends below the best so far), `first-epoch` (the reference's own
//! validation accuracy after its first epoch), `params` (the parameter count, a zero-cost
//! proxy) and `reseed` (the reference again with another seed: the ceiling any estimator can
//! reach, since the reference disagrees with itself this much).
//!
//! Data: Fashion-MNIST (the embedded 6,000-image subset unless `--data-dir` finds more) split
//! as `enas_micro`'s fast preset (at most 12,000 images, the last 2,000 validate), at 14×14.
//! Writes `rank.json` (every report) and one `rank-<estimator>.png` (estimate vs reference) per
//! estimator into the run directory (default `runs/rank`).
//!
//! ```text
//! cargo run --release --example rank
//! cargo run --release --example rank -- --estimators shared,reseed --archs 24
//! cargo run --release --example rank -- --estimators low-fidelity --low-epochs 2
//! cargo run --release --example rank -- --help
//! ```

mod common;

use std::collections::HashMap;
use std::path::PathBuf;

use burn_nas::estimator::EstimatorError;
use burn_nas::nn::{ConvInit, MicroSupernet};
use burn_nas::prelude::*;
use burn_nas::search::{RankReport, estimate_all, rank_estimator};
use clap::{Parser, ValueEnum};
use common::CommonArgs;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Validation images per shared-weight score (one minibatch, as in ENAS).
const VALID_BATCH: usize = 128;

/// The cheap estimators this example can study.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Cheap {
    /// ENAS shared weights, averaged over `--scores` validation minibatches.
    Shared,
    /// Shared weights with He-initialised convolutions and one weight set per branch.
    SharedHe,
    /// Training from scratch for `--low-epochs` on `--low-data-fraction` of the data.
    LowFidelity,
    /// The reference's training with learning-curve early stopping.
    Curve,
    /// The reference's validation accuracy after its first epoch.
    FirstEpoch,
    /// The parameter count of the reference's network.
    Params,
    /// The reference's training with seed `--seed` + 1.
    Reseed,
}

impl Cheap {
    /// The label of this estimator in reports and file names.
    fn label(self) -> &'static str {
        match self {
            Cheap::Shared => "shared",
            Cheap::SharedHe => "shared-he",
            Cheap::LowFidelity => "low-fidelity",
            Cheap::Curve => "curve",
            Cheap::FirstEpoch => "first-epoch",
            Cheap::Params => "params",
            Cheap::Reseed => "reseed",
        }
    }
}

/// Rank agreement of cheap estimators with standalone training on ENAS micro cells.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Uniformly random architectures of the ENAS micro space to rank (seeded by --seed).
    #[arg(long, default_value_t = 20)]
    archs: usize,
    /// The cheap estimators under study (comma list).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "shared,low-fidelity,curve,first-epoch,params,reseed"
    )]
    estimators: Vec<Cheap>,
    /// Shared: epochs the supernet trains on uniformly random cells before scoring.
    #[arg(long, default_value_t = 4)]
    shared_epochs: usize,
    /// Shared: validation minibatches of 128 images averaged per architecture (default: the
    /// whole validation split, i.e. validation images / 128).
    #[arg(long)]
    scores: Option<usize>,
    /// Reference: epochs each architecture trains from scratch.
    #[arg(long, default_value_t = 4)]
    reference_epochs: usize,
    /// Channels of the first cells (the standalone children and the supernet).
    #[arg(long, default_value_t = 8)]
    channels: usize,
    /// Normal layers (two reduction cells are added), children and supernet.
    #[arg(long, default_value_t = 2)]
    layers: usize,
    /// Image size every estimator sees (area downscaling).
    #[arg(long, default_value_t = 14)]
    image_size: usize,
    /// Low fidelity: epochs of training.
    #[arg(long, default_value_t = 1)]
    low_epochs: usize,
    /// Low fidelity: fraction of the training images (class-balanced subset).
    #[arg(long, default_value_t = 0.25)]
    low_data_fraction: f64,
    /// Low fidelity: image size (default: `--image-size`).
    #[arg(long)]
    low_image_size: Option<usize>,
    /// Low fidelity: multiplier of the channel counts.
    #[arg(long, default_value_t = 1.0)]
    low_channel_scale: f64,
    /// Curve: epochs trained before the learning curve is fitted (at least 3).
    #[arg(long, default_value_t = 3)]
    curve_min_epochs: usize,
    #[command(flatten)]
    common: CommonArgs,
}

/// Runs the example; an error is printed on stderr with its causes and exits with failure.
fn main() -> std::process::ExitCode {
    common::exit_on_error(run())
}

/// Samples the architectures, trains the reference on each, then ranks them with every cheap
/// estimator and writes the reports.
fn run() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    common::init_logging(cli.common.verbose);
    if cli.common.resume.is_some() {
        return Err("the rank example cannot be resumed (drop --resume)".into());
    }
    if cli.archs < 2 {
        return Err(format!("--archs {}: ranking needs at least 2", cli.archs).into());
    }
    let run_dir = run_dir(&cli.common)?;
    let device = common::device(&cli.common)?;
    let pool = common::pool(&cli.common)?;
    let (task, data) = common::load_task(&cli.common, 12_000, 2_000)?;
    let task = task.reduced(1.0, Some(cli.image_size), cli.common.seed)?;
    println!(
        "ranking on {data} at {0}×{0}, device {1}",
        cli.image_size, cli.common.device
    );

    let space = MicroSpace::default();
    let mut rng = ChaCha8Rng::seed_from_u64(cli.common.seed);
    let archs = (0..cli.archs)
        .map(|_| space.sample(&mut rng))
        .collect::<Result<Vec<_>, _>>()?;
    let augmentation = common::augmentation(task.channels());
    let training =
        |epochs: usize, seed: u64| common::short_training(epochs, augmentation.clone(), seed);
    let child = common::standalone_micro_child(&task, cli.layers, cli.channels);
    let from_scratch = |fidelity: Fidelity, seed: u64| {
        let config = training(fidelity.epochs, seed);
        TrainFromScratch::new(child.clone(), &task, fidelity, config, device.clone())
            .map(|e| e.with_pool(pool.clone()))
    };
    let reference_fidelity = Fidelity::full(cli.reference_epochs);
    let seed = cli.common.seed;
    let quiet = cli.common.quiet;

    // The reference trains every architecture once; each report replays its estimates.
    let mut trained = Logged::new(
        from_scratch(reference_fidelity.clone(), seed)?,
        1,
        cli.archs,
        quiet,
    );
    let references: HashMap<String, Estimate> = archs
        .iter()
        .map(Architecture::to_json)
        .zip(estimate_all(&mut trained, &archs)?)
        .collect();
    let mut reference = Replay::reference("train-from-scratch", references.clone());

    let mut reports: Vec<RankReport> = Vec::new();
    for &which in &cli.estimators {
        let mut cheap: Box<dyn Estimator<MicroArch>> = match which {
            Cheap::Shared | Cheap::SharedHe => {
                let (init, per_branch) = match which {
                    Cheap::SharedHe => (ConvInit::He, true),
                    _ => (ConvInit::Uniform, false),
                };
                let mut supernet_config = MicroSupernetConfig::new(task.classes())
                    .with_in_channels(task.channels())
                    .with_image_size(task.image_size())
                    .with_layers(cli.layers)
                    .with_channels(cli.channels)
                    .with_dropout(0.0);
                supernet_config.init = init;
                supernet_config.per_branch_weights = per_branch;
                let supernet = supernet_config.init(&space, &device.clone().autodiff())?;
                let config = TrainConfig {
                    weight_decay: 1e-4,
                    batch_size: 32,
                    ..training(cli.shared_epochs, seed)
                };
                let mut shared = SharedWeights::<MicroSupernet>::new(
                    supernet,
                    &task,
                    config,
                    VALID_BATCH,
                    device.clone(),
                )?;
                // The supernet's cells come from their own stream, so the ranked architectures
                // do not depend on the estimator studied.
                let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(1));
                for epoch in 1..=cli.shared_epochs {
                    let loss = shared.train_epoch(&mut || Ok(space.sample(&mut rng)?))?;
                    if !quiet {
                        eprintln!(
                            "{} supernet epoch {epoch}/{}: mean loss {loss:.4}",
                            which.label(),
                            cli.shared_epochs
                        );
                    }
                }
                let scores = cli.scores.unwrap_or(task.valid.len() / VALID_BATCH).max(1);
                Box::new(Logged::new(shared, scores, cli.archs, quiet))
            }
            Cheap::LowFidelity => {
                let fidelity = Fidelity {
                    epochs: cli.low_epochs,
                    data_fraction: cli.low_data_fraction,
                    image_size: cli.low_image_size,
                    channel_scale: cli.low_channel_scale,
                    ..Fidelity::full(cli.low_epochs)
                };
                Box::new(Logged::new(
                    from_scratch(fidelity, seed)?,
                    1,
                    cli.archs,
                    quiet,
                ))
            }
            Cheap::Curve => {
                let inner = from_scratch(reference_fidelity.clone(), seed)?;
                let curve = CurveExtrapolation::new(inner, cli.curve_min_epochs, 0.0);
                Box::new(Logged::new(curve, 1, cli.archs, quiet))
            }
            Cheap::Reseed => Box::new(Logged::new(
                from_scratch(reference_fidelity.clone(), seed.wrapping_add(1))?,
                1,
                cli.archs,
                quiet,
            )),
            Cheap::FirstEpoch => Box::new(Replay::proxy(
                "first-epoch",
                references.clone(),
                |e: &Estimate| e.metrics.curve().first().copied().unwrap_or(f64::NAN),
            )),
            Cheap::Params => Box::new(Replay::proxy("params", references.clone(), |e| {
                e.metrics.params.map_or(f64::NAN, |p| p as f64)
            })),
        };
        let mut report = rank_estimator(cheap.as_mut(), &mut reference, &archs)?;
        report.estimator = which.label().to_string();
        println!("{report}");
        run_dir.write(
            &format!("rank-{}.png", which.label()),
            &report.scatter_png()?,
        )?;
        reports.push(report);
        // Rewritten after every estimator: a stopped run keeps what it measured.
        run_dir.write(
            "rank.json",
            serde_json::to_string_pretty(&serde_json::json!({
                "archs": cli.archs,
                "seed": seed,
                "reference_epochs": cli.reference_epochs,
                "channels": cli.channels,
                "layers": cli.layers,
                "image_size": cli.image_size,
                "reports": reports,
            }))?
            .as_bytes(),
        )?;
    }
    println!(
        "outputs in {}/ (rank.json, rank-<estimator>.png)",
        run_dir.path().display()
    );
    Ok(())
}

/// The run directory of `--out` (default: the first free `runs/rank[-N]`); `--overwrite`
/// replaces an earlier run's outputs (`RunDir` clears only directories that hold a run, a
/// `rank.json` included).
fn run_dir(args: &CommonArgs) -> Result<RunDir, Box<dyn std::error::Error>> {
    Ok(match &args.out {
        Some(dir) => RunDir::create(dir, common::if_exists(args.overwrite))?,
        None => RunDir::next_free(PathBuf::from("runs").join("rank"))?,
    })
}

/// Wraps an estimator: each estimate is the mean of `scores` estimates of the inner one (for
/// shared weights, one validation minibatch each) and is reported on stderr as it comes.
struct Logged<E> {
    /// The wrapped estimator.
    inner: E,
    /// Estimates of `inner` averaged per architecture.
    scores: usize,
    /// Architectures estimated so far.
    done: usize,
    /// Architectures to estimate in all (for the progress lines).
    total: usize,
    /// No progress lines.
    quiet: bool,
}

impl<E> Logged<E> {
    /// Wraps `inner`, averaging `scores` estimates per architecture, `total` architectures.
    fn new(inner: E, scores: usize, total: usize, quiet: bool) -> Self {
        Logged {
            inner,
            scores: scores.max(1),
            done: 0,
            total,
            quiet,
        }
    }

    /// Counts and reports one finished estimate.
    fn log(&mut self, name: &str, estimate: &Estimate) {
        self.done += 1;
        if !self.quiet {
            eprintln!(
                "{name} {}/{}: reward {:.4} ({:.1} s)",
                self.done, self.total, estimate.reward, estimate.metrics.seconds
            );
        }
    }
}

impl<A, E: Estimator<A>> Estimator<A> for Logged<E> {
    /// The mean reward and validation accuracy of `scores` estimates; their total time.
    fn estimate(&mut self, arch: &A) -> burn_nas::estimator::Result<Estimate> {
        let all = (0..self.scores)
            .map(|_| self.inner.estimate(arch))
            .collect::<burn_nas::estimator::Result<Vec<_>>>()?;
        let n = all.len() as f64;
        let mut estimate = all[0].clone();
        estimate.reward = all.iter().map(|e| e.reward).sum::<f64>() / n;
        estimate.metrics.valid_accuracy =
            all.iter().map(|e| e.metrics.valid_accuracy).sum::<f64>() / n;
        estimate.metrics.seconds = all.iter().map(|e| e.metrics.seconds).sum();
        self.log(self.inner.name(), &estimate);
        Ok(estimate)
    }

    /// With a single score, the inner estimator's batch (concurrent on a device pool).
    fn estimate_many(
        &mut self,
        children: &[(&A, Option<&A>)],
        stop: &std::sync::atomic::AtomicBool,
    ) -> burn_nas::estimator::Result<Vec<Estimate>> {
        if self.scores > 1 {
            return children
                .iter()
                .map(|(arch, _)| {
                    burn_nas::estimator::check_stop(stop)?;
                    self.estimate(arch)
                })
                .collect();
        }
        let estimates = self.inner.estimate_many(children, stop)?;
        for estimate in &estimates {
            self.log(self.inner.name(), estimate);
        }
        Ok(estimates)
    }

    fn parallelism(&self) -> usize {
        self.inner.parallelism()
    }

    fn name(&self) -> &'static str {
        self.inner.name()
    }
}

/// An estimator that answers from estimates made earlier (the reference's runs), each reward
/// computed from the stored estimate by `reward`: the reference itself, or a proxy read off its
/// runs (first-epoch accuracy, parameter count), at no cost.
struct Replay {
    /// The name reported.
    name: &'static str,
    /// Stored estimates by architecture JSON.
    by_arch: HashMap<String, Estimate>,
    /// The reward of a stored estimate.
    reward: fn(&Estimate) -> f64,
    /// Whether answers cost nothing (a proxy read off the runs: zero seconds) or keep the
    /// stored runs' seconds (the reference itself).
    free: bool,
}

impl Replay {
    /// Replays `by_arch` under `name` with its runs' seconds, rewarding each architecture with
    /// its estimate's reward.
    fn reference(name: &'static str, by_arch: HashMap<String, Estimate>) -> Self {
        Replay {
            name,
            by_arch,
            reward: |e| e.reward,
            free: false,
        }
    }

    /// A proxy read off the runs of `by_arch` at no cost: each architecture's reward is
    /// `reward` of its estimate.
    fn proxy(
        name: &'static str,
        by_arch: HashMap<String, Estimate>,
        reward: fn(&Estimate) -> f64,
    ) -> Self {
        Replay {
            name,
            by_arch,
            reward,
            free: true,
        }
    }
}

impl<A: Architecture> Estimator<A> for Replay {
    /// The stored estimate of `arch` with this replay's reward; zero seconds (nothing ran).
    fn estimate(&mut self, arch: &A) -> burn_nas::estimator::Result<Estimate> {
        let stored =
            self.by_arch
                .get(&arch.to_json())
                .ok_or_else(|| EstimatorError::InvalidSetting {
                    field: "arch",
                    reason: format!(
                        "`{}` has no stored estimate of this architecture",
                        self.name
                    ),
                })?;
        let mut estimate = stored.clone();
        estimate.reward = (self.reward)(stored);
        if self.free {
            estimate.metrics.seconds = 0.0;
        }
        Ok(estimate)
    }

    fn name(&self) -> &'static str {
        self.name
    }
}
