//! How much does one retraining vary with its training seed, and how much do architectures
//! differ beyond that? Retrains each ENAS micro cell under the `enas_micro` fast preset's
//! retraining protocol (3 normal + 2 reduction cells × 16 channels at 14×14, 640 steps of 64,
//! SGD Nesterov, cosine 0.05 → 5e-4, weight decay 3e-4, no augmentation; the first 5,000
//! training images train, the next 1,000 validate, the test images are scored) once per
//! `--seeds` entry, then splits the spread of the test accuracies into the part one
//! architecture shows across seeds (the protocol's noise) and the part left between
//! architectures (what a search can hope to find).
//!
//! The cells are the uniformly random ones that `enas_micro --seed S --compare-random N`
//! retrains (the first N draws of a `ChaCha8Rng` seeded with S + 1: `--draws S+1 --per-draw N`)
//! and any architecture files or ENAS integer strings given with `--arch`. Writes
//! `report.json` (every score and the summary) into the run directory (default
//! `runs/retrain_noise`). docs/results.md ("How noisy is the main command's retraining")
//! measured 34 cells this way.
//!
//! ```text
//! cargo run --release --example retrain_noise -- --draws 1 --per-draw 5 --seeds 0,1
//! cargo run --release --example retrain_noise -- --arch runs/enas_micro/best_arch.json --seeds 0,1,2
//! ```

mod common;

use std::path::PathBuf;

use burn_nas::estimator::{CosineWarmRestarts, MicroChild, retrain};
use burn_nas::nn::ConvInit;
use burn_nas::prelude::*;
use burn_nas::search::{kendall_tau, pearson_r, pooled_sd};
use clap::Parser;
use common::{
    CommonArgs, FAST_RETRAIN_BATCH, FAST_RETRAIN_CHANNELS, FAST_RETRAIN_IMAGE_SIZE,
    FAST_RETRAIN_LAYERS, FAST_RETRAIN_STEPS, FAST_RETRAIN_WEIGHT_DECAY,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// Retraining noise against the spread between architectures, on ENAS micro cells.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Seeds of the `ChaCha8Rng`s that draw uniformly random cells (comma list; `enas_micro
    /// --seed S --compare-random N` draws with S + 1).
    #[arg(long, value_delimiter = ',')]
    draws: Vec<u64>,
    /// Random cells taken from each draw (its first ones).
    #[arg(long, default_value_t = 5)]
    per_draw: usize,
    /// More cells: a `best_arch.json` of the ENAS micro space, or an ENAS integer string
    /// (40 integers, normal cell then reduction cell). Repeatable.
    #[arg(long)]
    arch: Vec<String>,
    /// Training seeds: each cell is retrained once per seed (at least 2 to measure the noise).
    #[arg(long, value_delimiter = ',', default_value = "0,1")]
    seeds: Vec<u64>,
    #[command(flatten)]
    common: CommonArgs,
}

/// One retrained cell.
#[derive(Debug, Serialize)]
struct CellScores {
    /// Where it came from: `draw <seed> #<index>` or the `--arch` text.
    source: String,
    /// Its ENAS integer string.
    enas_string: String,
    /// Parameters of the retrained network.
    params: usize,
    /// Test accuracy per training seed, in `--seeds` order.
    test_accuracy: Vec<f64>,
    /// Validation accuracy per training seed.
    valid_accuracy: Vec<f64>,
}

/// The spread of the test accuracies, split.
#[derive(Debug, Serialize)]
struct Spread {
    /// Standard deviation of one retraining around its cell's mean over the seeds (pooled
    /// over the cells).
    within_cell_sd: f64,
    /// Standard deviation of the cells' mean accuracies.
    between_means_sd: f64,
    /// Estimated standard deviation of the cells' *true* accuracies (what the means would show
    /// with infinitely many seeds): `√max(0, between² − within² / seeds)`.
    true_sd: f64,
    /// Kendall τ between the first two seeds' test accuracies over the cells (how well one
    /// retraining ranks the cells like another does; `None` with fewer than two seeds).
    tau_between_seeds: Option<f64>,
    /// Pearson correlation between the first two seeds' test accuracies.
    r_between_seeds: Option<f64>,
}

fn main() -> std::process::ExitCode {
    common::exit_on_error(run())
}

