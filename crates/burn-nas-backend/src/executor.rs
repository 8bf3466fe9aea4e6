//! [`TrialExecutor`]: a [`DevicePool`] with the state that outlives one batch of trials — which
//! devices are still alive, how often a trial may be retried, and (for tests) an injected
//! fault.

use crate::DevicePool;
use crate::trials::{Attempt, TrialsReport};

/// Default of [`TrialExecutor::with_max_retries`].
pub const DEFAULT_MAX_RETRIES: usize = 2;

/// A test hook that makes a worker fail mid-trial, as a crashed worker process or a lost GPU
/// would: the first attempt at trial `trial` (the id the caller numbers its trials with, e.g. a
/// from-scratch estimator's child number) panics at its [`Attempt::fault_point`] once
/// `after_steps` steps are done. The worker that ran it is retired and the trial is retried on
/// another device.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultInjection {
    /// The trial whose first attempt fails.
    pub trial: u64,
    /// Steps done before the failure (0: fails at the first fault point).
    pub after_steps: usize,
}

/// The execution engine of multi-trial searches: runs batches of trials on a [`DevicePool`]
/// ([`DevicePool::run_trials`]), retires the devices that fail for every later batch, and
/// bounds the retries of one trial.
///
/// Estimators that train many children own one (e.g. `TrainFromScratch::with_executor` in
/// `burn-nas-estimator`); they say *what* a trial is, the executor *where* and *how often*
/// it runs.
///
/// ```
/// use burn_nas_backend::{DevicePool, TrialExecutor, TrialOutcome};
/// # #[cfg(feature = "flex")] {
/// let mut executor = TrialExecutor::new("flex,flex".parse::<DevicePool>().unwrap());
/// let report = executor.run_trials(0, 3, |a| -> Result<usize, String> {
///     if a.trial == 1 && a.retry == 0 {
///         panic!("device lost");
///     }
///     Ok(a.trial)
/// });
/// assert!(matches!(report.outcomes[1], TrialOutcome::Done { value: 1, retries: 1 }));
/// // The failed device takes no trial of later batches.
/// assert_eq!(executor.failed_devices().len(), 1);
/// assert_eq!(executor.live_devices(), 1);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TrialExecutor {
    pool: DevicePool,
    alive: Vec<bool>,
    max_retries: usize,
    fault: Option<FaultInjection>,
}

impl TrialExecutor {
    /// An executor running trials on every device of `pool`, each trial retried at most
    /// [`DEFAULT_MAX_RETRIES`] times after a device failure.
    pub fn new(pool: DevicePool) -> Self {
        TrialExecutor {
            alive: vec![true; pool.len()],
            pool,
            max_retries: DEFAULT_MAX_RETRIES,
            fault: None,
        }
    }

    /// At most `retries` restarts of one trial on another device after its device failed
    /// (default [`DEFAULT_MAX_RETRIES`]). Only device failures (panics) are retried: a trial
    /// that returns an error is not.
    pub fn with_max_retries(mut self, retries: usize) -> Self {
        self.max_retries = retries;
        self
    }

    /// Test hook: makes one trial's first attempt fail mid-trial (see [`FaultInjection`]).
    #[doc(hidden)]
    pub fn with_fault_injection(mut self, fault: FaultInjection) -> Self {
        self.fault = Some(fault);
        self
    }

    /// The device pool.
    pub fn pool(&self) -> &DevicePool {
        &self.pool
    }

    /// The most restarts of one trial.
    pub fn max_retries(&self) -> usize {
        self.max_retries
    }

    /// Pool indices of the devices retired after a failure.
    pub fn failed_devices(&self) -> Vec<usize> {
        self.alive
            .iter()
            .enumerate()
            .filter(|(_, alive)| !**alive)
            .map(|(i, _)| i)
            .collect()
    }

    /// Devices still taking trials.
    pub fn live_devices(&self) -> usize {
        self.alive.iter().filter(|alive| **alive).count()
    }

    /// Runs `trials` trials on the live devices ([`DevicePool::run_trials`]), trial `j` under
    /// the id `first_id + j` (what a [`FaultInjection`] names), and retires the devices that
    /// failed. A trial function reports its progress through [`Attempt::fault_point`] so that
    /// an injected fault can strike mid-trial.
    pub fn run_trials<T: Send, E: Send>(
        &mut self,
        first_id: u64,
        trials: usize,
        trial: impl Fn(Attempt<'_>) -> Result<T, E> + Sync,
    ) -> TrialsReport<T, E> {
        let fault = self.fault;
        let report = self
            .pool
            .run_trials(trials, &self.alive, self.max_retries, |mut attempt| {
                attempt.fault_after = fault
                    .filter(|f| f.trial == first_id + attempt.trial as u64 && attempt.retry == 0)
                    .map(|f| f.after_steps);
                trial(attempt)
            });
        for &w in &report.failed_devices {
            self.alive[w] = false;
        }
        report
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;
    use crate::TrialOutcome;

    #[test]
    fn an_injected_fault_strikes_its_trial_once_and_the_device_stays_retired() {
        let pool: DevicePool = "flex,flex".parse().unwrap();
        let mut executor = TrialExecutor::new(pool).with_fault_injection(FaultInjection {
            trial: 7,
            after_steps: 2,
        });
        let steps = |a: Attempt<'_>| -> Result<usize, String> {
            for done in 1..=4 {
                a.fault_point(done);
            }
            Ok(a.worker)
        };
        // Ids 5 and 6: the fault names neither.
        let report = executor.run_trials(5, 2, steps);
        assert!(report.failed_devices.is_empty());
        // Ids 6, 7, 8: id 7 fails on its first attempt and runs again elsewhere.
        let report = executor.run_trials(6, 3, steps);
        let retries: Vec<usize> = report
            .outcomes
            .iter()
            .map(|o| match o {
                TrialOutcome::Done { retries, .. } => *retries,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(retries, [0, 1, 0]);
        let dead = executor.failed_devices();
        assert_eq!(dead.len(), 1);
        // The next batch runs only on the survivor.
        let report = executor.run_trials(9, 3, steps);
        assert!(
            report.outcomes.iter().all(
                |o| matches!(o, TrialOutcome::Done { value, retries: 0 } if *value != dead[0])
            )
        );
        assert_eq!(executor.live_devices(), 1);
    }
}
