//! The `paper` presets of the ENAS examples run end to end (search, derivation, retraining,
//! outputs) on the code path of a full-scale run, shrunk only by the flags a user would pass:
//! fewer images, one round, a smaller network, one retraining epoch. The preset's own search
//! loop (controller updates × samples per round) is kept, so the run proves the paper's loop
//! shape, not just that the binary starts. Full-scale commands: docs/reproducing.md.
//!
//! Runs the example binaries that `cargo test` builds beside this test binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support;
use support::example_binary;

/// A fresh output directory for one run (removed first if an earlier run left it).
fn out_dir(name: &str) -> PathBuf {
    support::scratch_dir(&format!("paper-preset-{name}"))
}

/// Runs `example --preset paper` with `args` on the embedded Fashion-MNIST subset and returns
/// its `summary.json`.
fn run_paper_preset(example: &str, args: &[&str], out: &Path) -> Value {
    let output = Command::new(example_binary(example))
        .args([
            "--preset",
            "paper",
            "--dataset",
            "fashion-mnist",
            "--device",
            "flex",
        ])
        .args([
            "--train-images",
            "320",
            "--valid-images",
            "64",
            "--rounds",
            "1",
        ])
        .args([
            "--retrain-epochs",
            "1",
            "--retrain-image-size",
            "14",
            // As the paper's final networks (and the preset's default, which `--valid-images`
            // above would override): every training image trains.
            "--retrain-valid-images",
            "0",
            "--quiet",
        ])
        .args(args)
        .arg("--out")
        .arg(out)
        .env_remove("BURN_NAS_DEVICE")
        .output()
        .expect("start the example");
    assert!(
        output.status.success(),
        "{example} --preset paper failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    for file in [
        "best_arch.json",
        "best_arch.dot",
        "history.jsonl",
        "reward.png",
    ] {
        assert!(out.join(file).is_file(), "{example}: no {file}");
    }
    let summary = std::fs::read_to_string(out.join("summary.json")).expect("summary.json");
    serde_json::from_str(&summary).expect("summary.json parses")
}

/// What every paper-preset run must show: the preset's loop shape, a finished search and a
/// retrained network with a test accuracy.
fn assert_paper_run(summary: &Value, updates: u64, samples: u64) {
    assert_eq!(summary["status"], "finished");
    assert_eq!(summary["extra"]["preset"], "Paper");
    assert_eq!(summary["strategy"], "reinforce");
    assert_eq!(summary["estimator"], "shared-weights");
    assert_eq!(summary["config"]["updates_per_round"], updates);
    assert_eq!(summary["config"]["proposals_per_update"], samples);
    assert_eq!(summary["rounds"], 1);
    assert_eq!(summary["evaluations"], updates * samples);
    let retrain = &summary["retrain"];
    assert_eq!(retrain["curve"].as_array().map(Vec::len), Some(1));
    let accuracy = retrain["test_accuracy"].as_f64().expect("test accuracy");
    assert!((0.0..=1.0).contains(&accuracy), "test accuracy {accuracy}");
    assert!(retrain["params"].as_u64().expect("params") > 0);
    // No validation split: the retraining trained on all 320 images and its per-epoch
    // figures are the test set's.
    let data = summary["extra"]["retrain_data"]
        .as_str()
        .expect("retrain_data");
    assert!(
        data.contains("all 320 training images, no validation split"),
        "{data}"
    );
    assert_eq!(
        retrain["valid"]["accuracy"].as_f64(),
        Some(accuracy),
        "per-epoch figures on the test set"
    );
}

