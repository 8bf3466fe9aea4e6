//! NASH-style hill climbing by network morphisms (Elsken et al. 2018) against random search at
//! equal cost, on the NAS-RL space and Fashion-MNIST (the embedded 6,000-image subset unless
//! `--data-dir`).
//!
//! * `hill-climbing`: starts from a 3-layer network; each of `--steps` steps proposes
//!   `--children` children of the current parent (each `--morphisms` random function-preserving
//!   morphisms: widen, larger filter, added skip, new identity layer), trains each
//!   `--child-epochs` epochs *starting from the parent's trained weights* carried over exactly
//!   (`WeightInheritance` over `NasRlChild`), and the best child becomes the parent. The answer
//!   is the best evaluated network (normally the last parent).
//! * `random`: uniformly random children of the `--layers`-layer space, each trained from
//!   scratch `--random-epochs` epochs, as many as the same total of epochs allows; the answer is
//!   the best by validation accuracy.
//!
//! Both answers are then retrained from scratch under one protocol (`--retrain-epochs`, same
//! seed) and tested on the 1,000 test images. Writes `report.json` (both methods per seed, with
//! each search's history) into the run directory (default `runs/hill_climbing`).
//!
//! ```text
//! cargo run --release --example hill_climbing
//! cargo run --release --example hill_climbing -- --seeds 3 --steps 8 --children 4
//! ```

mod common;

use std::path::PathBuf;
use std::time::Instant;

use burn::tensor::Device;
use burn_nas::estimator::{RetrainReport, retrain};
use burn_nas::prelude::*;
use burn_nas::space::NasRlLayer;
use clap::Parser;
use serde::Serialize;

/// Morphism hill climbing against random search at equal cost.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Seeds (each runs both methods).
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Hill-climbing steps (the first trains the start network and morphs of it from scratch).
    #[arg(long, default_value_t = 6)]
    steps: usize,
    /// Children per step.
    #[arg(long, default_value_t = 4)]
    children: usize,
    /// Morphisms applied to the parent to make one child (NASH: 5).
    #[arg(long, default_value_t = 3)]
    morphisms: usize,
    /// Epochs each hill-climbing child trains (from its parent's weights).
    #[arg(long, default_value_t = 2)]
    child_epochs: usize,
    /// Most layers a climbed network may reach.
    #[arg(long, default_value_t = 8)]
    max_depth: usize,
    /// Epochs each random child trains from scratch.
    #[arg(long, default_value_t = 8)]
    random_epochs: usize,
    /// Layers of the random children.
    #[arg(long, default_value_t = 6)]
    layers: usize,
    /// Epochs of the final retraining of both answers (from scratch).
    #[arg(long, default_value_t = 9)]
    retrain_epochs: usize,
    #[command(flatten)]
    data: common::StudyData,
    /// Run directory.
    #[arg(long, default_value = "runs/hill_climbing")]
    out: PathBuf,
    /// Replace the contents of an existing --out directory.
    #[arg(long)]
    overwrite: bool,
}

/// One method's search and retrain for one seed.
#[derive(Debug, Serialize)]
struct MethodRun {
    method: &'static str,
    seed: u64,
    children: usize,
    epochs: usize,
    search_seconds: f64,
    /// The answer's validation accuracy in the search (hill climbing: after all its
    /// ancestors' training).
    search_reward: f64,
    arch: NasRlArch,
    retrain: RetrainReport,
    history: Vec<burn_nas::search::Evaluation>,
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
    if cli.steps == 0 || cli.children == 0 || cli.child_epochs == 0 || cli.random_epochs == 0 {
        return Err("--steps, --children, --child-epochs and --random-epochs must be ≥ 1".into());
    }
    let run = RunDir::create(&cli.out, cli.overwrite)?;
    let (task, net) = cli.data.load()?;
    let budget = cli.steps * cli.children * cli.child_epochs;
    let random_children = (budget / cli.random_epochs).max(1);
    println!(
        "budget per method and seed: {budget} epochs — hill climbing {} steps × {} children × {} \
         epochs; random search {random_children} children × {} epochs",
        cli.steps, cli.children, cli.child_epochs, cli.random_epochs
    );

