//! What every search example shares: command-line flags for data, device, run directory,
//! budget and retraining; loading the task; Ctrl-C; logging; printing the result.

#![allow(dead_code)] // Each example uses part of this module.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use burn::tensor::Device;
use burn_nas::backend::DevicePool;
use burn_nas::data::{ImageDataset, cifar10, fashion_mnist};
use burn_nas::estimator::{
    BatchObserver, CosineWarmRestarts, MicroChild, RetrainReport, module_to_bytes, retrain,
};
use burn_nas::nn::{CellStyle, Network};
use burn_nas::prelude::*;
use burn_nas::search::{Derived, RandomComparison, compare_with_random_repeated};
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
/// Which controller values an ENAS example uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ControllerValues {
    /// The official code's (the library presets `ReinforceConfig::enas_micro()` / `enas_macro()`).
    Code,
    /// The values the ENAS paper states: 100 LSTM units, lr 3.5e-4, tanh constant 2.5,
    /// temperature 5 (`ReinforceConfig::with_enas_paper_values`).
    Paper,
}

impl ControllerValues {
    /// `preset` with these values.
    pub fn apply(self, preset: ReinforceConfig) -> ReinforceConfig {
        match self {
            ControllerValues::Code => preset,
            ControllerValues::Paper => preset.with_enas_paper_values(),
        }
    }
}

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
    /// Epochs to retrain the found architecture from scratch (0: no retraining); overrides
    /// --retrain-steps.
    #[arg(long)]
    pub retrain_epochs: Option<usize>,
    /// Length of the retraining in optimizer steps (turned into whole epochs of the training
    /// split, at least one), so that a small dataset still gets a real training run.
    #[arg(long)]
    pub retrain_steps: Option<usize>,
    /// Retrain (and test) at this image size (area downscaling); default: the dataset's.
    #[arg(long)]
    pub retrain_image_size: Option<usize>,
    /// After the search, retrain this many uniformly random architectures of the same space
    /// under exactly the found one's protocol and report where the found one ranks (stdout,
    /// summary.json, compare_random.png).
    #[arg(long, default_value_t = 0)]
    pub compare_random: usize,
    /// With --compare-random: retrain every architecture of the comparison (the found one
    /// included) under this many training seeds (--seed, --seed + 1, …) and compare their mean
    /// test accuracies; reports one retraining's spread too. On the embedded subset one
    /// retraining of `enas_micro`'s fast preset varies by about as much as the random cells
    /// differ (docs/results.md), so a single seed cannot tell them apart.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub compare_seeds: u64,
    /// Wall-time budget of the whole run (`10m`, `90s`, `1h`, or seconds): the search gets
    /// 40% of it (checked between rounds, at most the preset's rounds), the retraining what is
    /// left, its epochs set from a short timing of the found architecture. --retrain-epochs
    /// and --retrain-steps override the retraining's share.
    #[arg(long, value_parser = parse_duration)]
    pub time_budget: Option<f64>,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
    /// More log output (-v info, -vv debug).
    #[arg(long, short, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// The exit status of an example's `run`: success, or the error printed as a readable message
/// (its `Display`, with the chain of causes) on stderr and failure.
pub fn exit_on_error(result: Result<(), Box<dyn std::error::Error>>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = e.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            std::process::ExitCode::FAILURE
        }
    }
}

/// The augmentation of ENAS micro training batches: ENAS's (pad-and-crop 4, flips) for colour
/// images; for grayscale Fashion-MNIST no flips (its items are asymmetric), shifts of 2 only.
pub fn augmentation(channels: usize) -> Augmentation {
    if channels == 3 {
        Augmentation::enas()
    } else {
        Augmentation {
            pad_crop: 2,
            ..Augmentation::none()
        }
    }
}

/// A standalone ENAS micro child of `task`'s shape with `layers` normal cells × `channels`:
/// no auxiliary head, drop path or dropout, cells projected back to their width as in the
/// supernet (the network `rank` measures and `enas_micro`'s low-fidelity selection trains;
/// pooled trials stay reproducible).
pub fn standalone_micro_child(task: &Task, layers: usize, channels: usize) -> MicroChild {
    MicroChild(
        MicroNetConfig::new(task.classes())
            .with_in_channels(task.channels())
            .with_image_size(task.image_size())
            .with_layers(layers)
            .with_channels(channels)
            .with_aux_head(false)
            .with_drop_path_keep(1.0)
            .with_dropout(0.0)
            .with_cell_style(CellStyle::Projected),
    )
}

