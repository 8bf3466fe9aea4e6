//! [`DevicePool::run_trials`]: one batch of trials — a queue, one worker thread per live
//! device, retries on another device when one fails. [`TrialExecutor`](crate::TrialExecutor)
//! keeps what outlives a batch.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Condvar, Mutex};

use burn::tensor::Device;

use crate::DevicePool;

/// One attempt at one trial, as the pool hands it to the trial function.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// The trial's index in the batch.
    pub trial: usize,
    /// Attempts at this trial before this one (0 for the first).
    pub retry: usize,
    /// The pool index of the device it runs on.
    pub worker: usize,
    /// The device.
    pub device: &'a Device,
    /// Steps after which this attempt fails ([`FaultInjection`](crate::FaultInjection)).
    pub(crate) fault_after: Option<usize>,
}

impl Attempt<'_> {
    /// Where a trial reports that `steps_done` of its steps (e.g. training minibatches) are
    /// done. Does nothing unless a test injected a fault into this attempt
    /// ([`TrialExecutor::with_fault_injection`](crate::TrialExecutor)); then, once more steps
    /// than the fault allows are done, it panics as a failing device would.
    pub fn fault_point(&self, steps_done: usize) {
        if self.fault_after.is_some_and(|n| steps_done > n) {
            std::panic::resume_unwind(Box::new(format!(
                "injected fault after {} steps",
                steps_done - 1
            )));
        }
    }
}

/// How one trial of a batch ended.
#[derive(Debug)]
pub enum TrialOutcome<T, E> {
    /// It ran; `retries` attempts failed on devices before.
    Done {
        /// The trial function's value.
        value: T,
        /// Device failures before this success.
        retries: usize,
    },
    /// The trial function returned an error: the trial's own fault, not retried, and the
    /// batch stopped taking new trials.
    Failed(E),
    /// Its device failed (the trial function panicked) on its last allowed attempt.
    DeviceFailed {
        /// The label of the device of the last attempt.
        device: String,
        /// Attempts made.
        attempts: usize,
        /// The panic's message.
        message: String,
    },
    /// Never finished: the batch was stopped by another trial's error, or no live device was
    /// left to run it.
    NotRun,
}

/// What [`DevicePool::run_trials`] reports: one outcome per trial, in order, and the pool
/// indices of the devices that failed during the batch (retire them for later batches).
#[derive(Debug)]
pub struct TrialsReport<T, E> {
    /// One outcome per trial, in the order of the trials.
    pub outcomes: Vec<TrialOutcome<T, E>>,
    /// Pool indices of the devices that failed.
    pub failed_devices: Vec<usize>,
}

/// What the workers of one batch share.
struct Board<T, E> {
    /// Trials not started yet (index, attempts so far), in order.
    queue: VecDeque<(usize, usize)>,
    outcomes: Vec<TrialOutcome<T, E>>,
    retries: Vec<usize>,
    dead: Vec<usize>,
    /// A trial's own error ended the batch: take no new trial.
    abort: bool,
    /// Trials running right now. A worker with an empty queue waits while this is not zero: a
    /// failing device puts its trial back, and someone must be there to take it.
    in_flight: usize,
}

/// The message of a panic payload (`&str`, `String`, or a generic one).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "the worker panicked".to_string()
    }
}

