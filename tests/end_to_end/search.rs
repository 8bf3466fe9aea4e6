//! End-to-end searches of every kind on a tiny Fashion-MNIST task, checked through their run
//! directories; exact resume after a stop between rounds and after an interrupted round.

use std::path::Path;
use std::sync::atomic::Ordering;

use burn::tensor::Device;
use burn_nas::estimator::Metrics;
use burn_nas::nn::MicroSupernet;
use burn_nas::prelude::*;
use burn_nas::search::{Evaluation, Phase};
use burn_nas::space::MacroArch;

use crate::support;
use support::{task, training, turn};

fn seeded(seed: u64) -> Device {
    let device = Device::flex();
    device.seed(seed);
    device.clone().autodiff().seed(seed);
    device
}

fn quiet(mut config: SearchConfig) -> SearchConfig {
    config.quiet = true;
    config
}

fn micro_space() -> MicroSpace {
    MicroSpace::new(2, &MicroOp::ALL).unwrap()
}

/// ENAS micro: REINFORCE + shared weights; `rounds` rounds of 2 updates × 3 samples.
fn enas_micro(rounds: usize) -> Search<MicroArch> {
    let device = seeded(11);
    let space = micro_space();
    let supernet = MicroSupernetConfig::new(10)
        .with_in_channels(1)
        .with_image_size(14)
        .with_layers(1)
        .with_channels(4)
        .init(&space, &device.clone().autodiff())
        .unwrap();
    let estimator =
        SharedWeights::<MicroSupernet>::new(supernet, task(), training(1, 5), 100, device.clone())
            .unwrap();
    let strategy = Reinforce::new(space.clone(), ReinforceConfig::enas_micro(), device).unwrap();
    let config = SearchConfig {
        proposals_per_update: 3,
        updates_per_round: 2,
        budget: Budget::rounds(rounds),
        derive: Derive::Sample {
            candidates: 3,
            scores: 2,
        },
        quiet: true,
    };
    Search::new(&space, strategy, estimator, config).unwrap()
}

fn check_run_dir<A: Architecture>(dir: &Path, derived: &A, expected_evaluations: usize) {
    for file in [
        "best_arch.json",
        "best_arch.dot",
        "history.jsonl",
        "history.csv",
        "reward.png",
        "summary.json",
        "checkpoint/search.json",
    ] {
        assert!(
            dir.join(file).is_file(),
            "{file} missing in {}",
            dir.display()
        );
    }
    let arch = A::from_json(&std::fs::read_to_string(dir.join("best_arch.json")).unwrap())
        .expect("best_arch.json parses back");
    assert_eq!(&arch, derived);
    let dot = std::fs::read_to_string(dir.join("best_arch.dot")).unwrap();
    assert!(dot.starts_with("digraph"), "{dot}");

    let jsonl = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    let history: Vec<Evaluation> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).expect("history line parses"))
        .collect();
    assert_eq!(history.len(), expected_evaluations);
    for (i, e) in history.iter().enumerate() {
        assert_eq!(e.index, i);
        A::from_json(&e.arch.to_string()).expect("history architecture parses back");
        assert!(e.reward.is_finite());
    }
    let csv = std::fs::read_to_string(dir.join("history.csv")).unwrap();
    assert_eq!(csv.lines().count(), expected_evaluations + 1);

    let summary: Summary =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary.status, Status::Finished);
    assert_eq!(
        summary.evaluations,
        history.iter().filter(|e| e.phase == Phase::Search).count()
    );
    // The compute in summary.json is the history's, summed over the search.
    let spent: f64 = history
        .iter()
        .filter(|e| e.phase == Phase::Search)
        .map(|e| {
            e.metrics
                .compute
                .expect("every estimate reports its compute")
                .spent
        })
        .sum();
    assert!((summary.compute_spent - spent).abs() < 1e-9);
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .contains("compute_spent,compute_saved")
    );

    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(dir.join("reward.png")).unwrap(),
    ));
    let mut reader = decoder.read_info().expect("reward.png is a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).expect("reward.png decodes");
    assert_eq!((info.width, info.height), (1000, 560));
    // Something was drawn: not every pixel is white.
    assert!(pixels.iter().any(|&p| p < 200));
}