/// Training of a standalone child for a ranking or a selection: `epochs` of 64-image batches,
/// one cosine decay 0.05 → 5e-4, `augmentation`, `seed`.
pub fn short_training(epochs: usize, augmentation: Augmentation, seed: u64) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 64,
        lr: CosineWarmRestarts::single(0.05, 5e-4, epochs.max(1)),
        augmentation,
        seed,
        ..TrainConfig::default()
    }
}

/// `enas_micro`'s fast preset, retraining: optimizer steps (whole epochs of the retraining
/// split). Shared with `retrain_noise`, which measures this retraining's noise.
pub const FAST_RETRAIN_STEPS: usize = 640;
/// Fast preset, retraining: image side.
pub const FAST_RETRAIN_IMAGE_SIZE: usize = 14;
/// Fast preset, retraining: channels of the network's first cells.
pub const FAST_RETRAIN_CHANNELS: usize = 16;
/// Fast preset, retraining: normal cells of the network.
pub const FAST_RETRAIN_LAYERS: usize = 3;
/// Fast preset, retraining: minibatch size.
pub const FAST_RETRAIN_BATCH: usize = 64;
/// Fast preset, retraining: weight decay.
pub const FAST_RETRAIN_WEIGHT_DECAY: f64 = 3e-4;

/// Share of `--time-budget` given to the search.
const SEARCH_SHARE: f64 = 0.4;

/// When the example started (the first call of [`init_logging`] or [`started`]).
pub fn started() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// Parses a duration: a number of seconds, or a number followed by `s`, `m` or `h`.
fn parse_duration(text: &str) -> Result<f64, String> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c),
        _ => (text, 's'),
    };
    let scale = match unit {
        's' => 1.0,
        'm' => 60.0,
        'h' => 3600.0,
        other => return Err(format!("unknown unit `{other}` (use s, m or h, e.g. 10m)")),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (e.g. 10m, 90s, 1h)"))?;
    if !(value > 0.0 && value.is_finite()) {
        return Err(format!("`{text}`: a budget must be positive"));
    }
    Ok(value * scale)
}

