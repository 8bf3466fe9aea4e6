//! What every search example shares: command-line flags for data, device, run directory,
//! budget and retraining; loading the task; Ctrl-C; logging; printing the result.

#![allow(dead_code)] // Each example uses part of this module.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use burn::tensor::Device;
use burn_nas::backend::DevicePool;
use burn_nas::data::{ImageDataset, cifar10, fashion_mnist};
use burn_nas::estimator::{RetrainReport, module_to_bytes, retrain};
use burn_nas::prelude::*;
use burn_nas::search::Derived;
use burn_nas::space::nn::Network;
use clap::{Args, ValueEnum};

/// The datasets the examples can search on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Dataset {
    /// Fashion-MNIST (1×28×28): `--data-dir`, else $BURN_NAS_DATA, else
    /// /usr/share/datasets/fashion-mnist, else the 6,000-image subset embedded in burn-nas.
    FashionMnist,
    /// CIFAR-10 binary version (3×32×32) from `--data-dir` (the `cifar-10-batches-bin`
    /// directory).
    Cifar10,
}

/// Flags shared by every search example.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Dataset to search on.
    #[arg(long, value_enum, default_value = "fashion-mnist")]
    pub dataset: Dataset,
    /// Directory holding the dataset files.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Use at most this many training images (0: all), taken in order before the split.
    #[arg(long)]
    pub train_images: Option<usize>,
    /// Images at the end of the training set held out to compute rewards.
    #[arg(long)]
    pub valid_images: Option<usize>,
    /// Device: flex (CPU, default), wgpu[:N|:cpu], cuda[:N], remote:ws://HOST:PORT.
    #[arg(long, default_value = "flex", env = "BURN_NAS_DEVICE")]
    pub device: DeviceSpec,
    /// Devices multi-trial searches train children on concurrently, one worker each
    /// (comma list, e.g. `flex,flex` or `cuda:0,cuda:1`; default: `--device`).
    #[arg(long)]
    pub devices: Option<String>,
    /// Seed of everything (controller, weights, data order).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Run directory (default: runs/<example>, or runs/<example>-N when that exists).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace the contents of an existing --out directory.
    #[arg(long)]
    pub overwrite: bool,
    /// Continue the run in this directory from its last checkpoint (same flags as the run).
    #[arg(long, conflicts_with_all = ["out", "overwrite"])]
    pub resume: Option<PathBuf>,
    /// Search rounds (ENAS: epochs of the shared weights).
    #[arg(long)]
    pub rounds: Option<usize>,
    /// Stop after this many evaluated architectures.
    #[arg(long)]
    pub max_evaluations: Option<usize>,
    /// Stop after this many seconds of search (checked between rounds).
    #[arg(long)]
    pub max_seconds: Option<f64>,
    /// Epochs to retrain the found architecture from scratch (0: no retraining).
    #[arg(long)]
    pub retrain_epochs: Option<usize>,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
    /// More log output (-v info, -vv debug).
    #[arg(long, short, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Logging to stderr through env_logger; `RUST_LOG` overrides the level.
pub fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        .format_timestamp_secs()
        .try_init();
}

/// The device of `--device`, its generator (weight initialisation, dropout) seeded with
/// `--seed`.
pub fn device(args: &CommonArgs) -> Result<Device, Box<dyn std::error::Error>> {
    let device = args.device.to_device()?;
    device.seed(args.seed);
    device.clone().autodiff().seed(args.seed);
    Ok(device)
}

/// The pool of `--devices` (default: the one `--device`), seeded with `--seed`.
pub fn pool(args: &CommonArgs) -> Result<DevicePool, Box<dyn std::error::Error>> {
    let list = args
        .devices
        .clone()
        .unwrap_or_else(|| args.device.to_string());
    let pool = DevicePool::parse(&list)?;
    pool.seed(args.seed);
    Ok(pool)
}

/// The task of `--dataset`: the training set (limited by `--train-images`) with its last
/// `valid` images as validation, and the test set. Returns a description for the summary.
pub fn load_task(
    args: &CommonArgs,
    default_train: usize,
    default_valid: usize,
) -> Result<(Task, String), Box<dyn std::error::Error>> {
    let (train, test, source) = match args.dataset {
        Dataset::FashionMnist => {
            let (train, test, source) = fashion_mnist::load(args.data_dir.as_deref())?;
            (train, test, format!("Fashion-MNIST from the {source}"))
        }
        Dataset::Cifar10 => {
            let dir = args
                .data_dir
                .as_deref()
                .ok_or("--dataset cifar10 needs --data-dir (the cifar-10-batches-bin directory)")?;
            let (train, test) = cifar10::load(dir)?;
            (train, test, format!("CIFAR-10 from {}", dir.display()))
        }
    };
    let limit = args.train_images.unwrap_or(default_train);
    let train = take(train, limit)?;
    let valid = args.valid_images.unwrap_or(default_valid);
    if valid >= train.len() {
        return Err(format!(
            "--valid-images {valid} leaves no training images out of {}",
            train.len()
        )
        .into());
    }
    let description = format!(
        "{source}: {} training, {valid} validation, {} test images",
        train.len() - valid,
        test.len()
    );
    Ok((Task::split(train, valid, Some(test))?, description))
}