    let mut runs = Vec::new();
    for seed in 0..cli.seeds {
        // Hill climbing from a small network, NASH-style.
        let start_space = NasRlSpace::new(3)?.with_strides(&[1, 2])?;
        let start = NasRlArch {
            layers: vec![
                layer(24, 1, vec![]),
                layer(36, 2, vec![0]),
                layer(48, 2, vec![1]),
            ],
        };
        let morphisms = NasRlMorphisms::new(start_space.clone(), task.image_size(), cli.max_depth);
        let climb = MorphismHillClimbing::new(
            morphisms,
            start,
            HillClimbingConfig {
                morphisms_per_child: cli.morphisms,
                seed,
            },
        );
        let estimator = WeightInheritance::new(
            TrainFromScratch::new(
                NasRlChild(net.clone()),
                &task,
                Fidelity::full(cli.child_epochs),
                common::study_training(cli.child_epochs, seed),
                Device::flex(),
            )?,
            // The parent may be the first of its step: it must outlive the rest of its step
            // and the next one.
            2 * cli.children,
        );
        let mut config = SearchConfig::multi_trial(cli.steps, cli.children);
        config.quiet = true;
        let search = Search::new(&start_space, climb, estimator, config)?;
        runs.push(search_and_retrain(
            "hill-climbing",
            search,
            &task,
            &net,
            cli.retrain_epochs,
            seed,
        )?);

        // Random search at the same number of epochs.
        let space = NasRlSpace::new(cli.layers)?.with_strides(&[1, 2])?;
        let estimator = TrainFromScratch::new(
            NasRlChild(net.clone()),
            &task,
            Fidelity::full(cli.random_epochs),
            common::study_training(cli.random_epochs, seed),
            Device::flex(),
        )?;
        let mut config = SearchConfig::multi_trial(1, random_children);
        config.quiet = true;
        let search = Search::new(
            &space,
            RandomSearch::new(space.clone(), seed),
            estimator,
            config,
        )?;
        runs.push(search_and_retrain(
            "random",
            search,
            &task,
            &net,
            cli.retrain_epochs,
            seed,
        )?);
        run.write("report.json", &serde_json::to_vec_pretty(&report(&runs))?)?;
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&report(&runs)["summary"])?
    );
    println!("wrote {}", run.path().display());
    Ok(())
}

fn layer(filters: usize, stride: usize, inputs: Vec<usize>) -> NasRlLayer {
    NasRlLayer::square(3, filters, stride, inputs)
}

/// Runs `search`, takes its best evaluated architecture, retrains it from scratch
/// `retrain_epochs` epochs and tests it.
fn search_and_retrain(
    method: &'static str,
    mut search: Search<NasRlArch>,
    task: &Task,
    net: &NasRlNetConfig,
    retrain_epochs: usize,
    seed: u64,
) -> Result<MethodRun, Box<dyn std::error::Error>> {
    let started = Instant::now();
    search.run()?;
    let search_seconds = started.elapsed().as_secs_f64();
    let derived = search.derive()?;
    let history = search.history().to_vec();
    let epochs = history.iter().map(|e| e.metrics.epochs).sum();
    let inherited = history.iter().filter(|e| e.metrics.inherited).count();
    let (_, retrain) = retrain(
        &NasRlChild(net.clone()),
        &derived.arch,
        task,
        &common::study_training(retrain_epochs, seed),
        &Device::flex(),
        None,
        |_| {},
    )?;
    println!(
        "seed {seed} {method:<13}: {} children ({inherited} warm-started), {epochs} epochs, \
         {search_seconds:.0} s; answer: {} layers, valid {:.3} in the search; retrained test \
         {:.3} ({} parameters)",
        history.len(),
        derived.arch.layers.len(),
        derived.reward,
        retrain.test_accuracy.unwrap_or(f64::NAN),
        retrain.params
    );
    Ok(MethodRun {
        method,
        seed,
        children: history.len(),
        epochs,
        search_seconds,
        search_reward: derived.reward,
        arch: derived.arch,
        retrain,
        history,
    })
}

fn report(runs: &[MethodRun]) -> serde_json::Value {
    let summary: Vec<serde_json::Value> = ["hill-climbing", "random"]
        .into_iter()
        .map(|method| {
            let of: Vec<&MethodRun> = runs.iter().filter(|r| r.method == method).collect();
            let tests: Vec<f64> = of
                .iter()
                .map(|r| r.retrain.test_accuracy.unwrap_or(f64::NAN))
                .collect();
            serde_json::json!({
                "method": method,
                "test_accuracies": tests,
                "mean_test_accuracy": common::mean(tests.iter().copied()),
                "mean_search_reward": common::mean(of.iter().map(|r| r.search_reward)),
                "mean_epochs": common::mean(of.iter().map(|r| r.epochs as f64)),
                "mean_params": common::mean(of.iter().map(|r| r.retrain.params as f64)),
                "mean_search_seconds": common::mean(of.iter().map(|r| r.search_seconds)),
            })
        })
        .collect();
    serde_json::json!({ "summary": summary, "runs": runs })
}
