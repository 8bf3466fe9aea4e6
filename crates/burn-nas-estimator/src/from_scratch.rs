//! [`TrainFromScratch`]: train each child from scratch at a chosen fidelity (NAS-RL's estimator),
//! one child at a time or several at once on a [`DevicePool`].

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use burn::tensor::Device;
use burn_nas_backend::{Attempt, DevicePool, TrialExecutor, TrialOutcome, device_rng_guard};
use burn_nas_nn::{Network, ParamValues, import_params, materialize_params};

use crate::curve::EpochwiseEstimator;
use crate::error::{EstimatorError, Result, check_stop};
use crate::estimate::{
    BatchObserver, Compute, Estimate, Estimator, Metrics, ObserverSlot, TrainingRun,
};
use crate::factory::{ChildFactory, ImageShape};
use crate::fidelity::Fidelity;
use crate::reward::Objective;
use crate::state::EstimatorState;
use crate::task::Task;
use crate::train::{Control, EpochStats, TrainConfig, TrainReport, train_device_seeded};

/// One child to train: the architecture and the parent weights it starts from, if any (its
/// sequence number, from which its seed derives, is its position in the batch).
pub(crate) struct Job<'a, A> {
    pub(crate) arch: &'a A,
    pub(crate) inherit: Option<ParamValues>,
}

/// Trains every architecture from scratch at a [`Fidelity`] and rewards its validation
/// accuracy (or another [`Objective`]).
///
/// With [`with_pool`](Self::with_pool), the children of a group are trained concurrently, one
/// worker thread per device, and the estimates come back in proposal order, identical to a
/// sequential run with the same seed (see the method for the one exception).
///
/// ```
/// use burn::tensor::Device;
/// use burn_nas_data::{Augmentation, fashion_mnist};
/// use burn_nas_estimator::{
///     CosineWarmRestarts, Estimator, Fidelity, NasRlChild, Task, TrainConfig, TrainFromScratch,
/// };
/// use burn_nas_nn::NasRlNetConfig;
/// use burn_nas_space::{NasRlSpace, SearchSpace};
/// use rand::SeedableRng;
///
/// // 200 training and 100 validation images of the embedded Fashion-MNIST subset, 14×14.
/// let (train, _) = fashion_mnist::load_embedded()?;
/// let train = train.subset(&(0..300).collect::<Vec<_>>())?;
/// let task = Task::split(train, 100, None)?.reduced(1.0, Some(14), 0)?;
/// let net = NasRlNetConfig::new(task.classes())
///     .with_in_channels(task.channels())
///     .with_image_size(task.image_size());
/// let training = TrainConfig {
///     epochs: 1,
///     batch_size: 50,
///     lr: CosineWarmRestarts::single(0.05, 0.005, 1),
///     augmentation: Augmentation::none(),
///     ..TrainConfig::default()
/// };
/// let mut from_scratch =
///     TrainFromScratch::new(NasRlChild(net), &task, Fidelity::full(1), training, Device::flex())?;
/// let arch = NasRlSpace::new(2)?.sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0))?;
/// let estimate = from_scratch.estimate(&arch)?;
/// assert!((0.0..=1.0).contains(&estimate.reward)); // validation accuracy after 1 epoch
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct TrainFromScratch<F> {
    factory: F,
    task: Task,
    /// Image shape and training images of the task before the fidelity reduced it (the
    /// reference of [`Compute`]).
    full: (ImageShape, usize),
    fidelity: Fidelity,
    training: TrainConfig,
    objective: Objective,
    device: Device,
    count: u64,
    observer: ObserverSlot,
    executor: Option<TrialExecutor>,
}

impl<F> TrainFromScratch<F> {
    /// An estimator training children built by `factory` on `task` at `fidelity`.
    /// `training.epochs` is replaced by the fidelity's; the data subset and downscaling are
    /// applied once here.
    ///
    /// # Errors
    /// Invalid fidelity or training settings, or data errors while reducing the task.
    pub fn new(
        factory: F,
        task: &Task,
        fidelity: Fidelity,
        training: TrainConfig,
        device: Device,
    ) -> Result<Self> {
        fidelity.validate()?;
        let training = TrainConfig {
            epochs: fidelity.epochs,
            ..training
        };
        training.validate()?;
        let full = (
            ImageShape {
                channels: task.channels(),
                size: task.image_size(),
                classes: task.classes(),
            },
            task.train.len(),
        );
        let task = if fidelity.data_fraction < 1.0 || fidelity.image_size.is_some() {
            task.reduced(fidelity.data_fraction, fidelity.image_size, training.seed)?
        } else {
            task.clone()
        };
        Ok(TrainFromScratch {
            factory,
            task,
            full,
            fidelity,
            training,
            objective: Objective::default(),
            device,
            count: 0,
            observer: ObserverSlot::default(),
            executor: None,
        })
    }

