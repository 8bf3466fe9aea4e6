//! Property tests of run directories: a checkpoint damaged in any field (`search.json`: history,
//! strategy state, estimator state; the estimator's weight blobs) either resumes and runs on,
//! or fails with a typed error. No damage panics.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use burn::tensor::Device;
use burn_nas::estimator::Metrics;
use burn_nas::nn::MicroSupernet;
use burn_nas::prelude::*;
use proptest::prelude::*;
use serde_json::Value;

use crate::support;
use support::{task, training};

/// A reward that is a fixed function of the architecture: searches cost nothing.
struct JsonLength;

impl Estimator<MicroArch> for JsonLength {
    fn estimate(&mut self, arch: &MicroArch) -> burn_nas::estimator::Result<Estimate> {
        Ok(Estimate {
            reward: arch.to_json().len() as f64 / 1_000.0,
            metrics: Metrics::default(),
        })
    }

    fn name(&self) -> &'static str {
        "json-length"
    }
}

fn space() -> MicroSpace {
    MicroSpace::new(2, &MicroOp::ALL).unwrap()
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Reinforce,
    Evolution,
    Random,
    /// REINFORCE with shared weights: the checkpoint holds burn records as blobs.
    Shared,
}

const KINDS: [Kind; 4] = [Kind::Reinforce, Kind::Evolution, Kind::Random, Kind::Shared];

/// A search of `kind` that runs `rounds` rounds of 2 × 2 proposals.
fn search(kind: Kind, rounds: usize) -> Search<MicroArch> {
    let space = space();
    let mut config = SearchConfig::multi_trial(rounds, 2);
    config.updates_per_round = 2;
    config.quiet = true;
    let device = Device::flex();
    match kind {
        Kind::Reinforce => {
            let strategy =
                Reinforce::new(space.clone(), ReinforceConfig::enas_micro(), device).unwrap();
            Search::new(&space, strategy, JsonLength, config).unwrap()
        }
        Kind::Evolution => {
            let strategy = RegularizedEvolution::new(
                space.clone(),
                EvolutionConfig {
                    population: 3,
                    sample_size: 2,
                    seed: 8,
                },
            )
            .unwrap();
            Search::new(&space, strategy, JsonLength, config).unwrap()
        }
        Kind::Random => Search::new(
            &space,
            RandomSearch::new(space.clone(), 3),
            JsonLength,
            config,
        )
        .unwrap(),
        Kind::Shared => {
            let supernet = MicroSupernetConfig::new(10)
                .with_in_channels(1)
                .with_image_size(14)
                .with_layers(1)
                .with_channels(2)
                .init(&space, &device.clone().autodiff())
                .unwrap();
            let estimator = SharedWeights::<MicroSupernet>::new(
                supernet,
                task(),
                training(1, 5),
                20,
                device.clone(),
            )
            .unwrap();
            let strategy =
                Reinforce::new(space.clone(), ReinforceConfig::enas_micro(), device).unwrap();
            config.derive = Derive::Sample {
                candidates: 2,
                scores: 1,
            };
            Search::new(&space, strategy, estimator, config).unwrap()
        }
    }
}

/// One finished round of each kind, checkpointed once per test process: `(kind, run dir)`.
fn originals() -> &'static Vec<(Kind, PathBuf)> {
    static DIRS: OnceLock<Vec<(Kind, PathBuf)>> = OnceLock::new();
    DIRS.get_or_init(|| {
        KINDS
            .iter()
            .map(|&kind| {
                let dir = std::env::temp_dir().join(format!(
                    "burn-nas-checkpoint-fuzz-{kind:?}-{}",
                    std::process::id()
                ));
                let _ = std::fs::remove_dir_all(&dir);
                let mut first =
                    search(kind, 1).with_run_dir(RunDir::create(&dir, IfExists::Refuse).unwrap());
                first.run().unwrap();
                (kind, dir)
            })
            .collect()
    })
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Every value in `value` (objects' members and arrays' elements included), as paths.
pub(crate) fn paths(value: &Value, here: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(here.clone());
    let children: Vec<(String, &Value)> = match value {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => Vec::new(),
    };
    for (key, child) in children {
        here.push(key);
        paths(child, here, out);
        here.pop();
    }
}

fn at_path<'a>(value: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |v, key| match v {
        Value::Object(map) => map.get_mut(key),
        Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
        _ => None,
    })
}

/// A proptest runner of `cases` cases from a fixed seed, persisting nothing: the damaged
/// checkpoints are the same in every run.
pub(crate) fn fixed_runner(cases: u32) -> proptest::test_runner::TestRunner {
    proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        rng_seed: proptest::test_runner::RngSeed::Fixed(2026),
        failure_persistence: None,
        ..ProptestConfig::default()
    })
}

/// Replaces the value at `path` in `value` by `replacement`, or removes it (a member of an
/// object, an element of an array) when there is none; a path that is not there changes
/// nothing.
pub(crate) fn replace_or_remove(value: &mut Value, path: &[String], replacement: Option<&Value>) {
    match replacement {
        Some(v) => {
            if let Some(slot) = at_path(value, path) {
                *slot = v.clone();
            }
        }
        None => {
            let Some((last, parent)) = path.split_last() else {
                return;
            };
            match at_path(value, parent) {
                Some(Value::Object(map)) => {
                    map.remove(last);
                }
                Some(Value::Array(items)) => {
                    if let Some(k) = last.parse::<usize>().ok().filter(|&k| k < items.len()) {
                        items.remove(k);
                    }
                }
                _ => {}
            }
        }
    }
}

