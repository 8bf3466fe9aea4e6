//! NASH-style hill climbing by network morphisms (Elsken et al. 2018) against random search at
//! equal cost, on the NAS-RL space (default) or the ENAS macro space (`--space macro`) and
//! Fashion-MNIST (the embedded 6,000-image subset unless `--data-dir`).
//!
//! * `hill-climbing`: starts from a small network (NAS-RL: 3 layers of 3×3 convs; macro:
//!   `--layers` layers of separable 3×3 convs without skips); each of `--steps` steps proposes
//!   `--children` children of the current parent (each `--morphisms` random function-preserving
//!   morphisms — NAS-RL: widen, larger filter, added skip, new identity layer; macro: added
//!   skip, larger kernel, separable made full, new identity layer), trains each
//!   `--child-epochs` epochs *starting from the parent's trained weights* carried over exactly
//!   (`WeightInheritance` over `NasRlChild` / `MacroChild`), and the best child becomes the
//!   parent. The answer is the best evaluated network (normally the last parent).
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
//! cargo run --release --example hill_climbing -- --space macro
//! ```

mod common;

use std::path::PathBuf;
use std::time::Instant;

use burn::tensor::Device;
use burn_nas::controller::Morphisms;
use burn_nas::estimator::{ChildFactory, RetrainReport, retrain};
use burn_nas::prelude::*;
use burn_nas::space::{MacroArch, MacroOp, MacroSpace, NasRlLayer};
use clap::{Parser, ValueEnum};
use serde::Serialize;

/// Which space the two methods search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SpaceKind {
    /// NAS-RL (Zoph & Le): conv layers with filter counts, sizes, strides and skips.
    NasRl,
    /// ENAS macro: a fixed number of layers, each an op and a skip set.
    Macro,
}

/// Morphism hill climbing against random search at equal cost.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// The search space.
    #[arg(long, value_enum, default_value_t = SpaceKind::NasRl)]
    space: SpaceKind,
    /// Channels of the macro networks (`--space macro`).
    #[arg(long, default_value_t = 16)]
    macro_channels: usize,
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
    /// Most layers a climbed network may reach (macro networks grow only after their last
    /// pooling point, while `L + 1` layers pool at the same places: from 6 layers, to 8).
    #[arg(long, default_value_t = 8)]
    max_depth: usize,
    /// Epochs each random child trains from scratch.
    #[arg(long, default_value_t = 8)]
    random_epochs: usize,
    /// Layers of the random children (macro: also of the climb's start network).
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
    layers: usize,
    arch: serde_json::Value,
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
    let run = RunDir::create(&cli.out, common::if_exists(cli.overwrite))?;
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
        match cli.space {
            SpaceKind::NasRl => {
                // Hill climbing from a small network, NASH-style.
                let start_space = NasRlSpace::new(3)?.with_strides(&[1, 2])?;
                let start = NasRlArch {
                    layers: vec![
                        layer(24, 1, vec![]),
                        layer(36, 2, vec![0]),
                        layer(48, 2, vec![1]),
                    ],
                };
                let morphisms =
                    NasRlMorphisms::new(start_space.clone(), task.image_size(), cli.max_depth);
                let space = NasRlSpace::new(cli.layers)?.with_strides(&[1, 2])?;
                let study = Study {
                    cli: &cli,
                    task: &task,
                    factory: NasRlChild(net.clone()),
                    seed,
                };
                runs.extend(study.run(&start_space, morphisms, start, &space, |a| a.layers.len())?);
            }
            SpaceKind::Macro => {
                let space = MacroSpace::new(cli.layers, &MacroOp::ALL)?;
                let start = MacroArch {
                    layers: (0..cli.layers)
                        .map(|_| burn_nas::space::MacroLayer {
                            op: MacroOp::SepConv3x3,
                            skips: vec![],
                        })
                        .collect(),
                };
                let morphisms = MacroMorphisms::new(space.clone(), cli.max_depth);
                let factory = MacroChild(
                    MacroNetConfig::new(task.classes())
                        .with_in_channels(task.channels())
                        .with_image_size(task.image_size())
                        .with_channels(cli.macro_channels),
                );
                let study = Study {
                    cli: &cli,
                    task: &task,
                    factory,
                    seed,
                };
                runs.extend(study.run(&space, morphisms, start, &space, |a| a.layers.len())?);
            }
        }
        run.write("report.json", &serde_json::to_vec_pretty(&report(&runs))?)?;
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&report(&runs)["summary"])?
    );
    println!("wrote {}", run.path().display());
    Ok(())
}