#[test]
fn enas_micro_search_writes_a_complete_run_directory() {
    let _turn = turn();
    let dir = support::scratch_dir("enas-micro");
    let mut search = enas_micro(2).with_run_dir(RunDir::create(&dir, IfExists::Refuse).unwrap());
    assert_eq!(search.run().unwrap(), Outcome::BudgetReached);
    let derived = search.derive().unwrap();
    // 2 rounds × 2 updates × 3 proposals, then 3 derivation candidates.
    check_run_dir(&dir, &derived.arch, 2 * 2 * 3 + 3);
    let history = search.history();
    assert!(history.iter().all(|e| e.phase == Phase::Derive
        || (e.baseline.is_some() && e.entropy.is_some() && e.log_prob.is_some())));

    // Retraining the derived cell as a fixed child, recorded with its weights.
    let (net, report) = burn_nas::estimator::retrain(
        &MicroChild(MicroNetConfig::new(10).with_layers(1).with_channels(4)),
        &derived.arch,
        task(),
        &training(1, 9),
        &Device::flex(),
        None,
        |_| {},
    )
    .unwrap();
    assert!(report.test_accuracy.is_some_and(|a| a > 0.1));
    let weights = burn_nas::estimator::module_to_bytes(&net).unwrap();
    search.record_retrain(report, Some(&weights)).unwrap();
    assert!(dir.join("retrained.bpk").is_file());
    let summary: Summary =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert!(summary.retrain.is_some());

    // A run directory is never overwritten unless asked.
    let err = RunDir::create(&dir, IfExists::Refuse).unwrap_err();
    assert!(err.to_string().contains("already holds a run"), "{err}");
    // …and overwriting only ever deletes a run directory.
    let other = support::scratch_dir("not-a-run-dir");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("precious.txt"), "user data").unwrap();
    let err = RunDir::create(&other, IfExists::ReplaceRun).unwrap_err();
    assert!(err.to_string().contains("refusing to delete"), "{err}");
    assert!(other.join("precious.txt").is_file());
    std::fs::remove_dir_all(&other).unwrap();
    RunDir::create(&dir, IfExists::ReplaceRun).unwrap();
    assert!(!dir.join("summary.json").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn enas_macro_search_writes_a_complete_run_directory() {
    let _turn = turn();
    let dir = support::scratch_dir("enas-macro");
    let device = Device::flex();
    let space = MacroSpace::new(3, &MacroOp::ALL).unwrap();
    let supernet = MacroSupernetConfig::new(10)
        .with_in_channels(1)
        .with_image_size(14)
        .with_channels(4)
        .init(&space, &device.clone().autodiff())
        .unwrap();
    let estimator =
        SharedWeights::new(supernet, task(), training(1, 2), 100, device.clone()).unwrap();
    let strategy = Reinforce::new(space.clone(), ReinforceConfig::enas_macro(), device).unwrap();
    let config = SearchConfig {
        proposals_per_update: 2,
        updates_per_round: 2,
        budget: Budget::rounds(1),
        derive: Derive::Sample {
            candidates: 2,
            scores: 1,
        },
        quiet: true,
    };
    let mut search: Search<MacroArch> = Search::new(&space, strategy, estimator, config)
        .unwrap()
        .with_run_dir(RunDir::create(&dir, IfExists::Refuse).unwrap());
    search.run().unwrap();
    let derived = search.derive().unwrap();
    check_run_dir(&dir, &derived.arch, 2 * 2 + 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// NAS-RL children trained 5 epochs, fitted after 3; a margin of −1 stops every run once an
/// incumbent exists (its prediction − 1 is below any accuracy), so stopping is exercised.
fn nas_rl_estimator(seed: u64) -> CurveExtrapolation<TrainFromScratch<NasRlChild>> {
    let fidelity = Fidelity {
        epochs: 5,
        data_fraction: 0.5,
        image_size: Some(10),
        channel_scale: 1.0,
        depth_scale: 1.0,
    };
    let inner = TrainFromScratch::new(
        NasRlChild(NasRlNetConfig::new(10)),
        task(),
        fidelity,
        training(5, seed),
        Device::flex(),
    )
    .unwrap();
    CurveExtrapolation::new(inner, 3, -1.0)
}

#[test]
fn nas_rl_search_with_curve_extrapolation_writes_a_complete_run_directory() {
    let _turn = turn();
    let dir = support::scratch_dir("nas-rl");
    let space = NasRlSpace::with_options(2, &[1, 3], &[1, 3], &[4, 8], None).unwrap();
    let strategy =
        Reinforce::new(space.clone(), ReinforceConfig::nas_rl(), Device::flex()).unwrap();
    let mut search = Search::new(
        &space,
        strategy,
        nas_rl_estimator(3),
        quiet(SearchConfig::multi_trial(2, 2)),
    )
    .unwrap()
    .with_run_dir(RunDir::create(&dir, IfExists::Refuse).unwrap());
    search.run().unwrap();
    let derived = search.derive().unwrap();
    let best = search
        .history()
        .iter()
        .map(|e| e.reward)
        .fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(derived.reward, best);
    // The first child sets the incumbent; every later one stops after 3 of 5 epochs, its
    // reward the prediction.
    let history = search.history();
    assert!(!history[0].metrics.stopped_early());
    for e in &history[1..] {
        let run = e.metrics.training.as_ref().expect("a training run");
        assert!(run.stopped_early, "child {} was not stopped", e.index);
        assert_eq!((run.epochs, run.epochs_saved), (3, 2));
        assert_eq!(Some(e.reward), run.predicted_accuracy);
    }
    check_run_dir(&dir, &derived.arch, 2 * 2);
    // The compute the speed-up saved is in summary.json: 5 + 3 × 3 epochs trained, 3 × 2 saved.
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["epochs_trained"].as_u64(), Some(14), "{summary}");
    assert_eq!(summary["epochs_saved"].as_u64(), Some(6), "{summary}");
    // In full-fidelity child epochs (`Compute`): 4 children of 5 configured epochs at full
    // fidelity would cost 20; these trained 14 epochs on half the images at 10×10 instead of
    // 14×14, so they spent less than 14 / 2, and the rest is saved (early stopping and low
    // fidelity together).
    let spent = summary["compute_spent"].as_f64().unwrap();
    let saved = summary["compute_saved"].as_f64().unwrap();
    assert!((spent + saved - 20.0).abs() < 1e-9, "{summary}");
    assert!(spent > 0.0 && spent < 7.0, "{summary}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn evolution_search(rounds: usize) -> Search<MicroArch> {
    let space = micro_space();
    let fidelity = Fidelity {
        epochs: 1,
        data_fraction: 0.5,
        image_size: None,
        channel_scale: 1.0,
        depth_scale: 1.0,
    };
    let inner = TrainFromScratch::new(
        MicroChild(MicroNetConfig::new(10).with_layers(1).with_channels(4)),
        task(),
        fidelity,
        training(1, 4),
        Device::flex(),
    )
    .unwrap();
    let estimator = WeightInheritance::new(inner, 4);
    let strategy = RegularizedEvolution::new(
        space.clone(),
        EvolutionConfig {
            population: 3,
            sample_size: 2,
            seed: 8,
        },
    )
    .unwrap();
    Search::new(
        &space,
        strategy,
        estimator,
        quiet(SearchConfig::multi_trial(rounds, 2)),
    )
    .unwrap()
}

#[test]
fn evolution_with_weight_inheritance_writes_a_complete_run_directory() {
    let _turn = turn();
    let dir = support::scratch_dir("evolution");
    let mut search =
        evolution_search(3).with_run_dir(RunDir::create(&dir, IfExists::Refuse).unwrap());
    search.run().unwrap();
    let derived = search.derive().unwrap();
    check_run_dir(&dir, &derived.arch, 3 * 2);
    // After the population (3) is full, children are mutations and inherit weights.
    let history = search.history();
    assert!(history[4..].iter().all(|e| e.has_parent));
    assert!(history.iter().any(|e| e.metrics.inherited()));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What must be equal between an interrupted-and-resumed run and an uninterrupted one (times
/// differ).
pub(crate) fn comparable(
    history: &[Evaluation],
) -> Vec<(usize, usize, String, u64, Option<u64>, bool)> {
    history
        .iter()
        .map(|e| {
            (
                e.round,
                e.update,
                e.arch.to_string(),
                e.reward.to_bits(),
                e.baseline.map(f64::to_bits),
                e.metrics.inherited(),
            )
        })
        .collect()
}

#[test]
fn enas_search_resumed_after_a_stop_gives_the_uninterrupted_history() {
    let _turn = turn();
    let mut whole = enas_micro(3);
    whole.run().unwrap();
    let expected = comparable(whole.history());
    assert_eq!(expected.len(), 3 * 2 * 3);

    // Stopped after round 1 (budget), resumed; then Ctrl-C in the middle of round 2, resumed.
    let dir = support::scratch_dir("resume");
    let mut first = enas_micro(1).with_run_dir(RunDir::create(&dir, IfExists::Refuse).unwrap());
    first.run().unwrap();
    drop(first);
    let mut second = enas_micro(3).resume(RunDir::open(&dir).unwrap()).unwrap();
    assert_eq!(second.rounds_done(), 1);
    // Interrupt: the flag is seen before the first evaluation of the next round.
    second.stop_flag().store(true, Ordering::SeqCst);
    assert_eq!(second.run().unwrap(), Outcome::Interrupted);
    assert_eq!(
        second.history().len(),
        2 * 3,
        "the partial round is dropped"
    );
    let summary: Summary =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary.status, Status::Interrupted);
    drop(second);
    let mut third = enas_micro(3).resume(RunDir::open(&dir).unwrap()).unwrap();
    assert_eq!(third.run().unwrap(), Outcome::BudgetReached);
    assert_eq!(comparable(third.history()), expected);
    // Same derivation too.
    assert_eq!(third.derive().unwrap().arch, whole.derive().unwrap().arch);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn evolution_search_with_inheritance_resumes_exactly() {
    let _turn = turn();
    let mut whole = evolution_search(4);
    whole.run().unwrap();
    let dir = support::scratch_dir("resume-evolution");
    let mut first =
        evolution_search(2).with_run_dir(RunDir::create(&dir, IfExists::Refuse).unwrap());
    first.run().unwrap();
    drop(first);
    let mut resumed = evolution_search(4)
        .resume(RunDir::open(&dir).unwrap())
        .unwrap();
    resumed.run().unwrap();
    assert_eq!(comparable(resumed.history()), comparable(whole.history()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn resume_rejects_a_checkpoint_of_another_search_or_a_damaged_one() {
    let _turn = turn();
    let dir = support::scratch_dir("resume-mismatch");
    let mut first =
        evolution_search(1).with_run_dir(RunDir::create(&dir, IfExists::Refuse).unwrap());
    first.run().unwrap();
    let err = enas_micro(2)
        .resume(RunDir::open(&dir).unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("strategy `evolution`"), "{err}");

    let file = dir.join("checkpoint/search.json");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace("\"rounds_done\":1", "\"rounds_done\":\"one\""),
    )
    .unwrap();
    let err = evolution_search(2)
        .resume(RunDir::open(&dir).unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("rounds_done"), "{err}");

    let err = RunDir::open(support::scratch_dir("not-a-run")).unwrap_err();
    assert!(err.to_string().contains("no checkpoint"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A selector whose reward is a fixed function of the architecture (its JSON length).
struct JsonLength;

impl Estimator<MicroArch> for JsonLength {
    fn estimate(&mut self, arch: &MicroArch) -> burn_nas::estimator::Result<Estimate> {
        Ok(Estimate {
            reward: arch.to_json().len() as f64,
            metrics: Metrics::default(),
        })
    }

    fn name(&self) -> &'static str {
        "json-length"
    }
}

#[test]
fn derive_with_a_selector_picks_the_selectors_best_candidate() {
    let _turn = turn();
    // ENAS: the controller's candidates are scored by the selector, not the shared weights.
    let mut search = enas_micro(1);
    search.run().unwrap();
    let derived = search.derive_with(&mut JsonLength).unwrap();
    let candidates: Vec<&Evaluation> = search
        .history()
        .iter()
        .filter(|e| e.phase == Phase::Derive)
        .collect();
    assert_eq!(candidates.len(), 3);
    for e in &candidates {
        let arch = MicroArch::from_json(&e.arch.to_string()).unwrap();
        assert_eq!(e.reward, arch.to_json().len() as f64);
    }
    let best = candidates.iter().map(|e| e.reward).fold(f64::MIN, f64::max);
    assert_eq!(derived.reward, best);
    assert_eq!(derived.reward, derived.arch.to_json().len() as f64);

    // Multi-trial: the best distinct architectures of the search are re-scored.
    let mut search = evolution_search(2);
    search.run().unwrap();
    let mut evaluated: Vec<MicroArch> = Vec::new();
    for e in search.history() {
        let arch = MicroArch::from_json(&e.arch.to_string()).unwrap();
        if !evaluated.contains(&arch) {
            evaluated.push(arch);
        }
    }
    let derived = search.derive_with(&mut JsonLength).unwrap();
    let rescored = search
        .history()
        .iter()
        .filter(|e| e.phase == Phase::Derive)
        .count();
    assert_eq!(
        rescored,
        evaluated.len().min(Search::<MicroArch>::SELECT_TOP)
    );
    assert!(evaluated.contains(&derived.arch));
}

/// An estimator whose reward is the architecture's JSON length plus noise that changes on
/// every call (as a shared-weight score on one minibatch does): a search's best single reward
/// is partly luck.
struct NoisyJsonLength(u64);

impl Estimator<MicroArch> for NoisyJsonLength {
    fn estimate(&mut self, arch: &MicroArch) -> burn_nas::estimator::Result<Estimate> {
        self.0 += 1;
        Ok(Estimate {
            reward: arch.to_json().len() as f64 + (self.0 * 7_919 % 100) as f64,
            metrics: Metrics::default(),
        })
    }

    fn name(&self) -> &'static str {
        "noisy-json-length"
    }
}

#[test]
fn rescore_scores_the_best_evaluated_again_and_keeps_the_best_new_score() {
    let space = micro_space();
    let config = SearchConfig {
        derive: Derive::Rescore {
            candidates: 4,
            scores: 3,
        },
        ..quiet(SearchConfig::multi_trial(3, 5))
    };
    let strategy = RandomSearch::new(space.clone(), 3);
    let mut search = Search::new(&space, strategy, NoisyJsonLength(0), config).unwrap();
    search.run().unwrap();
    // The 4 best distinct architectures by their search-phase reward.
    let mut searched: Vec<(f64, String)> = search
        .history()
        .iter()
        .map(|e| (e.reward, e.arch.to_string()))
        .collect();
    searched.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut top: Vec<String> = Vec::new();
    for (_, arch) in searched {
        if top.len() < 4 && !top.contains(&arch) {
            top.push(arch);
        }
    }

    let derived = search.derive().unwrap();
    let rescored: Vec<&Evaluation> = search
        .history()
        .iter()
        .filter(|e| e.phase == Phase::Derive)
        .collect();
    let mut rescored_archs: Vec<String> = rescored.iter().map(|e| e.arch.to_string()).collect();
    rescored_archs.sort();
    top.sort();
    assert_eq!(rescored_archs, top);
    let best = rescored.iter().map(|e| e.reward).fold(f64::MIN, f64::max);
    assert_eq!(derived.reward, best);

    let config = SearchConfig {
        derive: Derive::Rescore {
            candidates: 0,
            scores: 1,
        },
        ..quiet(SearchConfig::multi_trial(1, 1))
    };
    let strategy = RandomSearch::new(space.clone(), 3);
    let err = Search::new(&space, strategy, NoisyJsonLength(0), config).unwrap_err();
    assert!(err.to_string().contains("derive.candidates"), "{err}");
}