    /// Uses `objective` for rewards.
    pub fn with_objective(mut self, objective: Objective) -> Self {
        self.objective = objective;
        self
    }

    /// Trains the children handed to [`Estimator::estimate_many`] concurrently, one worker
    /// thread per device of `pool`; [`Estimator::parallelism`] becomes `pool.len()`. Single
    /// estimates ([`Estimator::estimate`], e.g. derivation) stay on this estimator's device.
    ///
    /// Estimates do not depend on the pool or on thread timing: each child's seed derives from
    /// its position in the sequence of children (assigned in proposal order before dispatch),
    /// and its weights are initialised under a process-wide lock right after seeding the
    /// device. The exception is a child whose *training* draws from the device's generator
    /// (dropout, drop path): burn's generators are per process, so concurrent trials
    /// interleave those draws. Use networks without them (the NAS-RL children's default;
    /// `dropout = 0`, `drop_path_keep = 1` for micro children) when runs must be reproducible.
    ///
    /// When a trial's device fails (the backend panics, e.g. a remote server is lost), that
    /// worker is retired and the child is restarted from scratch on another device, at most
    /// [`DEFAULT_MAX_RETRIES`](burn_nas_backend::DEFAULT_MAX_RETRIES) times; its metrics count
    /// the restarts in `retries`. [`with_executor`](Self::with_executor) sets another limit.
    pub fn with_pool(self, pool: DevicePool) -> Self {
        self.with_executor(TrialExecutor::new(pool))
    }

    /// As [`with_pool`](Self::with_pool), with an executor configured by the caller (its retry
    /// limit; the devices it has already retired stay retired).
    pub fn with_executor(mut self, executor: TrialExecutor) -> Self {
        self.executor = Some(executor);
        self
    }

    /// The device pool, if [`with_pool`](Self::with_pool) set one.
    pub fn pool(&self) -> Option<&DevicePool> {
        self.executor.as_ref().map(TrialExecutor::pool)
    }

    /// Pool indices of the devices retired after a failure (none without a pool).
    pub fn failed_devices(&self) -> Vec<usize> {
        self.executor
            .as_ref()
            .map_or_else(Vec::new, TrialExecutor::failed_devices)
    }

    /// Children estimated so far (the next child's sequence number).
    pub fn children_started(&self) -> u64 {
        self.count
    }

    /// The fidelity.
    pub fn fidelity(&self) -> &Fidelity {
        &self.fidelity
    }

    /// The (reduced) task children are trained on.
    pub fn task(&self) -> &Task {
        &self.task
    }

    /// The training settings.
    pub fn training(&self) -> &TrainConfig {
        &self.training
    }

    /// The device.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The objective.
    pub fn objective(&self) -> &Objective {
        &self.objective
    }

    pub(crate) fn shape(&self) -> ImageShape {
        ImageShape {
            channels: self.task.channels(),
            size: self.task.image_size(),
            classes: self.task.classes(),
        }
    }

