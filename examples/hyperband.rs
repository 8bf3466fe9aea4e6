//! Does multi-fidelity scheduling find better architectures than single-fidelity random search
//! at the same cost? Searches the NAS-RL space on Fashion-MNIST (the embedded 6,000-image
//! subset unless `--data-dir`) three ways, each seed with at most Hyperband's budget of child
//! epochs (successive halving and random search get as much of it as whole brackets / whole
//! children fit):
//!
//! * `hyperband`: Hyperband (η = `--eta`, budgets `--min-epochs` … `--max-epochs` epochs) over
//!   uniformly random children;
//! * `successive-halving`: one successive-halving bracket starting as many children at
//!   `--min-epochs` as the budget allows;
//! * `random`: uniformly random children, each trained the full `--max-epochs` (as many as the
//!   budget allows).
//!
//! Every method picks the child with the best validation accuracy at the full budget; that child
//! is then retrained once under one fixed protocol (`--max-epochs` epochs on the training split,
//! same seed for all) and its test accuracy reported. Writes `report.json` (every method and
//! seed, with each search's history) into the run directory (default `runs/hyperband`).
//!
//! ```text
//! cargo run --release --example hyperband
//! cargo run --release --example hyperband -- --seeds 5 --eta 3 --max-epochs 9
//! ```

mod common;

use std::path::PathBuf;

use burn::tensor::Device;
use burn_nas::estimator::{RetrainReport, retrain};
use burn_nas::prelude::*;
use burn_nas::search::{EstimatorFactory, MultiFidelityOutcome, RungEvaluation};
use clap::Parser;
use serde::Serialize;

/// Hyperband and successive halving against random search at equal cost.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Seeds (each runs every method).
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Halving rate.
    #[arg(long, default_value_t = 3)]
    eta: usize,
    /// The smallest budget, in epochs.
    #[arg(long, default_value_t = 1)]
    min_epochs: usize,
    /// The full budget, in epochs.
    #[arg(long, default_value_t = 9)]
    max_epochs: usize,
    /// Layers of every child.
    #[arg(long, default_value_t = 6)]
    layers: usize,
    #[command(flatten)]
    data: common::StudyData,
    /// Run directory.
    #[arg(long, default_value = "runs/hyperband")]
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
    outcome: MultiFidelityOutcome<NasRlArch>,
    retrain: RetrainReport,
    history: Vec<RungEvaluation<NasRlArch>>,
}

/// One method over every seed.
#[derive(Debug, Serialize)]
struct MethodSummary {
    method: &'static str,
    mean_best_valid: f64,
    mean_test_accuracy: f64,
    test_accuracies: Vec<f64>,
    mean_children: f64,
    mean_epochs: f64,
    mean_search_seconds: f64,
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
    let run = RunDir::create(&cli.out, common::if_exists(cli.overwrite))?;
    let (task, net) = cli.data.load()?;
    let space = NasRlSpace::new(cli.layers)?.with_strides(&[1, 2])?;

    let hyperband = HalvingConfig {
        eta: cli.eta,
        min_budget: cli.min_epochs,
        max_budget: cli.max_epochs,
        axis: BudgetAxis::Epochs,
        full: Fidelity::full(cli.max_epochs),
        schedule: Schedule::Hyperband { iterations: 1 },
    };
    hyperband.validate()?;
    let cost = hyperband.cost();
    // Successive halving: the most first-rung candidates whose bracket fits the same cost.
    let mut halving = HalvingConfig {
        schedule: Schedule::SuccessiveHalving { candidates: 1 },
        ..hyperband.clone()
    };
    let mut candidates = 1;
    while {
        halving.schedule = Schedule::SuccessiveHalving {
            candidates: candidates + 1,
        };
        halving.cost() <= cost
    } {
        candidates += 1;
    }
    halving.schedule = Schedule::SuccessiveHalving { candidates };
    // Random search: every child at the full budget, as many as fit.
    let random = HalvingConfig {
        min_budget: cli.max_epochs,
        schedule: Schedule::SuccessiveHalving {
            candidates: (cost / cli.max_epochs).max(1),
        },
        ..hyperband.clone()
    };
    println!(
        "budget per method and seed: hyperband {} epochs, successive halving {} ({} children \
         start), random {} ({} children)",
        cost,
        halving.cost(),
        candidates,
        random.cost(),
        cost / cli.max_epochs
    );

    let mut runs = Vec::new();
    for seed in 0..cli.seeds {
        for (method, config) in [
            ("hyperband", &hyperband),
            ("successive-halving", &halving),
            ("random", &random),
        ] {
            let factory = estimators(&task, &net, seed);
            let mut search = MultiFidelitySearch::new(
                &space,
                RandomSearch::new(space.clone(), seed),
                factory,
                config.clone(),
            )?;
            let outcome = search.run()?;
            let training = common::study_training(cli.max_epochs, seed);
            let (_, retrain) = retrain(
                &NasRlChild(net.clone()),
                &outcome.best,
                &task,
                &training,
                &Device::flex(),
                None,
                |_| {},
            )?;
            println!(
                "seed {seed} {method:<18}: {} children, {} epochs, {:.0} s; best valid {:.3}; \
                 retrained test {:.3}",
                outcome.candidates,
                outcome.budget_spent,
                outcome.seconds,
                outcome.best_reward,
                retrain.test_accuracy.unwrap_or(f64::NAN)
            );
            runs.push(MethodRun {
                method,
                seed,
                outcome,
                retrain,
                history: search.history().to_vec(),
            });
            run.write("report.json", &serde_json::to_vec_pretty(&report(&runs))?)?;
        }
    }
    let report = report(&runs);
    println!("{}", serde_json::to_string_pretty(&report["summary"])?);
    println!("wrote {}", run.path().display());
    Ok(())
}

/// The estimator of each budget: NAS-RL children trained from scratch for the budget's epochs,
/// with a cosine schedule over those epochs, seeded by `seed`.
fn estimators(task: &Task, net: &NasRlNetConfig, seed: u64) -> EstimatorFactory<NasRlArch> {
    let task = task.clone();
    let net = net.clone();
    Box::new(move |fidelity: &Fidelity| {
        let estimator = TrainFromScratch::new(
            NasRlChild(net.clone()),
            &task,
            fidelity.clone(),
            common::study_training(fidelity.epochs, seed),
            Device::flex(),
        )?;
        Ok(Box::new(estimator) as Box<dyn Estimator<NasRlArch>>)
    })
}

fn report(runs: &[MethodRun]) -> serde_json::Value {
    let summary: Vec<MethodSummary> = ["hyperband", "successive-halving", "random"]
        .into_iter()
        .filter_map(|method| {
            let of: Vec<&MethodRun> = runs.iter().filter(|r| r.method == method).collect();
            (!of.is_empty()).then(|| MethodSummary {
                method,
                mean_best_valid: common::mean(of.iter().map(|r| r.outcome.best_reward)),
                mean_test_accuracy: common::mean(
                    of.iter()
                        .map(|r| r.retrain.test_accuracy.unwrap_or(f64::NAN)),
                ),
                test_accuracies: of
                    .iter()
                    .map(|r| r.retrain.test_accuracy.unwrap_or(f64::NAN))
                    .collect(),
                mean_children: common::mean(of.iter().map(|r| r.outcome.candidates as f64)),
                mean_epochs: common::mean(of.iter().map(|r| r.outcome.budget_spent as f64)),
                mean_search_seconds: common::mean(of.iter().map(|r| r.outcome.seconds)),
            })
        })
        .collect();
    serde_json::json!({ "summary": summary, "runs": runs })
}
