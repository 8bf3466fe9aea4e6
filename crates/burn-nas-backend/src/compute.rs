//! [`join_compute_pool`]: the calling thread becomes a rayon worker, so that burn's `flex` ops
//! start their parallel pieces on it instead of handing every op to other threads.
//!
//! burn's `flex` backend splits its ops over rayon's thread pool. Called from a thread that is
//! not one of the pool's workers (a program's main thread), every op hands its pieces to the
//! workers and sleeps until they are done; at the sizes a search runs (a 32-image batch of a
//! small supernet) those hand-offs cost about as much as the arithmetic (measured in
//! `docs/performance.md`, "The main command's sizes on this machine, and ops on a worker
//! thread"). A thread that is a worker runs an op's first piece itself and
//! hands a piece over only when another worker is idle to take it.
//!
//! The thread joins a pool of its own, built with rayon's `use_current_thread`, so the work
//! stays on the calling thread. That matters beyond speed: running each step of a training run
//! on whichever worker of a pool took it (`ThreadPool::install`) made results differ between
//! runs.

use std::cell::{Cell, RefCell};

use rayon::{ThreadPool, ThreadPoolBuilder};

thread_local! {
    /// The pool this thread joined; kept for the thread's life (dropping it would end the
    /// other workers).
    static JOINED: RefCell<Option<ThreadPool>> = const { RefCell::new(None) };
    /// Set on the worker threads of [`DevicePool::run_trials`](crate::DevicePool::run_trials):
    /// they share the cores with each other and keep rayon's global pool.
    static TRIAL_WORKER: Cell<bool> = const { Cell::new(false) };
}

/// Makes the calling thread worker 0 of a rayon pool of its own, with as many threads as
/// rayon's global pool (`RAYON_NUM_THREADS`, or the cores), for the rest of the thread's life.
/// From then on every rayon operation called on this thread — burn `flex` ops included — runs
/// in that pool, starting on this thread. Does nothing on a thread that already is a rayon
/// worker, on a trial worker of a [`DevicePool`](crate::DevicePool), or when the global pool
/// has one thread. The training loops and the shared-weight search call it; results do not
/// change (the pool has the global pool's size, and the work stays on this thread).
///
/// ```
/// burn_nas_backend::join_compute_pool();
/// if rayon::current_num_threads() > 1 {
///     assert_eq!(rayon::current_thread_index(), Some(0));
/// }
/// ```
pub fn join_compute_pool() {
    if rayon::current_thread_index().is_some() || TRIAL_WORKER.get() {
        return;
    }
    let threads = rayon::current_num_threads();
    if threads <= 1 {
        return;
    }
    let built = ThreadPoolBuilder::new()
        .num_threads(threads)
        .use_current_thread()
        .thread_name(|i| format!("burn-nas-compute-{i}"))
        .build();
    match built {
        Ok(pool) => JOINED.set(Some(pool)),
        Err(e) => log::warn!("this thread keeps handing its ops to rayon's pool ({e})"),
    }
}

/// Marks the calling thread as a trial worker of a device pool ([`join_compute_pool`] leaves
/// it as it is).
pub(crate) fn mark_trial_worker() {
    TRIAL_WORKER.set(true);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_joins_a_pool_of_the_global_size_and_trial_workers_do_not() {
        let global = rayon::current_num_threads();
        std::thread::spawn(move || {
            join_compute_pool();
            join_compute_pool(); // once is enough
            assert_eq!(rayon::current_num_threads(), global);
            assert_eq!(rayon::current_thread_index().is_some(), global > 1);
        })
        .join()
        .unwrap();
        std::thread::spawn(|| {
            mark_trial_worker();
            join_compute_pool();
            assert_eq!(rayon::current_thread_index(), None);
        })
        .join()
        .unwrap();
    }
}