    /// The seed of child number `child`: a function of the run seed and the child's position
    /// only, so that any schedule gives every child the same seed.
    fn child_seed(&self, child: u64) -> u64 {
        self.training
            .seed
            .wrapping_add(child.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// Leaves the device generators as a sequential run would after child `child`: freshly
    /// seeded with its seed (training draws nothing more from children without dropout).
    fn reseed_after(&self, child: u64) {
        let seed = self.child_seed(child);
        let _lock = device_rng_guard();
        self.device.seed(seed);
        self.device.clone().autodiff().seed(seed);
        if let Some(pool) = self.pool() {
            pool.seed(seed);
        }
    }

    /// Reward of finished training; `share` is one epoch's cost here over a full-fidelity
    /// epoch's ([`Compute`]); `inherited` when the child started from a parent's weights.
    pub(crate) fn finish(
        &self,
        report: &TrainReport,
        params: usize,
        macs: u64,
        share: f64,
        inherited: bool,
        start: Instant,
    ) -> Estimate {
        let spent = report.curve.len() as f64 * share;
        let metrics = Metrics {
            valid_accuracy: report.final_accuracy(),
            valid_loss: report.curve.last().map(|e| e.valid.loss),
            params: Some(params),
            macs: Some(macs),
            seconds: start.elapsed().as_secs_f64(),
            retries: 0,
            compute: Some(Compute {
                spent,
                saved: self.fidelity.epochs as f64 - spent,
            }),
            training: Some(TrainingRun {
                epochs: report.curve.len(),
                curve: report.curve.iter().map(|e| e.valid.accuracy).collect(),
                loss_curve: report.curve.iter().map(|e| e.valid.loss).collect(),
                inherited,
                stopped_early: report.stopped_early,
                epochs_saved: self.fidelity.epochs - report.curve.len(),
                predicted_accuracy: None,
            }),
        };
        Estimate {
            reward: self.objective.of(&metrics),
            metrics,
        }
    }
}

impl<F> TrainFromScratch<F> {
    /// One epoch's cost at this fidelity over one full-fidelity epoch's: `net`'s MACs × the
    /// training images here, over the full-size, full-width child's MACs × all training
    /// images. Exactly 1 at full fidelity, where nothing else is built.
    fn cost_share<A>(&self, arch: &A, net: &F::Net, device: &Device) -> Result<f64>
    where
        F: ChildFactory<A>,
    {
        let f = &self.fidelity;
        if f.data_fraction >= 1.0
            && f.image_size.is_none()
            && f.channel_scale == 1.0
            && f.depth_scale == 1.0
        {
            return Ok(1.0);
        }
        // Built only to count its multiply-accumulates (under the caller's generator lock,
        // before the child's own seeding, so children draw the same weights as without it).
        let (shape, images) = self.full;
        let full = self.factory.build(arch, shape, 1.0, 1.0, device)?;
        let full_cost = full.macs() as f64 * images as f64;
        let cost = net.macs() as f64 * self.task.train.len() as f64;
        Ok(if full_cost > 0.0 {
            cost / full_cost
        } else {
            1.0
        })
    }

    /// The child network of `arch` at this estimator's fidelity on `device` (untrained).
    pub(crate) fn build<A>(&self, arch: &A, device: &Device) -> Result<F::Net>
    where
        F: ChildFactory<A>,
    {
        Ok(self.factory.build(
            arch,
            self.shape(),
            self.fidelity.channel_scale,
            self.fidelity.depth_scale,
            device,
        )?)
    }

    /// `parent`'s trained parameters carried over to `child` by the factory's
    /// function-preserving transfer, if it has one for this pair.
    pub(crate) fn transfer<A>(
        &self,
        parent: &A,
        child: &A,
        params: &ParamValues,
        seed: u64,
    ) -> Option<ParamValues>
    where
        F: ChildFactory<A>,
    {
        self.factory.transfer(
            parent,
            child,
            params,
            self.shape(),
            self.fidelity.channel_scale,
            seed,
        )
    }

    /// One trial on `device`: seeds, builds, warm-starts from `inherit`, trains and scores
    /// child number `child`. Runs on any thread; `attempt`, for pooled trials, is told of every
    /// minibatch done (where a test's injected fault strikes).
    fn trial<A>(
        &self,
        arch: &A,
        child: u64,
        device: &Device,
        inherit: Option<&ParamValues>,
        on_epoch: &mut dyn FnMut(&EpochStats) -> Control,
        attempt: Option<&Attempt<'_>>,
    ) -> Result<(Estimate, F::Net)>
    where
        F: ChildFactory<A>,
    {
        let start = Instant::now();
        let seed = self.child_seed(child);
        let config = TrainConfig {
            seed,
            ..self.training.clone()
        };
        let (net, inherited, share) = {
            let _lock = device_rng_guard();
            device.seed(seed);
            let ad = device.clone().autodiff();
            ad.seed(seed);
            let net = self.build(arch, &ad)?;
            let share = self.cost_share(arch, &net, device)?;
            let (net, inherited) = match inherit {
                Some(values) => {
                    let (net, report) = import_params(net, values);
                    log::debug!(
                        "child {child} inherited {} of {} parameter tensors",
                        report.copied,
                        report.copied + report.kept.len()
                    );
                    (net, report.copied > 0)
                }
                None => (net, false),
            };
            // The training loop's own seeding, done here under the lock; then the initial
            // weights, drawn now rather than at the first forward pass.
            device.seed(config.seed);
            // burn initialises parameters lazily, at their first use, which would draw the
            // initial weights outside the lock, interleaved with other trials.
            materialize_params(&net);
            (net, inherited, share)
        };
        let params = net.param_count();
        let macs = net.macs();
        let observer = self.observer.clone();
        let (net, report) = train_device_seeded(
            net,
            &self.task,
            &config,
            device,
            on_epoch,
            &mut |done, total, loss| {
                if let Some(attempt) = attempt {
                    attempt.fault_point(done);
                }
                observer.notify(done, total, loss);
            },
        )?;
        let estimate = self.finish(&report, params, macs, share, inherited, start);
        Ok((estimate, net))
    }

    /// Builds, optionally warm-starts (weight inheritance), trains and scores `arch` on this
    /// estimator's device, asking `on_epoch` after every epoch whether to continue. Returns
    /// the estimate and the trained network.
    pub(crate) fn run<A>(
        &mut self,
        arch: &A,
        inherit: Option<&ParamValues>,
        on_epoch: &mut dyn FnMut(&EpochStats) -> Control,
    ) -> Result<(Estimate, F::Net)>
    where
        F: ChildFactory<A>,
    {
        let child = self.count;
        self.count += 1;
        let device = self.device.clone();
        self.trial(arch, child, &device, inherit, on_epoch, None)
    }

    /// Trains `jobs` — concurrently on the pool when there is one, each device taking the
    /// next job as it comes free, else one after the other — each watched by `on_epoch`
    /// (which sees the child's curve so far). Results come back in the order of `jobs`, with
    /// `metrics.retries` set. No job starts once `stop` is set ([`EstimatorError::Interrupted`]).
    pub(crate) fn run_many<A: Sync>(
        &mut self,
        jobs: Vec<Job<'_, A>>,
        on_epoch: &(dyn Fn(&[EpochStats]) -> Control + Sync),
        stop: &AtomicBool,
    ) -> Result<Vec<(Estimate, F::Net)>>
    where
        F: ChildFactory<A> + Sync,
        F::Net: Send,
    {
        // Taken out for the batch, so that the trials can borrow `self`; put back below.
        let Some(mut executor) = self.executor.take() else {
            return jobs
                .iter()
                .map(|job| {
                    check_stop(stop)?;
                    let mut seen = Vec::new();
                    self.run(job.arch, job.inherit.as_ref(), &mut |e| {
                        seen.push(e.clone());
                        on_epoch(&seen)
                    })
                })
                .collect();
        };
        if jobs.is_empty() {
            self.executor = Some(executor);
            return Ok(Vec::new());
        }
        // Sequence numbers (and so seeds) in proposal order, before any dispatch.
        let first = self.count;
        self.count += jobs.len() as u64;
        let this = &*self;
        let report = executor.run_trials(first, jobs.len(), |attempt| {
            // A trial's own error: the pool starts no further trial.
            check_stop(stop)?;
            let job = &jobs[attempt.trial];
            let child = first + attempt.trial as u64;
            let mut seen = Vec::new();
            this.trial(
                job.arch,
                child,
                attempt.device,
                job.inherit.as_ref(),
                &mut |e| {
                    seen.push(e.clone());
                    on_epoch(&seen)
                },
                Some(&attempt),
            )
        });
        let live = executor.live_devices();
        let devices = executor.pool().len();
        self.executor = Some(executor);
        self.reseed_after(first + jobs.len() as u64 - 1);
        // The first failure in proposal order; a child left untrained only when none failed
        // on its own (every device gone).
        let mut out = Vec::with_capacity(jobs.len());
        let mut untrained = None;
        for (j, outcome) in report.outcomes.into_iter().enumerate() {
            let child = first + j as u64;
            match outcome {
                TrialOutcome::Done {
                    value: (mut estimate, net),
                    retries,
                } => {
                    estimate.metrics.retries = retries;
                    out.push((estimate, net));
                }
                TrialOutcome::Failed(e) => return Err(e),
                TrialOutcome::DeviceFailed {
                    device,
                    attempts,
                    message,
                } => {
                    return Err(EstimatorError::DeviceFailed {
                        child,
                        device,
                        attempts,
                        message,
                    });
                }
                TrialOutcome::NotRun => {
                    untrained.get_or_insert(child);
                }
            }
        }
        match untrained {
            Some(child) => Err(EstimatorError::NoDevice(format!(
                "child {child} was not trained: every device failed ({} of {devices})",
                devices - live
            ))),
            None => Ok(out),
        }
    }
}

impl<A: Sync, F: ChildFactory<A> + Sync> Estimator<A> for TrainFromScratch<F>
where
    F::Net: Send,
{
    fn estimate(&mut self, arch: &A) -> Result<Estimate> {
        let (estimate, _) = self.run(arch, None, &mut |_| Control::Continue)?;
        Ok(estimate)
    }

    /// Concurrently on the pool, if there is one.
    fn estimate_many(
        &mut self,
        children: &[(&A, Option<&A>)],
        stop: &AtomicBool,
    ) -> Result<Vec<Estimate>> {
        self.estimate_many_watched(children, &|_| Control::Continue, stop)
    }

    /// The pool's size (1 without a pool).
    fn parallelism(&self) -> usize {
        self.pool().map_or(1, DevicePool::len)
    }

    fn name(&self) -> &'static str {
        "train-from-scratch"
    }

    fn save_state(&self) -> Result<EstimatorState> {
        EstimatorState::json(&self.count)
    }

    fn load_state(&mut self, state: &EstimatorState) -> Result<()> {
        self.count = state.parse("train-from-scratch state (children trained)")?;
        Ok(())
    }

    fn set_batch_observer(&mut self, observer: Option<Arc<dyn BatchObserver>>) {
        self.observer = ObserverSlot(observer);
    }
}