impl DevicePool {
    /// Runs `trials` trials on the pool's devices whose entry in `alive` is true (all of
    /// them when `alive` is shorter), one worker thread per device, each taking the next trial
    /// in order. A trial function that **panics** is a device failure (a crashed worker
    /// process, a lost GPU): the device is retired for the rest of the batch and the trial goes
    /// back to the front of the queue, at most `max_retries` times. A trial function that
    /// **returns an error** is the trial's own fault: not retried, and no new trial starts.
    ///
    /// ```
    /// use burn_nas_backend::{DevicePool, TrialOutcome};
    /// # #[cfg(feature = "flex")] {
    /// let pool: DevicePool = "flex,flex".parse().unwrap();
    /// let report = pool.run_trials(4, &[], 1, |a| -> Result<usize, String> {
    ///     if a.trial == 2 && a.retry == 0 {
    ///         panic!("device lost");
    ///     }
    ///     Ok(a.trial * 10)
    /// });
    /// assert!(matches!(report.outcomes[2], TrialOutcome::Done { value: 20, retries: 1 }));
    /// assert_eq!(report.failed_devices.len(), 1);
    /// # }
    /// ```
    pub fn run_trials<T: Send, E: Send>(
        &self,
        trials: usize,
        alive: &[bool],
        max_retries: usize,
        trial: impl Fn(Attempt<'_>) -> Result<T, E> + Sync,
    ) -> TrialsReport<T, E> {
        let board = Mutex::new(Board {
            queue: (0..trials).map(|j| (j, 0)).collect(),
            outcomes: (0..trials).map(|_| TrialOutcome::NotRun).collect(),
            retries: vec![0; trials],
            dead: Vec::new(),
            abort: false,
            in_flight: 0,
        });
        let changed = Condvar::new();
        std::thread::scope(|scope| {
            for (w, device) in self.devices().iter().enumerate() {
                if !alive.get(w).copied().unwrap_or(true) {
                    continue;
                }
                let (board, changed, trial) = (&board, &changed, &trial);
                let label = self.label(w);
                scope.spawn(move || {
                    crate::compute::mark_trial_worker();
                    worker(w, device, label, max_retries, (board, changed), trial);
                });
            }
        });
        let board = board.into_inner().unwrap_or_else(|e| e.into_inner());
        TrialsReport {
            outcomes: board.outcomes,
            failed_devices: board.dead,
        }
    }
}

/// The loop of worker `w`: takes the next trial, runs it on `device`, until every trial is
/// done, the batch is aborted, or this worker's device fails. `changed` is signalled whenever
/// a trial ends, so that idle workers wake to take a trial a failed device put back.
fn worker<T, E>(
    w: usize,
    device: &Device,
    label: &str,
    max_retries: usize,
    (board, changed): (&Mutex<Board<T, E>>, &Condvar),
    trial: &(impl Fn(Attempt<'_>) -> Result<T, E> + Sync),
) {
    let lock = || board.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let (j, retry) = {
            let mut b = lock();
            loop {
                if b.abort {
                    return;
                }
                if let Some(next) = b.queue.pop_front() {
                    b.in_flight += 1;
                    break next;
                }
                if b.in_flight == 0 {
                    return;
                }
                b = changed.wait(b).unwrap_or_else(|e| e.into_inner());
            }
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            trial(Attempt {
                trial: j,
                retry,
                worker: w,
                device,
                fault_after: None,
            })
        }));
        let mut b = lock();
        b.in_flight -= 1;
        // Whatever happened, idle workers re-check the queue and the abort flag.
        changed.notify_all();
        match outcome {
            Ok(Ok(value)) => {
                let retries = b.retries[j];
                b.outcomes[j] = TrialOutcome::Done { value, retries };
            }
            Ok(Err(e)) => {
                b.outcomes[j] = TrialOutcome::Failed(e);
                b.abort = true;
                return;
            }
            Err(payload) => {
                let message = panic_message(payload.as_ref());
                b.dead.push(w);
                if retry < max_retries {
                    log::warn!(
                        "device {w} (`{label}`) failed during trial {j}: {message}; the device \
                         is retired and the trial restarts on another one"
                    );
                    b.retries[j] += 1;
                    b.queue.push_front((j, retry + 1));
                } else {
                    b.outcomes[j] = TrialOutcome::DeviceFailed {
                        device: label.to_string(),
                        attempts: retry + 1,
                        message,
                    };
                    b.abort = true;
                }
                return;
            }
        }
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;

    fn pool(list: &str) -> DevicePool {
        list.parse().unwrap()
    }

    #[test]
    fn outcomes_come_back_in_order_and_a_trial_error_stops_the_batch() {
        let report = pool("flex,flex").run_trials(6, &[], 2, |a| -> Result<usize, String> {
            Ok(a.trial + 100)
        });
        let values: Vec<usize> = report
            .outcomes
            .iter()
            .map(|o| match o {
                TrialOutcome::Done { value, retries: 0 } => *value,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(values, (100..106).collect::<Vec<_>>());
        assert!(report.failed_devices.is_empty());
        // One worker: trial 1's error stops it before trial 2 starts.
        let report = pool("flex").run_trials(4, &[], 2, |a| -> Result<usize, String> {
            if a.trial == 1 {
                Err("bad architecture".into())
            } else {
                Ok(a.trial)
            }
        });
        assert!(matches!(
            report.outcomes[0],
            TrialOutcome::Done { value: 0, .. }
        ));
        assert!(matches!(&report.outcomes[1], TrialOutcome::Failed(e) if e == "bad architecture"));
        assert!(matches!(report.outcomes[2], TrialOutcome::NotRun));
    }

    #[test]
    fn failed_devices_are_retired_and_retries_bounded() {
        // Every attempt panics: two devices, each fails once, then nothing is left.
        let report = pool("flex,flex").run_trials(1, &[], 5, |_| -> Result<(), String> {
            std::panic::resume_unwind(Box::new("lost".to_string()))
        });
        let mut dead = report.failed_devices.clone();
        dead.sort_unstable();
        assert_eq!(dead, [0, 1]);
        assert!(matches!(report.outcomes[0], TrialOutcome::NotRun));
        // No retry allowed: the failure is the outcome, with its message.
        let report = pool("flex,flex").run_trials(1, &[], 0, |_| -> Result<(), String> {
            std::panic::resume_unwind(Box::new("lost".to_string()))
        });
        assert!(matches!(
            &report.outcomes[0],
            TrialOutcome::DeviceFailed { attempts: 1, message, .. } if message == "lost"
        ));
        // A device retired earlier takes no trial.
        let report = pool("flex,flex").run_trials(3, &[false, true], 0, |a| -> Result<usize, ()> {
            Ok(a.worker)
        });
        assert!(
            report
                .outcomes
                .iter()
                .all(|o| matches!(o, TrialOutcome::Done { value: 1, .. }))
        );
    }
}