/// A value that is often the right kind but the wrong size, sign or shape.
pub(crate) fn replacement() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-3i64..40).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        Just(Value::Null),
        Just(Value::Bool(false)),
        "[a-z_]{0,10}".prop_map(Value::from),
        prop::collection::vec(-2i64..6, 0..5).prop_map(Value::from),
        Just(Value::Array(Vec::new())),
        Just(Value::Object(serde_json::Map::new())),
    ]
}

/// How to damage a checkpoint.
#[derive(Debug, Clone)]
enum Damage {
    /// Replace one value of `search.json`.
    Replace(prop::sample::Index, Value),
    /// Remove one member or element of `search.json`.
    Remove(prop::sample::Index),
    /// Cut an estimator blob (or `search.json` when there are none) at a relative position.
    Truncate(prop::sample::Index),
    /// Flip one byte of an estimator blob (or of `search.json`).
    Flip(prop::sample::Index, u8),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        4 => (any::<prop::sample::Index>(), replacement()).prop_map(|(i, v)| Damage::Replace(i, v)),
        2 => any::<prop::sample::Index>().prop_map(Damage::Remove),
        1 => any::<prop::sample::Index>().prop_map(Damage::Truncate),
        1 => (any::<prop::sample::Index>(), 1u8..=255).prop_map(|(i, x)| Damage::Flip(i, x)),
    ]
}

/// The files a byte-level damage may hit: estimator blobs, or `search.json` without any.
fn byte_targets(dir: &Path) -> Vec<PathBuf> {
    let mut blobs: Vec<PathBuf> = std::fs::read_dir(dir.join("checkpoint/estimator"))
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    blobs.sort();
    if blobs.is_empty() {
        blobs.push(dir.join("checkpoint/search.json"));
    }
    blobs
}

fn apply(dir: &Path, damage: &Damage) {
    let json_path = dir.join("checkpoint/search.json");
    match damage {
        Damage::Replace(..) | Damage::Remove(_) => {
            let Ok(mut value) =
                serde_json::from_slice::<Value>(&std::fs::read(&json_path).unwrap())
            else {
                return;
            };
            let mut all = Vec::new();
            paths(&value, &mut Vec::new(), &mut all);
            match damage {
                Damage::Replace(i, v) => {
                    replace_or_remove(&mut value, i.get::<Vec<String>>(&all), Some(v))
                }
                Damage::Remove(i) => {
                    replace_or_remove(&mut value, i.get::<Vec<String>>(&all), None)
                }
                _ => {}
            }
            std::fs::write(&json_path, value.to_string()).unwrap();
        }
        Damage::Truncate(i) | Damage::Flip(i, _) => {
            let targets = byte_targets(dir);
            let file = i.get(&targets);
            let mut bytes = std::fs::read(file).unwrap();
            if bytes.is_empty() {
                return;
            }
            let at = i.index(bytes.len());
            match damage {
                Damage::Truncate(_) => bytes.truncate(at),
                Damage::Flip(_, x) => bytes[at] ^= x,
                _ => {}
            }
            std::fs::write(file, bytes).unwrap();
        }
    }
}

/// What the damaged checkpoints did.
#[derive(Debug, Default)]
struct Outcomes {
    /// Resumed (and, without shared weights, ran on to the end).
    resumed: usize,
    /// Refused at resume or failed on the next round, with a typed error.
    refused: usize,
    /// Refused, with shared weights (their records damaged or the JSON around them).
    refused_shared: usize,
}

#[test]
fn damaged_checkpoints_resume_or_fail_typed() {
    let _turn = support::turn();
    // 64 damaged copies of each run directory (fixed seed); each resumes four searches and runs
    // three of them on. The shared-weight one holds burn records.
    let mut runner = fixed_runner(64);
    let outcomes = std::sync::Mutex::new(Outcomes::default());
    let strategy = (prop::collection::vec(damage(), 1..4), any::<u64>());
    runner
        .run(&strategy, |(damages, case)| {
            for (kind, original) in originals() {
                let dir = std::env::temp_dir().join(format!(
                    "burn-nas-checkpoint-fuzz-case-{}-{kind:?}-{case}",
                    std::process::id()
                ));
                let _ = std::fs::remove_dir_all(&dir);
                copy_dir(original, &dir);
                for d in &damages {
                    apply(&dir, d);
                }
                let resumed = RunDir::open(&dir)
                    .map_err(|e| e.to_string())
                    .and_then(|run| search(*kind, 2).resume(run).map_err(|e| e.to_string()))
                    .and_then(|mut s| {
                        // A checkpoint that still reads must also run on: damage that passes
                        // the reader may not panic later.
                        if matches!(kind, Kind::Shared) {
                            Ok(())
                        } else {
                            s.run().map(|_| ()).map_err(|e| e.to_string())
                        }
                    });
                let _ = std::fs::remove_dir_all(&dir);
                let mut seen = outcomes.lock().unwrap();
                match resumed {
                    Ok(()) => seen.resumed += 1,
                    Err(message) => {
                        prop_assert!(!message.is_empty());
                        seen.refused += 1;
                        if matches!(kind, Kind::Shared) {
                            seen.refused_shared += 1;
                        }
                    }
                }
            }
            Ok(())
        })
        .unwrap();
    let seen = outcomes.into_inner().unwrap();
    println!("{seen:?}");
    // The damage must reach both outcomes, or the test proves nothing.
    assert!(
        seen.resumed > 0 && seen.refused > 0 && seen.refused_shared > 0,
        "{seen:?}"
    );
}
