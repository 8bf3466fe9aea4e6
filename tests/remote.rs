//! Several machines: two `worker` example processes on loopback serve `flex` through burn's
//! remote backend; a multi-trial search trains its children on them and gets exactly the
//! history of a local sequential run; killing one worker process mid-search retries its child
//! on the other, records the retry, and changes nothing else.
//!
//! Needs the `remote` feature and the `worker` example built beside this test binary
//! (`cargo test --features remote` builds both).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use burn_nas::backend::{DeviceError, DevicePool};
use burn_nas::estimator::{BatchObserver, Estimate};
use burn_nas::prelude::*;

mod support;
use support::{assert_same_history, example_binary, nas_rl_estimator, nas_rl_history, turn};

/// A `worker` example process serving `flex` on a free loopback port.
struct WorkerProcess {
    child: Child,
    url: String,
}

impl WorkerProcess {
    fn start() -> WorkerProcess {
        let mut child = Command::new(example_binary("worker"))
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
        if self.batches.fetch_add(1, Ordering::SeqCst) + 1 == self.kill_after
            && let Some(mut victim) = self.victim.lock().unwrap().take()
        {
            victim.kill();
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
        stop: &std::sync::atomic::AtomicBool,
    ) -> Result<Vec<Estimate>, EstimatorError> {
        self.inner.estimate_many(children, stop)
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
    let local = nas_rl_history(nas_rl_estimator(None, 1));
    let (a, b) = (WorkerProcess::start(), WorkerProcess::start());
    let pool = format!("{},{}", a.spec(), b.spec());
    assert_eq!(DevicePool::parse(&pool).unwrap().len(), 2);
    let remote = nas_rl_history(nas_rl_estimator(Some(&pool), 1));
    assert_eq!(local.len(), 8);
    assert_same_history(&remote, &local);
    assert!(local.iter().any(|e| e.reward != local[0].reward));
    assert!(remote.iter().all(|e| e.metrics.retries == 0));
}

#[test]
fn killing_a_worker_process_mid_search_retries_its_child_on_the_other() {
    let _lock = turn();
    let local = nas_rl_history(nas_rl_estimator(None, 1));
    let a = WorkerProcess::start();
    let b = WorkerProcess::start();
    let pool = format!("{},{}", a.spec(), b.spec());
    // 300 training images in batches of 50: 6 minibatches per child. Children 0 and 1 start
    // together on a and b; after 3 minibatches in all both are mid-training, and b dies.
    let trigger = Arc::new(Trigger {
        batches: AtomicUsize::new(0),
        kill_after: 3,
        victim: Mutex::new(Some(b)),
        chained: Mutex::new(None),
    });
    let estimator = KillAfter {
        inner: nas_rl_estimator(Some(&pool), 1),
        trigger: trigger.clone(),
    };
    let remote = nas_rl_history(estimator);
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