fn take(data: ImageDataset, limit: usize) -> Result<ImageDataset, Box<dyn std::error::Error>> {
    if limit == 0 || limit >= data.len() {
        return Ok(data);
    }
    Ok(data.subset(&(0..limit).collect::<Vec<_>>())?)
}

/// The budget from the flags, with `default_rounds` when none is given.
pub fn budget(args: &CommonArgs, default_rounds: usize) -> Budget {
    let mut budget = Budget {
        rounds: args.rounds,
        evaluations: args.max_evaluations,
        seconds: args.max_seconds,
    };
    if budget.rounds.is_none() && budget.evaluations.is_none() && budget.seconds.is_none() {
        budget.rounds = Some(default_rounds);
    }
    budget
}

/// Attaches the run directory (fresh, or resumed with `--resume`) and a Ctrl-C handler: the
/// first Ctrl-C stops after the current evaluation, keeping the last round's checkpoint; a
/// second one exits at once.
pub fn attach<A: Architecture>(
    search: Search<A>,
    args: &CommonArgs,
    example: &str,
    extra: serde_json::Value,
) -> Result<Search<A>, Box<dyn std::error::Error>> {
    let search = search.with_extra(extra);
    let search = match &args.resume {
        Some(dir) => search.resume(RunDir::open(dir)?)?,
        None => {
            let run = match &args.out {
                Some(dir) => RunDir::create(dir, args.overwrite)?,
                None => RunDir::next_free(PathBuf::from("runs").join(example))?,
            };
            search.with_run_dir(run)
        }
    };
    install_ctrlc(search.stop_flag());
    Ok(search)
}

fn install_ctrlc(flag: Arc<AtomicBool>) {
    let result = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            eprintln!("\nsecond Ctrl-C: exiting now; the last round's checkpoint is kept");
            std::process::exit(130);
        }
        eprintln!("\nCtrl-C: stopping after the current evaluation (Ctrl-C again to exit now)");
    });
    if let Err(e) = result {
        log::warn!("cannot install the Ctrl-C handler: {e}");
    }
}

/// What a finished search example found: the derived architecture and, if retrained, the report.
pub type Found<A> = (Derived<A>, Option<RetrainReport>);

/// Runs the search to its budget, derives the result and, unless `epochs` is 0, retrains it
/// with `factory`. Prints what was found and where the outputs are.
pub fn finish<A: Architecture, F: burn_nas::estimator::ChildFactory<A>>(
    mut search: Search<A>,
    factory: &F,
    task: &Task,
    retraining: TrainConfig,
    device: &Device,
) -> Result<Option<Found<A>>, Box<dyn std::error::Error>> {
    let dir = search
        .run_dir()
        .map(|r| r.path().display().to_string())
        .unwrap_or_default();
    if search.run()? == Outcome::Interrupted {
        println!(
            "interrupted after {} rounds; continue with --resume {dir}",
            search.rounds_done()
        );
        return Ok(None);
    }
    let derived = search.derive()?;
    println!(
        "\nsearch: {} rounds, {} evaluations in {:.0} s",
        search.rounds_done(),
        search.history().len(),
        search.elapsed()
    );
    println!("found (reward {:.4}):\n{}", derived.reward, derived.arch);
    let mut report = None;
    if retraining.epochs > 0 {
        eprintln!("retraining for {} epochs…", retraining.epochs);
        let (net, r) = retrain(
            factory,
            &derived.arch,
            task,
            &retraining,
            device,
            None,
            |e| {
                eprintln!(
                    "  epoch {:>3}: train loss {:.4} acc {:.4} | valid acc {:.4} | {:.0} s",
                    e.epoch, e.train.loss, e.train.accuracy, e.valid.accuracy, e.seconds
                );
            },
        )?;
        println!(
            "retrained: test accuracy {}, valid accuracy {:.4}, {} parameters, {:.1} MFLOPs, {:.0} s",
            r.test_accuracy
                .map_or_else(|| "n/a".to_string(), |a| format!("{a:.4}")),
            r.valid.accuracy,
            r.params,
            2.0 * net.macs() as f64 / 1e6,
            r.seconds
        );
        let weights = module_to_bytes(&net)?;
        search.record_retrain(r.clone(), Some(&weights))?;
        report = Some(r);
    }
    println!(
        "outputs in {dir}/ (best_arch.json, best_arch.dot, history.jsonl, reward.png, summary.json)"
    );
    Ok(Some((derived, report)))
}
