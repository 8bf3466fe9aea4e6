//! Several machines: two `worker` example processes on loopback serve `flex` through burn's
//! remote backend; a multi-trial search trains its children on them and gets exactly the
//! history of a local sequential run; killing one worker process mid-search retries its child
//! on the other, records the retry, and changes nothing else.
//!
//! Needs the `remote` feature and the `worker` example built beside this test binary
//! (`cargo test --features remote` builds both).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use burn::tensor::Device;
use burn_nas::backend::{DeviceError, DevicePool};
use burn_nas::estimator::{BatchObserver, Estimate, Metrics};
use burn_nas::prelude::*;
use burn_nas::search::Evaluation;

mod support;
use support::{task, training, turn};

/// A `worker` example process serving `flex` on a free loopback port.
struct WorkerProcess {
    child: Child,
    url: String,
}

fn worker_binary() -> PathBuf {
    // Test binaries live in target/<profile>/deps, examples in target/<profile>/examples.
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>");
    let path = profile_dir
        .join("examples")
        .join(format!("worker{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build --features remote --example worker` \
         (or run `cargo test --features remote`, which builds examples)",
        path.display()
    );
    path
}

impl WorkerProcess {
    fn start() -> WorkerProcess {
        let mut child = Command::new(worker_binary())
            .args(["--device", "flex", "--port", "0", "--bind", "127.0.0.1"])
            .env_remove("BURN_NAS_DEVICE")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the worker example");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("the worker's first line");
        // "serving flex on ws://127.0.0.1:PORT"
        let url = line
            .trim()
            .rsplit(' ')
            .next()
            .filter(|u| u.starts_with("ws://"))
            .unwrap_or_else(|| panic!("unexpected first line from the worker: {line:?}"))
            .to_string();
        WorkerProcess { child, url }
    }

    fn spec(&self) -> String {
        format!("remote:{}", self.url)
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn estimator(pool: Option<DevicePool>) -> TrainFromScratch<NasRlChild> {
    let device = Device::flex();
    device.seed(1);
    let fidelity = Fidelity {
        epochs: 1,
        data_fraction: 0.5,
        image_size: None,
        channel_scale: 1.0,
        depth_scale: 1.0,
    };
    let estimator = TrainFromScratch::new(
        NasRlChild(NasRlNetConfig::new(10).with_filter_scale(0.5)),
        task(),
        fidelity,
        training(1, 3),
        device,
    )
    .unwrap();
    match pool {
        Some(pool) => estimator.with_pool(pool),
        None => estimator,
    }
}

/// NAS-RL, 2 rounds of 4 children of a 2-layer space, each trained one epoch.
fn history(estimator: impl Estimator<NasRlArch> + 'static) -> Vec<Evaluation> {
    let space = NasRlSpace::with_options(2, &[1, 3], &[1, 3], &[4, 8], None).unwrap();
    let strategy = Reinforce::new(
        space.clone(),
        ReinforceConfig {
            seed: 7,
            ..ReinforceConfig::nas_rl()
        },
        Device::flex(),
    )
    .unwrap();
    let mut config = SearchConfig::multi_trial(2, 4);
    config.quiet = true;
    let mut search = Search::new(&space, strategy, estimator, config).unwrap();
    assert_eq!(search.run().unwrap(), Outcome::BudgetReached);
    search.history().to_vec()
}

fn timeless(m: &Metrics) -> Metrics {
    Metrics {
        seconds: 0.0,
        retries: 0,
        ..m.clone()
    }
}

fn assert_same_history(remote: &[Evaluation], local: &[Evaluation]) {
    assert_eq!(remote.len(), local.len());
    for (r, l) in remote.iter().zip(local) {
        assert_eq!((r.index, &r.arch), (l.index, &l.arch));
        assert_eq!(r.reward, l.reward, "evaluation {}", r.index);
        assert_eq!(r.baseline, l.baseline, "evaluation {}", r.index);
        assert_eq!(
            timeless(&r.metrics),
            timeless(&l.metrics),
            "evaluation {}",
            r.index
        );
    }
}

/// Passes everything to the wrapped estimator, and kills a worker process once the children
/// have trained `kill_after` minibatches in all (the search installs its own progress
/// observer; this one sees every minibatch too).
struct KillAfter<E> {
    inner: E,
    trigger: Arc<Trigger>,
}

struct Trigger {
    batches: AtomicUsize,
    kill_after: usize,
    victim: Mutex<Option<WorkerProcess>>,
    chained: Mutex<Option<Arc<dyn BatchObserver>>>,
}

impl BatchObserver for Trigger {
    fn on_batch(&self, done: usize, total: usize, loss: f64) {
        if self.batches.fetch_add(1, Ordering::SeqCst) + 1 == self.kill_after {
            if let Some(mut victim) = self.victim.lock().unwrap().take() {
                victim.kill();
            }
        }
        if let Some(next) = self.chained.lock().unwrap().as_ref() {
            next.on_batch(done, total, loss);
        }
    }
}

impl<E: Estimator<NasRlArch>> Estimator<NasRlArch> for KillAfter<E> {
    fn estimate(&mut self, arch: &NasRlArch) -> Result<Estimate, EstimatorError> {
        self.inner.estimate(arch)
    }
    fn estimate_child(
        &mut self,
        arch: &NasRlArch,
        parent: Option<&NasRlArch>,
    ) -> Result<Estimate, EstimatorError> {
        self.inner.estimate_child(arch, parent)
    }
    fn estimate_many(
        &mut self,
        children: &[(&NasRlArch, Option<&NasRlArch>)],
    ) -> Result<Vec<Estimate>, EstimatorError> {
        self.inner.estimate_many(children)
    }
    fn parallelism(&self) -> usize {
        self.inner.parallelism()
    }
    fn set_batch_observer(&mut self, observer: Option<Arc<dyn BatchObserver>>) {
        *self.trigger.chained.lock().unwrap() = observer;
        self.inner.set_batch_observer(Some(self.trigger.clone()));
    }
}

#[test]
fn two_worker_processes_give_the_local_sequential_history() {
    let _lock = turn();
    let local = history(estimator(None));
    let (a, b) = (WorkerProcess::start(), WorkerProcess::start());
    let pool = DevicePool::parse(&format!("{},{}", a.spec(), b.spec())).unwrap();
    assert_eq!(pool.len(), 2);
    let remote = history(estimator(Some(pool)));
    assert_eq!(local.len(), 8);
    assert_same_history(&remote, &local);
    assert!(local.iter().any(|e| e.reward != local[0].reward));
    assert!(remote.iter().all(|e| e.metrics.retries == 0));
}

#[test]
fn killing_a_worker_process_mid_search_retries_its_child_on_the_other() {
    let _lock = turn();
    let local = history(estimator(None));
    let a = WorkerProcess::start();
    let b = WorkerProcess::start();
    let pool = DevicePool::parse(&format!("{},{}", a.spec(), b.spec())).unwrap();
    // 300 training images in batches of 50: 6 minibatches per child. Children 0 and 1 start
    // together on a and b; after 3 minibatches in all both are mid-training, and b dies.
    let trigger = Arc::new(Trigger {
        batches: AtomicUsize::new(0),
        kill_after: 3,
        victim: Mutex::new(Some(b)),
        chained: Mutex::new(None),
    });
    let estimator = KillAfter {
        inner: estimator(Some(pool)),
        trigger: trigger.clone(),
    };
    let remote = history(estimator);
    assert!(
        trigger.victim.lock().unwrap().is_none(),
        "the worker was never killed"
    );
    // Nothing lost: every child was trained once, with the result it has anywhere.
    assert_same_history(&remote, &local);
    let retried: usize = remote.iter().map(|e| e.metrics.retries).sum();
    assert_eq!(
        retried,
        1,
        "{:?}",
        remote.iter().map(|e| e.metrics.retries).collect::<Vec<_>>()
    );
    drop(a);
}

#[test]
fn an_unreachable_worker_is_a_typed_error() {
    // A port nobody listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = DevicePool::parse(&format!("remote:ws://127.0.0.1:{port}")).unwrap_err();
    assert!(matches!(err, DeviceError::Connect { .. }), "{err}");
    assert!(err.to_string().contains(&port.to_string()), "{err}");
}