#[test]
fn enas_micro_paper_preset_runs_end_to_end_at_tiny_scale() {
    let out = out_dir("micro");
    let summary = run_paper_preset(
        "enas_micro",
        &[
            "--layers",
            "1",
            "--channels",
            "4",
            "--search-image-size",
            "14",
            "--retrain-layers",
            "3",
            "--retrain-channels",
            "4",
            "--candidates",
            "2",
        ],
        &out,
    );
    // The preset's loop: 30 controller updates of 10 samples per epoch of shared training.
    assert_paper_run(&summary, 30, 10);
    assert_eq!(summary["space"], "enas_micro");
    assert_eq!(summary["config"]["derive"]["sample"]["candidates"], 2);
    assert_eq!(summary["extra"]["controller_values"], "Code");
    // `cifar10_micro_final.sh`: batches of 144, L2 2e-4 as `l2 · Σw²`, no clipping applied.
    let training = &summary["retrain"]["training"];
    assert_eq!(training["batch_size"], 144);
    assert_eq!(training["weight_decay"], 4e-4);
    assert_eq!(training["grad_clip"], Value::Null);
    // The ENAS final network has the auxiliary head (a 2×2 conv to 768 channels on the cell
    // after the second reduction): far more parameters than the 4-channel cells alone.
    assert!(summary["retrain"]["params"].as_u64().unwrap() > 100_000);
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn enas_macro_paper_preset_runs_end_to_end_at_tiny_scale() {
    let out = out_dir("macro");
    let summary = run_paper_preset(
        "enas_macro",
        &[
            "--layers",
            "3",
            "--channels",
            "4",
            "--search-image-size",
            "14",
            "--retrain-channels",
            "4",
            "--controller-values",
            "paper",
            // Two random architectures, every architecture retrained under two seeds.
            "--compare-random",
            "2",
            "--compare-seeds",
            "2",
        ],
        &out,
    );
    // The preset's loop: 50 controller updates of 20 samples per epoch, 10 candidates.
    assert_paper_run(&summary, 50, 20);
    assert_eq!(summary["space"], "enas_macro");
    assert_eq!(summary["config"]["derive"]["sample"]["candidates"], 10);
    // The controller the search ran is the one the ENAS paper states, not the official code's.
    assert_eq!(summary["extra"]["controller_values"], "Paper");
    let checkpoint: Value =
        serde_json::from_slice(&std::fs::read(out.join("checkpoint").join("search.json")).unwrap())
            .unwrap();
    let controller = &checkpoint["strategy_state"]["config"];
    assert_eq!(controller["hidden"], 100);
    assert_eq!(controller["lr"], 3.5e-4);
    assert_eq!(controller["tanh_constant"], 2.5);
    assert_eq!(controller["temperature"], 5.0);
    // The final training of `cifar10_macro_final.sh`: batches of 100, warm restarts down to
    // 1e-3, L2 2e-4 as `l2 · Σw²` (weight decay 4e-4), no clipping applied.
    let training = &summary["retrain"]["training"];
    assert_eq!(training["batch_size"], 100);
    assert_eq!(training["lr"]["min"], 1e-3);
    assert_eq!(training["weight_decay"], 4e-4);
    assert_eq!(training["grad_clip"], Value::Null);
    // The comparison ranks each architecture's mean over both seeds; the found one's first
    // seed is its own retraining, and the second seed trains otherwise.
    let cmp = &summary["compare_random"];
    assert_eq!(cmp["metric"], "mean test accuracy over 2 seeds");
    let repeats: Vec<Vec<f64>> = serde_json::from_value(cmp["repeats"].clone()).unwrap();
    assert_eq!(repeats.len(), 3);
    assert!(repeats.iter().all(|r| r.len() == 2), "{repeats:?}");
    assert_eq!(
        Some(repeats[0][0]),
        summary["retrain"]["test_accuracy"].as_f64()
    );
    assert!((cmp["found"].as_f64().unwrap() - (repeats[0][0] + repeats[0][1]) / 2.0).abs() < 1e-12);
    assert!(
        repeats.iter().any(|r| r[0] != r[1]) && cmp["noise"].as_f64().unwrap() > 0.0,
        "the second seed changed nothing: {repeats:?}"
    );
    assert!(out.join("compare_random.png").is_file());
    let _ = std::fs::remove_dir_all(out);
}
