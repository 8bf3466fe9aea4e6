//! ENAS micro search (Pham et al. 2018): a REINFORCE controller samples normal + reduction
//! cells, a supernet shares the weights of every cell, the two are trained in alternation; the
//! best sampled cell is then retrained from scratch and its test accuracy reported.
//!
//! ```text
//! cargo run --release --example enas_micro                     # 3–12 min on 2 CPU cores
//! cargo run --release --example enas_micro -- --help
//! cargo run --release --example enas_micro -- --preset paper --dataset cifar10 \
//!     --data-dir cifar-10-batches-bin --device cuda              # the paper's settings
//! cargo run --release --example enas_micro -- --resume runs/enas_micro
//! ```

mod common;

use burn_nas::estimator::{CosineWarmRestarts, MicroChild};
use burn_nas::nn::{CellStyle, ConvInit, MicroSupernet};
use burn_nas::prelude::*;
use clap::{Parser, ValueEnum};
use common::CommonArgs;

/// Validation images per controller reward (one minibatch, as in ENAS).
const VALID_BATCH: usize = 128;
/// `--strategy evolution`: population. The paper's 100 (and tournaments of 25) are for
/// 20,000 children; the fast preset evaluates 1,200, so both are halved and the tournament
/// is a fifth of the population.
const EVOLUTION_POPULATION: usize = 50;
/// `--strategy evolution`: tournament size.
const EVOLUTION_TOURNAMENT: usize = 10;

/// How the answer is picked among the controller's derivation candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SelectBy {
    /// ENAS: each candidate's shared-weight accuracy on the whole validation split.
    Shared,
    /// Each candidate trained from scratch at the supernet's size for one epoch on a quarter
    /// of the search's training images, scored on its validation images. On 20 random cells
    /// this ranked like 6-epoch standalone training with Kendall τ 0.41, shared weights with
    /// 0.06 (docs/results.md).
    LowFidelity,
}

/// The search strategy over the shared weights. The other two are the baselines ENAS must
/// beat at equal cost: the same supernet training, evaluations and selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Strategy {
    /// ENAS: an LSTM controller trained by REINFORCE; the derivation candidates are samples of
    /// its trained policy.
    Reinforce,
    /// Regularized evolution (Real et al. 2019; population 50, tournaments of 10) of
    /// one-decision mutations; the candidates are the best distinct cells it evaluated.
    Evolution,
    /// Uniformly random cells; the candidates are the best distinct cells it evaluated.
    Random,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Preset {
    /// Search and retrain in under 10 minutes on 2 CPU cores (Fashion-MNIST): a small supernet
    /// (2 + 2 cells × 8 channels) at 14×14 on up to 10,000 training images (the last 2,000 of
    /// the first 12,000 validate), 4 rounds of 30 controller updates × 10; pick the best of 16
    /// controller samples by one epoch of training from scratch on a quarter of the images
    /// (`--select-by low-fidelity`: shared weights of so short a search do not rank); retrain
    /// the found cell (3 + 2 cells × 16 channels, uniform initialisation, no augmentation) at
    /// 14×14 for 640 steps of 64 images on every image the search saw but the last 1,000 (8
    /// epochs on the embedded 6,000-image subset).
    Fast,
    /// ENAS's CIFAR-10 settings (the official `cifar10_micro_search.sh` and
    /// `cifar10_micro_final.sh`): supernet 6 + 2 layers × 20 channels, batch 160, 45k/5k
    /// split, 150 epochs of search; retrain ENAS's fixed cells, 15 layers × 36 channels, aux
    /// head, drop path, batch 144, 630 epochs of warm restarts, cutout 16. For a GPU.
    Paper,
}

