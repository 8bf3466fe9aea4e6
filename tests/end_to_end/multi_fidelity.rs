//! Successive halving and Hyperband ([`MultiFidelitySearch`]): the brackets of the Hyperband
//! paper, promotion of exactly the best of each rung, one estimator per budget built at that
//! budget's fidelity, any strategy proposing, cost accounting, typed errors for impossible
//! settings, and a real search on Fashion-MNIST that resumes exactly from its checkpoint.

use crate::support;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use burn_nas::estimator::{Metrics, TrainingRun};
use burn_nas::prelude::*;
use burn_nas::search::{Bracket, EstimatorFactory, MULTI_FIDELITY_FILE, Rung, RungEvaluation};

fn config(schedule: Schedule, eta: usize, min: usize, max: usize) -> HalvingConfig {
    HalvingConfig {
        eta,
        min_budget: min,
        max_budget: max,
        axis: BudgetAxis::Epochs,
        full: Fidelity::full(max),
        schedule,
    }
}

fn rungs(bracket: &Bracket) -> Vec<(usize, usize)> {
    bracket
        .rungs
        .iter()
        .map(|r: &Rung| (r.candidates, r.budget))
        .collect()
}

/// Table 1 of Li et al. (2018), R = 81, η = 3: five brackets.
#[test]
fn hyperband_brackets_are_the_papers() {
    let hb = config(Schedule::Hyperband { iterations: 1 }, 3, 1, 81);
    let brackets: Vec<_> = hb.brackets().iter().map(rungs).collect();
    assert_eq!(
        brackets,
        vec![
            vec![(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
            vec![(34, 3), (11, 9), (3, 27), (1, 81)],
            vec![(15, 9), (5, 27), (1, 81)],
            vec![(8, 27), (2, 81)],
            vec![(5, 81)],
        ]
    );
    // Each bracket spends about the same budget, ≈ (s_max + 1) · R.
    for b in hb.brackets() {
        assert!((300..=500).contains(&b.cost()), "{b:?}: {}", b.cost());
    }
    let twice = config(Schedule::Hyperband { iterations: 2 }, 3, 1, 81);
    assert_eq!(twice.brackets().len(), 10);
    assert_eq!(twice.cost(), 2 * hb.cost());

    let sh = config(Schedule::SuccessiveHalving { candidates: 16 }, 2, 1, 8);
    assert_eq!(
        rungs(&sh.brackets()[0]),
        vec![(16, 1), (8, 2), (4, 4), (2, 8)]
    );
    // Too few candidates for every halving: the rungs that would select nothing are dropped,
    // and the lone survivor goes straight to the full budget.
    let few = config(Schedule::SuccessiveHalving { candidates: 5 }, 3, 1, 81);
    assert_eq!(rungs(&few.brackets()[0]), vec![(5, 1), (1, 81)]);
    // Settings whose arithmetic would overflow are refused, not wrapped.
    let huge = config(Schedule::Hyperband { iterations: 1 }, 2, 1, usize::MAX);
    assert!(matches!(
        huge.validate(),
        Err(SearchError::InvalidSetting {
            field: "max_budget",
            ..
        })
    ));
}

#[test]
fn budgets_map_onto_the_fidelity_axis() {
    let mut c = config(Schedule::Hyperband { iterations: 1 }, 3, 1, 9);
    assert_eq!(c.fidelity_at(3).epochs, 3);
    c.axis = BudgetAxis::DataFraction;
    c.full = Fidelity::full(5);
    let third = c.fidelity_at(3);
    assert_eq!(third.epochs, 5);
    assert!((third.data_fraction - 1.0 / 3.0).abs() < 1e-12);
    c.axis = BudgetAxis::ImageSize;
    c.full.image_size = Some(28);
    // A ninth of the pixels: a third of the side.
    assert_eq!(c.fidelity_at(1).image_size, Some(9));
    assert_eq!(c.fidelity_at(9).image_size, Some(28));
}

#[test]
fn impossible_settings_are_typed_errors_naming_the_field() {
    let field = |c: HalvingConfig| match c.validate() {
        Err(SearchError::InvalidSetting { field, .. }) => field,
        other => panic!("expected InvalidSetting, got {other:?}"),
    };
    let ok = config(Schedule::Hyperband { iterations: 1 }, 3, 1, 9);
    ok.validate().unwrap();
    assert_eq!(
        field(HalvingConfig {
            eta: 1,
            ..ok.clone()
        }),
        "eta"
    );
    assert_eq!(
        field(HalvingConfig {
            min_budget: 0,
            ..ok.clone()
        }),
        "min_budget"
    );
    assert_eq!(
        field(HalvingConfig {
            max_budget: 0,
            min_budget: 1,
            ..ok.clone()
        }),
        "max_budget"
    );
    assert_eq!(
        field(HalvingConfig {
            schedule: Schedule::SuccessiveHalving { candidates: 0 },
            ..ok.clone()
        }),
        "schedule.candidates"
    );
    assert_eq!(
        field(HalvingConfig {
            axis: BudgetAxis::ImageSize,
            ..ok.clone()
        }),
        "full.image_size"
    );
    // The data-fraction axis keeps the full fidelity's epochs, which must be possible.
    assert_eq!(
        field(HalvingConfig {
            axis: BudgetAxis::DataFraction,
            full: Fidelity::full(0),
            ..ok
        }),
        "full"
    );
}

/// Scores an architecture by a fixed hash of it, plus noise that shrinks with the budget and
/// a drift with the number of estimates it has made (its state, saved and restored), and
/// counts what it was asked.
struct Scripted {
    epochs: usize,
    calls: Rc<RefCell<usize>>,
    made: usize,
    /// Rewards NaN from this estimate on.
    poison_at: Option<usize>,
}

fn quality(arch: &NasRlArch) -> f64 {
    let text = arch.to_string();
    let h = text.bytes().fold(1469598103934665603u64, |h, b| {
        (h ^ b as u64).wrapping_mul(1099511628211)
    });
    (h % 10_000) as f64 / 10_000.0
}

impl Estimator<NasRlArch> for Scripted {
    fn estimate(&mut self, arch: &NasRlArch) -> burn_nas::estimator::Result<Estimate> {
        *self.calls.borrow_mut() += 1;
        self.made += 1;
        let q = quality(arch);
        // Low budgets see a distorted ranking.
        let noise = ((q * 7919.0).fract() - 0.5) / self.epochs as f64;
        let mut reward = q + noise + 1e-3 * self.made as f64;
        if self.poison_at.is_some_and(|at| self.made >= at) {
            reward = f64::NAN;
        }
        Ok(Estimate {
            reward,
            metrics: Metrics {
                valid_accuracy: reward,
                training: Some(TrainingRun {
                    epochs: self.epochs,
                    ..TrainingRun::default()
                }),
                ..Metrics::default()
            },
        })
    }

    fn save_state(&self) -> burn_nas::estimator::Result<burn_nas::estimator::EstimatorState> {
        burn_nas::estimator::EstimatorState::json(&self.made)
    }

    fn load_state(
        &mut self,
        state: &burn_nas::estimator::EstimatorState,
    ) -> burn_nas::estimator::Result<()> {
        self.made = state.parse("scripted")?;
        Ok(())
    }
}

fn scripted(
    built: Rc<RefCell<BTreeMap<usize, Rc<RefCell<usize>>>>>,
) -> EstimatorFactory<NasRlArch> {
    Box::new(move |fidelity: &Fidelity| {
        let calls = Rc::new(RefCell::new(0));
        let previous = built.borrow_mut().insert(fidelity.epochs, calls.clone());
        assert!(previous.is_none(), "budget {} built twice", fidelity.epochs);
        Ok(Box::new(Scripted {
            epochs: fidelity.epochs,
            calls,
            made: 0,
            poison_at: None,
        }) as Box<dyn Estimator<NasRlArch>>)
    })
}

fn fresh_scripted() -> EstimatorFactory<NasRlArch> {
    scripted(Rc::new(RefCell::new(BTreeMap::new())))
}

/// `result` is a [`SearchError::Checkpoint`] whose reason names `what`.
fn assert_refused<T: std::fmt::Debug>(result: Result<T, SearchError>, what: &str) {
    match result {
        Err(SearchError::Checkpoint { reason, .. }) => {
            assert!(reason.contains(what), "{reason}")
        }
        other => panic!("expected a checkpoint error, got {other:?}"),
    }
}

/// Stopped after every single rung and resumed from its run directory each time — so the
/// estimator states of budgets not used in a session are carried through its checkpoints —
/// Hyperband with a stateful estimator and an evolving strategy ends exactly as one
/// uninterrupted run.
#[test]
fn resuming_at_every_rung_gives_the_uninterrupted_run() {
    let space = NasRlSpace::new(3).unwrap();
    let hb = config(Schedule::Hyperband { iterations: 2 }, 3, 1, 9);
    let evolution = || {
        RegularizedEvolution::new(
            space.clone(),
            EvolutionConfig {
                population: 6,
                sample_size: 2,
                seed: 9,
            },
        )
        .unwrap()
    };
    let mut whole =
        MultiFidelitySearch::new(&space, evolution(), fresh_scripted(), hb.clone()).unwrap();
    let expected = whole.run().unwrap();
    let path = support::scratch_dir("hb-every-rung");
    let mut first = MultiFidelitySearch::new(&space, evolution(), fresh_scripted(), hb.clone())
        .unwrap()
        .with_run_dir(RunDir::create(&path, IfExists::Refuse).unwrap());
    let mut sessions = 1;
    let mut done = first.run_rungs(1).unwrap();
    drop(first);
    while !done {
        let mut next = MultiFidelitySearch::new(&space, evolution(), fresh_scripted(), hb.clone())
            .unwrap()
            .resume(RunDir::open(&path).unwrap())
            .unwrap();
        done = next.run_rungs(1).unwrap();
        sessions += 1;
        if done {
            let actual = next.run().unwrap();
            assert_eq!(next.history(), whole.history());
            assert_eq!(
                (actual.best, actual.best_reward, actual.budget_spent),
                (
                    expected.best.clone(),
                    expected.best_reward,
                    expected.budget_spent
                )
            );
        }
    }
    let rungs: usize = hb.brackets().iter().map(|b| b.rungs.len()).sum();
    assert_eq!(sessions, rungs);
    std::fs::remove_dir_all(&path).unwrap();
}

/// A reward that is not a number stops the search with a typed error, and the checkpoint keeps
/// everything up to the rung before; a checkpoint whose position is not in the schedule is
/// refused, naming it.
#[test]
fn bad_rewards_and_damaged_positions_are_typed_errors() {
    let space = NasRlSpace::new(3).unwrap();
    let sh = config(Schedule::SuccessiveHalving { candidates: 9 }, 3, 1, 9);
    let poisoned: EstimatorFactory<NasRlArch> = Box::new(|fidelity: &Fidelity| {
        Ok(Box::new(Scripted {
            epochs: fidelity.epochs,
            calls: Rc::new(RefCell::new(0)),
            made: 0,
            // The 3-epoch rung's second estimate.
            poison_at: (fidelity.epochs == 3).then_some(2),
        }) as Box<dyn Estimator<NasRlArch>>)
    });
    let path = support::scratch_dir("hb-poisoned");
    let mut search = MultiFidelitySearch::new(
        &space,
        RandomSearch::new(space.clone(), 1),
        poisoned,
        sh.clone(),
    )
    .unwrap()
    .with_run_dir(RunDir::create(&path, IfExists::Refuse).unwrap());
    match search.run() {
        Err(SearchError::Strategy(StrategyError::BadReward { index: 1, reward })) => {
            assert!(reward.is_nan())
        }
        other => panic!("expected BadReward, got {other:?}"),
    }
    let resumed = MultiFidelitySearch::new(
        &space,
        RandomSearch::new(space.clone(), 1),
        fresh_scripted(),
        sh.clone(),
    )
    .unwrap()
    .resume(RunDir::open(&path).unwrap())
    .unwrap();
    assert_eq!(resumed.history().len(), 9);

    // Move the position past the bracket's last rung.
    let file = path.join(MULTI_FIDELITY_FILE);
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    json["progress"]["rung"] = serde_json::json!(7);
    std::fs::write(&file, serde_json::to_vec(&json).unwrap()).unwrap();
    let refused = MultiFidelitySearch::new(
        &space,
        RandomSearch::new(space.clone(), 1),
        fresh_scripted(),
        sh,
    )
    .unwrap()
    .resume(RunDir::open(&path).unwrap());
    assert_refused(refused, "rung 7");
    std::fs::remove_dir_all(&path).unwrap();
}

/// Damaged `multi_fidelity.json` checkpoints (one to three values replaced by values of the
/// wrong kind, size or sign, or members removed; a fixed proptest seed) resume and run to the
/// end, or stop with a typed error: never a panic.
#[test]
fn damaged_multi_fidelity_checkpoints_resume_or_fail_typed() {
    use crate::checkpoint_fuzz::{copy_dir, fixed_runner, paths, replace_or_remove, replacement};
    use proptest::prelude::*;
    use serde_json::Value;

    let space = NasRlSpace::new(3).unwrap();
    let hb = config(Schedule::Hyperband { iterations: 2 }, 3, 1, 9);
    let search = || {
        MultiFidelitySearch::new(
            &space,
            RandomSearch::new(space.clone(), 1),
            fresh_scripted(),
            hb.clone(),
        )
        .unwrap()
    };
    // Two rungs done: a checkpoint in the middle of the first bracket.
    let original = support::scratch_dir("hb-fuzz");
    let mut first = search().with_run_dir(RunDir::create(&original, IfExists::Refuse).unwrap());
    assert!(!first.run_rungs(2).unwrap());
    drop(first);
    let json: Value =
        serde_json::from_slice(&std::fs::read(original.join(MULTI_FIDELITY_FILE)).unwrap())
            .unwrap();
    let mut all = Vec::new();
    paths(&json, &mut Vec::new(), &mut all);

    let mut runner = fixed_runner(128);
    // (resumed and ran to the end, refused or stopped with a typed error)
    let outcomes = std::sync::Mutex::new((0, 0));
    // Each damage: a value to replace the one at the index, or none to remove it.
    let damages = prop::collection::vec(
        (
            any::<prop::sample::Index>(),
            prop::option::of(replacement()),
        ),
        1..4,
    );
    let case = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(&damages, |damages| {
            let n = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let dir = support::scratch_dir(&format!("hb-fuzz-{n}"));
            copy_dir(&original, &dir);
            let file = dir.join(MULTI_FIDELITY_FILE);
            let mut value = json.clone();
            for (index, replacement) in &damages {
                replace_or_remove(
                    &mut value,
                    index.get::<Vec<String>>(&all),
                    replacement.as_ref(),
                );
            }
            std::fs::write(&file, value.to_string()).unwrap();
            let result = search()
                .resume(RunDir::open(&dir).unwrap())
                .and_then(|mut resumed| resumed.run().map(|_| ()));
            let _ = std::fs::remove_dir_all(&dir);
            let mut seen = outcomes.lock().unwrap();
            match result {
                Ok(()) => seen.0 += 1,
                Err(e) => {
                    prop_assert!(!e.to_string().is_empty());
                    seen.1 += 1;
                }
            }
            Ok(())
        })
        .unwrap();
    std::fs::remove_dir_all(&original).unwrap();
    let (resumed, refused) = outcomes.into_inner().unwrap();
    eprintln!("multi-fidelity checkpoints: {resumed} resumed, {refused} refused");
    // The damage must reach both outcomes, or the test proves nothing.
    assert!(
        resumed > 0 && refused > 0,
        "{resumed} resumed, {refused} refused"
    );
}

/// Every rung promotes exactly its best candidates, every estimate runs at its rung's budget on
/// that budget's estimator, and the outcome's incumbent and costs add up — with random search
/// and with regularized evolution proposing.
#[test]
fn each_rung_promotes_exactly_its_best() {
    let space = NasRlSpace::new(3).unwrap();
    let hb = config(Schedule::Hyperband { iterations: 2 }, 3, 1, 9);
    let strategies: Vec<Box<dyn SearchStrategy<NasRlArch>>> = vec![
        Box::new(RandomSearch::new(space.clone(), 5)),
        Box::new(
            RegularizedEvolution::new(
                space.clone(),
                EvolutionConfig {
                    population: 10,
                    sample_size: 3,
                    seed: 5,
                },
            )
            .unwrap(),
        ),
    ];
    for strategy in strategies {
        let name = strategy.name();
        let built = Rc::new(RefCell::new(BTreeMap::new()));
        let mut search =
            MultiFidelitySearch::new(&space, strategy, scripted(built.clone()), hb.clone())
                .unwrap();
        let outcome = search.run().unwrap();
        let history: &[RungEvaluation<NasRlArch>] = search.history();

        let calls: BTreeMap<usize, usize> = built
            .borrow()
            .iter()
            .map(|(&b, c)| (b, *c.borrow()))
            .collect();
        // One estimator per budget, asked once per estimate at that budget.
        assert_eq!(calls.keys().copied().collect::<Vec<_>>(), vec![1, 3, 9]);
        for (budget, n) in &calls {
            let at = history.iter().filter(|e| e.budget == *budget).count();
            assert_eq!(*n, at, "{name}: budget {budget}");
        }
        for e in history {
            assert_eq!(e.metrics.epochs(), e.budget, "{name}");
        }
        // Rung sizes are the schedule's; the promoted are exactly the best of their rung and
        // are the next rung's candidates.
        for (b, bracket) in hb.brackets().iter().enumerate() {
            for (r, rung) in bracket.rungs.iter().enumerate() {
                let here: Vec<_> = history
                    .iter()
                    .filter(|e| e.bracket == b && e.rung == r)
                    .collect();
                assert_eq!(here.len(), rung.candidates, "{name}: bracket {b} rung {r}");
                assert!(here.iter().all(|e| e.budget == rung.budget));
                let promoted: Vec<_> = here.iter().filter(|e| e.promoted).collect();
                let dropped: Vec<_> = here.iter().filter(|e| !e.promoted).collect();
                let worst_promoted = promoted
                    .iter()
                    .map(|e| e.reward)
                    .fold(f64::INFINITY, f64::min);
                assert!(dropped.iter().all(|e| e.reward <= worst_promoted));
                match bracket.rungs.get(r + 1) {
                    Some(next) => {
                        assert_eq!(promoted.len(), next.candidates);
                        let mut up: Vec<_> = promoted.iter().map(|e| e.candidate).collect();
                        let mut there: Vec<_> = history
                            .iter()
                            .filter(|e| e.bracket == b && e.rung == r + 1)
                            .map(|e| e.candidate)
                            .collect();
                        up.sort_unstable();
                        there.sort_unstable();
                        assert_eq!(up, there, "{name}: bracket {b} rung {r}");
                    }
                    None => assert!(promoted.is_empty()),
                }
            }
        }
        // The incumbent is the best at the full budget; the costs add up.
        let best = history
            .iter()
            .filter(|e| e.budget == 9)
            .map(|e| e.reward)
            .fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(outcome.best_reward, best, "{name}");
        assert_eq!(outcome.budget_spent, hb.cost(), "{name}");
        assert_eq!(outcome.epochs_trained, hb.cost(), "{name}");
        assert_eq!(outcome.brackets, hb.brackets().len());
        let candidates: usize = hb.brackets().iter().map(|b| b.rungs[0].candidates).sum();
        assert_eq!(outcome.candidates, candidates);
        assert_eq!(outcome.budget_if_full, candidates * 9);
        assert!(outcome.budget_spent < outcome.budget_if_full);
        assert_eq!(
            outcome.budget_saved,
            outcome.budget_if_full - outcome.budget_spent
        );
    }
}

/// Successive halving of NAS-RL children trained from scratch on Fashion-MNIST: the children
/// learn, the survivors are the best of the first rung, and a search stopped after its first
/// rung and resumed from its run directory ends exactly as an uninterrupted one.
#[test]
fn real_successive_halving_resumes_exactly() {
    let _turn = support::turn();
    let space = NasRlSpace::new(3).unwrap().with_strides(&[1, 2]).unwrap();
    let sh = HalvingConfig {
        eta: 2,
        min_budget: 1,
        max_budget: 4,
        axis: BudgetAxis::Epochs,
        full: Fidelity::full(4),
        schedule: Schedule::SuccessiveHalving { candidates: 4 },
    };
    let factory = || -> EstimatorFactory<NasRlArch> {
        Box::new(|fidelity: &Fidelity| {
            let device = burn::tensor::Device::flex();
            device.seed(1);
            let estimator = TrainFromScratch::new(
                NasRlChild(NasRlNetConfig::new(10).with_filter_scale(0.25)),
                support::task(),
                fidelity.clone(),
                support::training(fidelity.epochs, 3),
                device,
            )?;
            Ok(Box::new(estimator) as Box<dyn Estimator<NasRlArch>>)
        })
    };

    let mut whole = MultiFidelitySearch::new(
        &space,
        RandomSearch::new(space.clone(), 11),
        factory(),
        sh.clone(),
    )
    .unwrap();
    let outcome = whole.run().unwrap();
    let expected = whole.history().to_vec();
    assert_eq!(expected.len(), 4 + 2 + 1);
    // Real training: the child trained for the full 4 epochs is far above chance (0.1).
    assert!(
        expected[6].reward > 0.5,
        "{:?}",
        expected.iter().map(|e| e.reward).collect::<Vec<_>>()
    );
    assert_eq!(outcome.budget_spent, 4 + 2 * 2 + 4);
    assert_eq!(outcome.epochs_trained, 12);

    let path = support::scratch_dir("sh");
    let mut first = MultiFidelitySearch::new(
        &space,
        RandomSearch::new(space.clone(), 11),
        factory(),
        sh.clone(),
    )
    .unwrap()
    .with_run_dir(RunDir::create(&path, IfExists::Refuse).unwrap());
    assert!(!first.run_rungs(1).unwrap());
    assert!(path.join(MULTI_FIDELITY_FILE).is_file());
    drop(first);
    // A fresh process would reseed the device: the resumed rung must not depend on it.
    burn::tensor::Device::flex().seed(999);
    let mut resumed = MultiFidelitySearch::new(
        &space,
        RandomSearch::new(space.clone(), 11),
        factory(),
        sh.clone(),
    )
    .unwrap()
    .resume(RunDir::open(&path).unwrap())
    .unwrap();
    assert_eq!(resumed.history().len(), 4);
    let again = resumed.run().unwrap();
    let actual = resumed.history();
    assert_eq!(actual.len(), expected.len());
    for (a, e) in actual.iter().zip(&expected) {
        assert_eq!(
            (a.bracket, a.rung, a.candidate, &a.arch, a.promoted),
            (e.bracket, e.rung, e.candidate, &e.arch, e.promoted)
        );
        assert_eq!(a.reward, e.reward);
        assert_eq!(support::timeless(&a.metrics), support::timeless(&e.metrics));
    }
    assert_eq!(again.best, outcome.best);
    // The finished run wrote its outcome, with the budget it saved.
    let written: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(path.join(burn_nas::search::OUTCOME_FILE)).unwrap(),
    )
    .unwrap();
    assert_eq!(written["budget_spent"], 12);
    assert_eq!(written["budget_saved"], 4 * 4 - 12);

    // A checkpoint of other settings is refused, naming the reason.
    let other = HalvingConfig { eta: 3, ..sh };
    let refused = MultiFidelitySearch::new(
        &space,
        RandomSearch::new(space.clone(), 11),
        factory(),
        other,
    )
    .unwrap()
    .resume(RunDir::open(&path).unwrap());
    assert_refused(refused, "settings");
    std::fs::remove_dir_all(&path).unwrap();
}