/// Reads the cells, retrains each under every seed, prints and writes the split.
fn run() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    common::init_logging(cli.common.verbose);
    if cli.seeds.is_empty() {
        return Err("--seeds: give at least one training seed".into());
    }
    let space = MicroSpace::default();
    let mut cells: Vec<(String, MicroArch)> = Vec::new();
    for &draw in &cli.draws {
        let mut rng = ChaCha8Rng::seed_from_u64(draw);
        for index in 0..cli.per_draw {
            cells.push((format!("draw {draw} #{index}"), space.sample(&mut rng)?));
        }
    }
    for text in &cli.arch {
        let arch = if text.trim_end().ends_with(".json") {
            let path = PathBuf::from(text);
            let json = std::fs::read_to_string(&path)
                .map_err(|e| format!("--arch {}: {e}", path.display()))?;
            MicroArch::from_json(&json)?
        } else {
            MicroArch::from_enas_string(text)?
        };
        cells.push((text.clone(), arch));
    }
    if cells.len() < 2 {
        return Err("give at least two cells (--draws and --per-draw, or --arch)".into());
    }
    let run_dir = match &cli.common.out {
        Some(dir) => RunDir::create(dir, common::if_exists(cli.common.overwrite))?,
        None => RunDir::next_free(PathBuf::from("runs").join("retrain_noise"))?,
    };
    let device = common::device(&cli.common)?;
    let (task, data) = common::load_final_task(&cli.common, 12_000, 1_000, None)?;
    let task = task.reduced(1.0, Some(FAST_RETRAIN_IMAGE_SIZE), cli.common.seed)?;
    println!(
        "{} cells × {} seeds on {data} at {FAST_RETRAIN_IMAGE_SIZE}×{FAST_RETRAIN_IMAGE_SIZE}",
        cells.len(),
        cli.seeds.len()
    );
    // The standalone child with the fast preset's uniform initialisation, as `enas_micro`
    // retrains it.
    let child = MicroChild(
        common::standalone_micro_child(&task, FAST_RETRAIN_LAYERS, FAST_RETRAIN_CHANNELS)
            .0
            .with_init(ConvInit::Uniform),
    );
    let epochs = common::retrain_epochs(
        &cli.common,
        common::RetrainLength::Steps(FAST_RETRAIN_STEPS),
        FAST_RETRAIN_BATCH,
        task.train.len(),
    );
    let mut scores = Vec::new();
    for (source, arch) in &cells {
        let mut cell = CellScores {
            source: source.clone(),
            enas_string: arch.to_enas_string(),
            params: 0,
            test_accuracy: Vec::new(),
            valid_accuracy: Vec::new(),
        };
        for &seed in &cli.seeds {
            let training = TrainConfig {
                epochs,
                batch_size: FAST_RETRAIN_BATCH,
                lr: CosineWarmRestarts::single(0.05, 5e-4, epochs.max(1)),
                weight_decay: FAST_RETRAIN_WEIGHT_DECAY,
                grad_clip: Some(5.0),
                augmentation: Augmentation::none(),
                seed,
                ..TrainConfig::default()
            };
            let (_, r) = retrain(&child, arch, &task, &training, &device, None, |_| {})?;
            let test = r.test_accuracy.unwrap_or(r.valid.accuracy);
            if !cli.common.quiet {
                eprintln!(
                    "{source}, seed {seed}: test {test:.4}, valid {:.4} ({:.0} s)",
                    r.valid.accuracy, r.seconds
                );
            }
            cell.params = r.params;
            cell.test_accuracy.push(test);
            cell.valid_accuracy.push(r.valid.accuracy);
        }
        println!(
            "{:<24} {:>8} params  test {}",
            cell.source,
            cell.params,
            cell.test_accuracy
                .iter()
                .map(|a| format!("{a:.4}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        scores.push(cell);
    }
    let spread = spread(&scores);
    println!(
        "one retraining's sd around its cell's mean: {:.4}; sd of the cells' means: {:.4}; \
         estimated sd of the cells' true accuracies: {:.4}",
        spread.within_cell_sd, spread.between_means_sd, spread.true_sd
    );
    if let (Some(tau), Some(r)) = (spread.tau_between_seeds, spread.r_between_seeds) {
        println!("first two seeds rank the cells alike with Kendall τ {tau:.3} (Pearson r {r:.3})");
    }
    run_dir.write(
        "report.json",
        serde_json::to_string_pretty(&serde_json::json!({
            "seeds": cli.seeds,
            "epochs": epochs,
            "cells": scores,
            "spread": spread,
        }))?
        .as_bytes(),
    )?;
    println!("outputs in {}/ (report.json)", run_dir.path().display());
    Ok(())
}

/// Splits the test accuracies' spread into within-cell (seed) and between-cell parts.
fn spread(cells: &[CellScores]) -> Spread {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let k = cells.first().map_or(1, |c| c.test_accuracy.len());
    let runs: Vec<Vec<f64>> = cells.iter().map(|c| c.test_accuracy.clone()).collect();
    let within = pooled_sd(&runs).unwrap_or(f64::NAN);
    let means: Vec<f64> = cells.iter().map(|c| mean(&c.test_accuracy)).collect();
    let m = mean(&means);
    let between_var =
        means.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (means.len().max(2) - 1) as f64;
    let true_var = if within.is_finite() {
        (between_var - within * within / k as f64).max(0.0)
    } else {
        f64::NAN
    };
    let (first, second): (Vec<f64>, Vec<f64>) = cells
        .iter()
        .filter(|c| c.test_accuracy.len() >= 2)
        .map(|c| (c.test_accuracy[0], c.test_accuracy[1]))
        .unzip();
    Spread {
        within_cell_sd: within,
        between_means_sd: between_var.sqrt(),
        true_sd: true_var.sqrt(),
        tau_between_seeds: kendall_tau(&first, &second),
        r_between_seeds: pearson_r(&first, &second),
    }
}