/// ENAS micro search, then retraining of the found cell.
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
    /// Search strategy (evolution and random search are the baselines, at equal cost).
    #[arg(long, value_enum, default_value = "reinforce")]
    strategy: Strategy,
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
    /// Images at the end of the training set held out of the retraining to validate it (0:
    /// none, every training image trains and the per-epoch figures are on the test set, which
    /// nothing selects on; default: `--valid-images`, else the preset's: fast 1,000, paper 0).
    #[arg(long)]
    retrain_valid_images: Option<usize>,
    /// Layers of the retrained network.
    #[arg(long)]
    retrain_layers: Option<usize>,
    /// How the answer is picked among the derivation candidates (fast preset: low-fidelity;
    /// paper: shared, as ENAS).
    #[arg(long, value_enum)]
    select_by: Option<SelectBy>,
    /// Derivation candidates: samples of the trained controller, or the best evaluated cells
    /// of evolution and random search (fast: 16; paper: 10).
    #[arg(long)]
    candidates: Option<usize>,
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
    /// Weight decay of the shared weights (`wd · w`).
    weight_decay: f64,
    /// Gradient clipping of the shared weights and the retraining (`None`: none).
    grad_clip: Option<f64>,
    updates_per_round: usize,
    retrain_length: common::RetrainLength,
    /// Validation images held out of the retraining; 0: none, every training image trains
    /// (`common::load_final_task`).
    retrain_valid_images: usize,
    retrain_image_size: Option<usize>,
    retrain_channels: usize,
    retrain_layers: usize,
    retrain_aux: bool,
    retrain_drop_path_keep: f64,
    retrain_dropout: f64,
    retrain_batch: usize,
    /// Learning-rate schedule of the retraining (`None`: one cosine decay 0.05 → 5e-4 over its
    /// epochs).
    retrain_lr: Option<CosineWarmRestarts>,
    /// Weight decay of the retraining.
    retrain_weight_decay: f64,
    /// Cutout side of the retraining's augmentation (0: none).
    retrain_cutout: usize,
    /// Convolution initialisation of the retrained network.
    retrain_init: ConvInit,
    /// Whether the retraining augments its batches (the search always does).
    retrain_augment: bool,
    /// How the retrained network's cells are wired.
    retrain_cell_style: CellStyle,
    /// How the answer is picked among the derivation candidates.
    select_by: SelectBy,
    /// Derivation candidates.
    candidates: usize,
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
            weight_decay: 1e-4,
            grad_clip: Some(5.0),
            updates_per_round: 30,
            retrain_length: common::RetrainLength::Steps(common::FAST_RETRAIN_STEPS),
            retrain_valid_images: 1_000,
            retrain_image_size: Some(common::FAST_RETRAIN_IMAGE_SIZE),
            retrain_channels: common::FAST_RETRAIN_CHANNELS,
            retrain_layers: common::FAST_RETRAIN_LAYERS,
            retrain_aux: false,
            // Two epochs of a small network: regularisation would only slow it down.
            retrain_drop_path_keep: 1.0,
            retrain_dropout: 0.0,
            retrain_batch: common::FAST_RETRAIN_BATCH,
            retrain_lr: None,
            retrain_weight_decay: common::FAST_RETRAIN_WEIGHT_DECAY,
            retrain_cutout: 0,
            // Measured on the found cell of the fast preset (4 epochs at 14×14): test accuracy
            // 0.864 uniform vs 0.836 He; shifting 14×14 images by up to 2 pixels slowed the
            // short retraining (0.814 after 8 epochs with He) — docs/results.md.
            retrain_init: ConvInit::Uniform,
            retrain_augment: false,
            // Every measurement of the fast preset (docs/results.md) retrained projected
            // cells, the supernet's; ENAS's concatenation makes a cell k× as wide (k loose
            // ends).
            retrain_cell_style: CellStyle::Projected,
            // The shared weights of 4 short rounds do not rank cells (τ 0.06 on 20 random
            // cells); one epoch from scratch on a quarter of the data does (τ 0.41), at ~4 s
            // a candidate — docs/results.md.
            select_by: SelectBy::LowFidelity,
            candidates: 16,
        },
        Preset::Paper => Settings {
            train_images: 0,
            valid_images: 5_000,
            rounds: 150,
            channels: 20,
            layers: 6,
            search_image_size: None,
            // `cifar10_micro_search.sh`.
            batch_size: 160,
            // The official code adds L2 as `l2 · Σw²` (`child_l2_reg=1e-4`), i.e. weight
            // decay 2 · l2, and computes a clipped gradient that it never applies (search and
            // final training alike).
            weight_decay: 2e-4,
            grad_clip: None,
            updates_per_round: 30,
            retrain_length: common::RetrainLength::Epochs(630),
            // All 50,000 training images, as `cifar10_micro_final.sh` (`num_valids=0`).
            retrain_valid_images: 0,
            retrain_image_size: None,
            retrain_channels: 36,
            retrain_layers: 15,
            retrain_aux: true,
            retrain_drop_path_keep: 0.6,
            retrain_dropout: 0.2,
            // The official final run (`cifar10_micro_final.sh`): batch 144, warm restarts
            // 0.05 → 1e-4 with T0 = 10, Tmul = 2 (630 = 10 + 20 + … + 320 epochs: six whole
            // periods), L2 2e-4 added as l2·Σw² (= weight decay 4e-4), cutout 16.
            retrain_batch: 144,
            retrain_lr: Some(CosineWarmRestarts {
                min: 1e-4,
                ..CosineWarmRestarts::enas()
            }),
            retrain_weight_decay: 4e-4,
            retrain_cutout: 16,
            retrain_init: ConvInit::He,
            retrain_augment: true,
            retrain_cell_style: CellStyle::Enas,
            select_by: SelectBy::Shared,
            candidates: 10,
        },
    };
    Settings {
        channels: cli.channels.unwrap_or(base.channels),
        layers: cli.layers.unwrap_or(base.layers),
        search_image_size: cli.search_image_size.or(base.search_image_size),
        batch_size: cli.batch_size.unwrap_or(base.batch_size),
        retrain_channels: cli.retrain_channels.unwrap_or(base.retrain_channels),
        retrain_layers: cli.retrain_layers.unwrap_or(base.retrain_layers),
        select_by: cli.select_by.unwrap_or(base.select_by),
        candidates: cli.candidates.unwrap_or(base.candidates),
        ..base
    }
}