/// One seed of the comparison in one space.
struct Study<'a, F> {
    cli: &'a Cli,
    task: &'a Task,
    factory: F,
    seed: u64,
}

impl<F> Study<'_, F> {
    /// Hill climbing from `start` with `morphisms` (tokens from `start_space`), then random
    /// search of `space` at the same number of epochs; both answers retrained alike.
    fn run<A, S, R>(
        &self,
        start_space: &S,
        morphisms: impl Morphisms<A> + 'static,
        start: A,
        space: &R,
        layers: fn(&A) -> usize,
    ) -> Result<Vec<MethodRun>, Box<dyn std::error::Error>>
    where
        A: Architecture + Sync + Send + 'static,
        S: SearchSpace<Arch = A>,
        R: SearchSpace<Arch = A> + Clone + 'static,
        F: ChildFactory<A> + Clone + Sync + Send + 'static,
        F::Net: Send,
    {
        let (cli, seed) = (self.cli, self.seed);
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
                self.factory.clone(),
                self.task,
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
        let climbing = Search::new(start_space, climb, estimator, config)?;
        let climbing = self.search_and_retrain("hill-climbing", climbing, layers)?;

        // Random search at the same number of epochs.
        let budget = cli.steps * cli.children * cli.child_epochs;
        let estimator = TrainFromScratch::new(
            self.factory.clone(),
            self.task,
            Fidelity::full(cli.random_epochs),
            common::study_training(cli.random_epochs, seed),
            Device::flex(),
        )?;
        let mut config = SearchConfig::multi_trial(1, (budget / cli.random_epochs).max(1));
        config.quiet = true;
        let random = Search::new(
            space,
            RandomSearch::new(space.clone(), seed),
            estimator,
            config,
        )?;
        let random = self.search_and_retrain("random", random, layers)?;
        Ok(vec![climbing, random])
    }

    /// Runs `search`, takes its best evaluated architecture, retrains it from scratch
    /// `--retrain-epochs` epochs and tests it.
    fn search_and_retrain<A: Architecture>(
        &self,
        method: &'static str,
        mut search: Search<A>,
        layers: fn(&A) -> usize,
    ) -> Result<MethodRun, Box<dyn std::error::Error>>
    where
        F: ChildFactory<A>,
    {
        let seed = self.seed;
        let started = Instant::now();
        search.run()?;
        let search_seconds = started.elapsed().as_secs_f64();
        let derived = search.derive()?;
        let history = search.history().to_vec();
        let epochs = history.iter().map(|e| e.metrics.epochs()).sum();
        let inherited = history.iter().filter(|e| e.metrics.inherited()).count();
        let (_, retrain) = retrain(
            &self.factory,
            &derived.arch,
            self.task,
            &common::study_training(self.cli.retrain_epochs, seed),
            &Device::flex(),
            None,
            |_| {},
        )?;
        let depth = layers(&derived.arch);
        println!(
            "seed {seed} {method:<13}: {} children ({inherited} warm-started), {epochs} epochs, \
             {search_seconds:.0} s; answer: {depth} layers, valid {:.3} in the search; retrained \
             test {:.3} ({} parameters)",
            history.len(),
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
            layers: depth,
            arch: serde_json::from_str(&derived.arch.to_json())?,
            retrain,
            history,
        })
    }
}

fn layer(filters: usize, stride: usize, inputs: Vec<usize>) -> NasRlLayer {
    NasRlLayer::square(3, filters, stride, inputs)
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