/// Logging to stderr through env_logger; `RUST_LOG` overrides the level.
pub fn init_logging(verbose: u8) {
    started();
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

/// The pool that trains independent children concurrently: `--devices`, or else, when
/// `--device` is the CPU (`flex`), one flex worker per core (the small children of a search or
/// a selection cannot keep several cores busy one at a time). Seeded with `--seed`.
pub fn trial_pool(args: &CommonArgs) -> Result<DevicePool, Box<dyn std::error::Error>> {
    if args.devices.is_some() || args.device != DeviceSpec::Flex {
        return pool(args);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pool = DevicePool::new(vec![Device::flex(); cores])?;
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
    load_task_with(args, default_train, |_| default_valid)
}

/// [`load_task`] whose default validation size is a function of the number of training
/// images loaded (after `--train-images`).
pub fn load_task_with(
    args: &CommonArgs,
    default_train: usize,
    default_valid: impl FnOnce(usize) -> usize,
) -> Result<(Task, String), Box<dyn std::error::Error>> {
    load(args, default_train, default_valid, false)
}

/// The task a *final* network trains on: as [`load_task`], except that a validation size of
/// 0 trains on every training image, as the official ENAS code trains its final networks
/// (`num_valids = 0`); its per-epoch figures are then measured on the test set, which the
/// training reports but never selects on (the last epoch's network is the result). Never for
/// a search: its rewards must not see the test set.
///
/// The validation size is `retrain_valid` (an example's `--retrain-valid-images`), else
/// `--valid-images`, else `default_valid`.
pub fn load_final_task(
    args: &CommonArgs,
    default_train: usize,
    default_valid: usize,
    retrain_valid: Option<usize>,
) -> Result<(Task, String), Box<dyn std::error::Error>> {
    match retrain_valid {
        Some(valid) => {
            let args = CommonArgs {
                valid_images: Some(valid),
                ..args.clone()
            };
            load(&args, default_train, |_| valid, true)
        }
        None => load(args, default_train, |_| default_valid, true),
    }
}

fn load(
    args: &CommonArgs,
    default_train: usize,
    default_valid: impl FnOnce(usize) -> usize,
    all_for_training: bool,
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
    let valid = args
        .valid_images
        .unwrap_or_else(|| default_valid(train.len()));
    if valid == 0 && all_for_training {
        let description = format!(
            "{source}: all {} training images, no validation split (per-epoch figures on the \
             {} test images)",
            train.len(),
            test.len()
        );
        return Ok((Task::new(train, test.clone(), Some(test))?, description));
    }
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

/// The first `train_images + valid_images` Fashion-MNIST training images (from `data_dir`,
/// else the embedded subset — never the system copy, so a study is the same everywhere) and
/// the test set, for the studies that size their data with `--train-images` and
/// `--valid-images` (`curves`, `hyperband`).
pub fn first_fashion_mnist(
    data_dir: Option<&std::path::Path>,
    train_images: usize,
    valid_images: usize,
) -> Result<(ImageDataset, ImageDataset), Box<dyn std::error::Error>> {
    let (train, test) = match data_dir {
        Some(dir) => {
            let (train, test, _) = fashion_mnist::load(Some(dir))?;
            (train, test)
        }
        None => fashion_mnist::load_embedded()?,
    };
    let wanted = train_images + valid_images;
    if wanted > train.len() {
        return Err(format!(
            "--train-images {train_images} + --valid-images {valid_images} is more than the {} \
             images there are",
            train.len()
        )
        .into());
    }
    Ok((train.subset(&(0..wanted).collect::<Vec<_>>())?, test))
}

fn take(data: ImageDataset, limit: usize) -> Result<ImageDataset, Box<dyn std::error::Error>> {
    if limit == 0 || limit >= data.len() {
        return Ok(data);
    }
    Ok(data.subset(&(0..limit).collect::<Vec<_>>())?)
}

/// What `--overwrite` asks of an existing run directory.
pub fn if_exists(overwrite: bool) -> IfExists {
    if overwrite {
        IfExists::ReplaceRun
    } else {
        IfExists::Refuse
    }
}

/// The budget from the flags, with `default_rounds` when none is given.
pub fn budget(args: &CommonArgs, default_rounds: usize) -> Budget {
    let mut budget = Budget {
        rounds: args.rounds,
        evaluations: args.max_evaluations,
        seconds: args
            .max_seconds
            .or(args.time_budget.map(|t| SEARCH_SHARE * t)),
    };
    if budget.rounds.is_none() && (budget.evaluations.is_none() || args.time_budget.is_some()) {
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
                Some(dir) => RunDir::create(dir, if_exists(args.overwrite))?,
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

/// A default length of retraining.
#[derive(Debug, Clone, Copy)]
pub enum RetrainLength {
    /// Whole epochs.
    Epochs(usize),
    /// Optimizer steps, turned into whole epochs of the training split.
    Steps(usize),
}

/// Epochs of a retraining: `--retrain-epochs` when given, else `--retrain-steps` (or the
/// example's `default`) optimizer steps of `batch` images turned into whole epochs of
/// `train_len` images (at least one), so that training does not collapse on a small dataset.
pub fn retrain_epochs(
    args: &CommonArgs,
    default: RetrainLength,
    batch: usize,
    train_len: usize,
) -> usize {
    let steps = match (args.retrain_epochs, args.retrain_steps, default) {
        (Some(epochs), _, _) => return epochs,
        (None, Some(steps), _) | (None, None, RetrainLength::Steps(steps)) => steps,
        (None, None, RetrainLength::Epochs(epochs)) => return epochs,
    };
    if steps == 0 {
        return 0;
    }
    let per_epoch = train_len.div_ceil(batch.max(1)).max(1);
    ((steps as f64 / per_epoch as f64).round() as usize).max(1)
}

/// The task the found architecture is retrained on: `task` at `--retrain-image-size`.
pub fn retrain_task(args: &CommonArgs, task: &Task) -> Result<Task, Box<dyn std::error::Error>> {
    Ok(match args.retrain_image_size {
        Some(size) if size != task.image_size() => task.reduced(1.0, Some(size), args.seed)?,
        _ => task.clone(),
    })
}

/// Runs the search to its budget, derives the result (the candidates scored by `selector` when
/// given, else by the search's estimator) and, unless `retraining.epochs` is 0,
/// retrains it with `factory` on `task` (at `--retrain-image-size`). With `--compare-random N`,
/// then retrains N uniformly random architectures of `space` under exactly the same protocol
/// and reports where the found one ranks. Prints what was found and where the outputs are.
#[allow(clippy::too_many_arguments)]
pub fn finish<A, S, F>(
    mut search: Search<A>,
    space: &S,
    factory: &F,
    task: &Task,
    retraining: TrainConfig,
    args: &CommonArgs,
    device: &Device,
    selector: Option<&mut dyn Estimator<A>>,
) -> Result<Option<Found<A>>, Box<dyn std::error::Error>>
where
    A: Architecture,
    S: SearchSpace<Arch = A>,
    F: burn_nas::estimator::ChildFactory<A>,
{
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
    let derived = match selector {
        Some(selector) => {
            eprintln!(
                "selecting among the derivation candidates by {}…",
                selector.name()
            );
            search.derive_with(selector)?
        }
        None => search.derive()?,
    };
    println!(
        "\nsearch: {} rounds, {} evaluations in {:.0} s",
        search.rounds_done(),
        search.history().len(),
        search.elapsed()
    );
    println!("found (reward {:.4}):\n{}", derived.reward, derived.arch);
    let mut report = None;
    let task = retrain_task(args, task)?;
    let mut retraining = retraining;
    if let Some(total) = args.time_budget
        && args.retrain_epochs.is_none()
        && args.retrain_steps.is_none()
    {
        let left = total - started().elapsed().as_secs_f64();
        let epochs = if left > 0.0 {
            let epochs = epochs_within(left, factory, &derived.arch, &task, &retraining, device)?;
            eprintln!("time budget: {left:.0} s left for retraining → {epochs} epoch(s)");
            epochs
        } else {
            eprintln!(
                "time budget: the search overran it by {:.0} s; retraining for one epoch",
                -left
            );
            1
        };
        retraining.epochs = epochs;
        retraining.lr = CosineWarmRestarts::single(retraining.lr.max, retraining.lr.min, epochs);
    }
    if retraining.epochs > 0 {
        eprintln!(
            "retraining for {} epochs at {}×{}…",
            retraining.epochs,
            task.image_size(),
            task.image_size()
        );
        let (net, r) = retrain(
            factory,
            &derived.arch,
            &task,
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
        if args.compare_random > 0 {
            let comparison = compare_random(
                space,
                &derived.arch,
                &r,
                factory,
                &task,
                &retraining,
                args,
                device,
            )?;
            println!("search vs random: {comparison}");
            search.record_comparison(comparison)?;
        }
        report = Some(r);
    }
    println!(
        "outputs in {dir}/ (best_arch.json, best_arch.dot, history.jsonl, reward.png, summary.json)"
    );
    Ok(Some((derived, report)))
}

/// Records when each minibatch of a training run ended.
#[derive(Default)]
struct StepClock(Mutex<Vec<Instant>>);

impl BatchObserver for StepClock {
    fn on_batch(&self, _done: usize, _total: usize, _loss: f64) {
        if let Ok(mut times) = self.0.lock() {
            times.push(Instant::now());
        }
    }
}

/// Whole epochs of `training` that fit in `seconds` for `arch` on `task` (at least one), from a
/// timing of one short epoch on a small subset of the training split: the median step time
/// scales the training, the measured validation and test passes are added as they are.
fn epochs_within<A, F: burn_nas::estimator::ChildFactory<A>>(
    seconds: f64,
    factory: &F,
    arch: &A,
    task: &Task,
    training: &TrainConfig,
    device: &Device,
) -> Result<usize, Box<dyn std::error::Error>> {
    const STEPS: usize = 20;
    let n = task.train.len();
    let fraction = (((STEPS + 1) * training.batch_size) as f64 / n.max(1) as f64).min(1.0);
    let small = task.reduced(fraction, None, training.seed)?;
    let clock = Arc::new(StepClock::default());
    let probe = TrainConfig {
        epochs: 1,
        ..training.clone()
    };
    let start = Instant::now();
    let (_, report) = retrain(
        factory,
        arch,
        &small,
        &probe,
        device,
        Some(clock.clone()),
        |_| {},
    )?;
    let spent = start.elapsed().as_secs_f64();
    let times = clock.0.lock().map(|t| t.clone()).unwrap_or_default();
    let mut steps: Vec<f64> = times
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    steps.sort_by(f64::total_cmp);
    let step = steps.get(steps.len() / 2).copied().unwrap_or(spent);
    let train_seconds = step * times.len() as f64;
    let epoch_seconds = report.curve.first().map_or(spent, |e| e.seconds);
    let valid_seconds = (epoch_seconds - train_seconds).max(0.0);
    let test_seconds = (spent - epoch_seconds).max(0.0);
    let per_epoch = step * n.div_ceil(training.batch_size.max(1)) as f64 + valid_seconds;
    let left = seconds - spent - test_seconds;
    Ok(((left / per_epoch.max(1e-9)).floor() as usize).max(1))
}

/// Retrains `--compare-random` uniformly random architectures of `space` with the found one's
/// protocol (`retraining`, `task`, `factory`) and ranks the found one's test accuracy (its
/// validation accuracy when the task has no test split) among theirs; with `--compare-seeds
/// K`, every architecture is retrained under K seeds and the means are ranked.
#[allow(clippy::too_many_arguments)]
fn compare_random<A, S, F>(
    space: &S,
    found: &A,
    found_report: &RetrainReport,
    factory: &F,
    task: &Task,
    retraining: &TrainConfig,
    args: &CommonArgs,
    device: &Device,
) -> Result<RandomComparison, Box<dyn std::error::Error>>
where
    A: Architecture,
    S: SearchSpace<Arch = A>,
    F: burn_nas::estimator::ChildFactory<A>,
{
    let metric = |r: &RetrainReport| r.test_accuracy.unwrap_or(r.valid.accuracy);
    let n = args.compare_random;
    let seeds = args.compare_seeds as usize;
    let comparison = compare_with_random_repeated(
        space,
        found,
        n,
        args.seed.wrapping_add(1),
        seeds,
        |arch, i, repeat| {
            if i == 0 && repeat == 0 {
                return Ok(metric(found_report));
            }
            let which = match i {
                0 => "the found architecture".to_string(),
                _ => format!("random architecture {i} of {n}"),
            };
            // Repeat r retrains with seed --seed + r: repeat 0 is the found one's own protocol.
            let training = TrainConfig {
                seed: retraining.seed.wrapping_add(repeat as u64),
                ..retraining.clone()
            };
            eprintln!("{which}: retraining (seed {})…", training.seed);
            let (_, r) = retrain(factory, arch, task, &training, device, None, |_| {})?;
            eprintln!("  test accuracy {:.4}", metric(&r));
            Ok(metric(&r))
        },
    )?;
    let name = match (found_report.test_accuracy.is_some(), seeds > 1) {
        (true, false) => "test accuracy".to_string(),
        (false, false) => "valid accuracy".to_string(),
        (true, true) => format!("mean test accuracy over {seeds} seeds"),
        (false, true) => format!("mean valid accuracy over {seeds} seeds"),
    };
    Ok(comparison.with_metric(name))
}

/// The child training of the equal-cost studies (`hyperband`, `hill_climbing`): `epochs` of
/// SGD in batches of 64, cosine rate 0.05 → 0.001, no augmentation.
pub fn study_training(epochs: usize, seed: u64) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 64,
        lr: CosineWarmRestarts::single(0.05, 1e-3, epochs.max(1)),
        augmentation: Augmentation::none(),
        seed,
        ..TrainConfig::default()
    }
}

/// The mean of `values` (0 for none).
pub fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = values.collect();
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// The data flags of the NAS-RL equal-cost studies (`hyperband`, `hill_climbing`): the first
/// `--train-images` + `--valid-images` Fashion-MNIST training images at `--image-size`, and the
/// children's width.
#[derive(Debug, Args)]
pub struct StudyData {
    /// Training images (the first ones of the training set).
    #[arg(long, default_value_t = 3_000)]
    pub train_images: usize,
    /// Validation images (after the training images).
    #[arg(long, default_value_t = 1_000)]
    pub valid_images: usize,
    /// Image side the children see.
    #[arg(long, default_value_t = 14)]
    pub image_size: usize,
    /// Multiply every child's filter counts.
    #[arg(long, default_value_t = 0.5)]
    pub filter_scale: f64,
    /// Directory with Fashion-MNIST IDX files (default: the embedded subset).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

impl StudyData {
    /// The task (with the 1,000 test images) and the NAS-RL child network settings.
    pub fn load(&self) -> Result<(Task, NasRlNetConfig), Box<dyn std::error::Error>> {
        let (train, test) = first_fashion_mnist(
            self.data_dir.as_deref(),
            self.train_images,
            self.valid_images,
        )?;
        let task = Task::split(train, self.valid_images, Some(test))?.reduced(
            1.0,
            Some(self.image_size),
            0,
        )?;
        let net = NasRlNetConfig::new(task.classes())
            .with_in_channels(task.channels())
            .with_image_size(task.image_size())
            .with_filter_scale(self.filter_scale);
        Ok((task, net))
    }
}