fn main() -> std::process::ExitCode {
    common::exit_on_error(run())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    common::init_logging(cli.common.verbose);
    let s = settings(&cli);
    let device = common::device(&cli.common)?;
    let (task, data) = common::load_task(&cli.common, s.train_images, s.valid_images)?;
    // Retraining sees every image the search saw, the search's validation images included,
    // minus a smaller held-out validation split — or none (the paper preset, as ENAS retrains
    // on all 50,000).
    let (retrain_task, retrain_data) = common::load_final_task(
        &cli.common,
        s.train_images,
        s.retrain_valid_images,
        cli.retrain_valid_images,
    )?;
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
    let augmentation = common::augmentation(task.channels());
    let shared_training = TrainConfig {
        epochs: s.rounds,
        batch_size: s.batch_size,
        lr: match cli.preset {
            Preset::Paper => CosineWarmRestarts::enas(),
            // A few rounds: one cosine cycle over the whole search.
            Preset::Fast => CosineWarmRestarts::single(0.05, 5e-4, s.rounds),
        },
        momentum: 0.9,
        weight_decay: s.weight_decay,
        grad_clip: s.grad_clip,
        augmentation: augmentation.clone(),
        seed: cli.common.seed,
        eval_batch_size: 500,
    };
    let estimator = SharedWeights::<MicroSupernet>::new(
        supernet,
        &search_task,
        shared_training,
        VALID_BATCH,
        device.clone(),
    )?;
    // Each candidate is scored on the same whole validation split (one cycle of the
    // estimator's minibatches), not on one minibatch of its own.
    let scores = (search_task.valid.len() / VALID_BATCH).max(1);
    let config = SearchConfig {
        updates_per_round: s.updates_per_round,
        budget: common::budget(&cli.common, s.rounds),
        quiet: cli.common.quiet,
        derive: match cli.strategy {
            Strategy::Reinforce => Derive::Sample {
                candidates: s.candidates,
                scores,
            },
            // Their best single-minibatch rewards are partly luck: score the best few again.
            Strategy::Evolution | Strategy::Random => Derive::Rescore {
                candidates: s.candidates,
                scores,
            },
        },
        ..SearchConfig::enas_micro(s.rounds)
    };
    // Low-fidelity selection: the supernet's network as a standalone child, one epoch on a
    // quarter of the search's training images, scored on its validation images; the
    // candidates train concurrently on the trial pool (their estimates do not depend on it).
    let mut selector = match s.select_by {
        SelectBy::Shared => None,
        SelectBy::LowFidelity => {
            let fidelity = Fidelity {
                data_fraction: 0.25,
                ..Fidelity::full(1)
            };
            Some(
                TrainFromScratch::new(
                    common::standalone_micro_child(&search_task, s.layers, s.channels),
                    &search_task,
                    fidelity,
                    common::short_training(1, augmentation.clone(), cli.common.seed),
                    device.clone(),
                )?
                .with_pool(common::trial_pool(&cli.common)?),
            )
        }
    };
    let search = match cli.strategy {
        Strategy::Reinforce => {
            let controller = cli.controller_values.apply(ReinforceConfig {
                seed: cli.common.seed,
                ..ReinforceConfig::enas_micro()
            });
            let strategy = Reinforce::new(space.clone(), controller, device.clone())?;
            Search::new(&space, strategy, estimator, config)?
        }
        Strategy::Evolution => {
            let evolution = EvolutionConfig {
                population: EVOLUTION_POPULATION,
                sample_size: EVOLUTION_TOURNAMENT,
                seed: cli.common.seed,
            };
            let strategy = RegularizedEvolution::new(space.clone(), evolution)?;
            Search::new(&space, strategy, estimator, config)?
        }
        Strategy::Random => {
            let strategy = RandomSearch::new(space.clone(), cli.common.seed);
            Search::new(&space, strategy, estimator, config)?
        }
    };
    let extra = serde_json::json!({
        "example": "enas_micro",
        "preset": format!("{:?}", cli.preset),
        "data": data,
        "retrain_data": retrain_data,
        "device": cli.common.device.to_string(),
        "supernet": { "channels": s.channels, "layers": s.layers,
                      "image_size": search_task.image_size(), "batch_size": s.batch_size },
        "seed": cli.common.seed,
        "strategy": format!("{:?}", cli.strategy),
        "controller_values": format!("{:?}", cli.controller_values),
        "select_by": format!("{:?}", s.select_by),
        "candidates": s.candidates,
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
            .with_dropout(s.retrain_dropout)
            .with_init(s.retrain_init)
            .with_cell_style(s.retrain_cell_style),
    );
    let retrain_task = match cli.common.retrain_image_size.or(s.retrain_image_size) {
        Some(size) if size != retrain_task.image_size() => {
            retrain_task.reduced(1.0, Some(size), cli.common.seed)?
        }
        _ => retrain_task,
    };
    let retrain_epochs = common::retrain_epochs(
        &cli.common,
        s.retrain_length,
        s.retrain_batch,
        retrain_task.train.len(),
    );
    let retraining = TrainConfig {
        epochs: retrain_epochs,
        batch_size: s.retrain_batch,
        lr: s
            .retrain_lr
            .clone()
            .unwrap_or_else(|| CosineWarmRestarts::single(0.05, 5e-4, retrain_epochs.max(1))),
        weight_decay: s.retrain_weight_decay,
        grad_clip: s.grad_clip,
        augmentation: if s.retrain_augment {
            Augmentation {
                cutout: s.retrain_cutout,
                ..augmentation
            }
        } else {
            Augmentation::none()
        },
        seed: cli.common.seed,
        ..TrainConfig::default()
    };
    if let Some((derived, _)) = common::finish(
        search,
        &space,
        &child,
        &retrain_task,
        retraining,
        &cli.common,
        &device,
        selector
            .as_mut()
            .map(|e| e as &mut dyn Estimator<MicroArch>),
    )? {
        println!("ENAS integer string: {}", derived.arch.to_enas_string());
    }
    Ok(())
}
