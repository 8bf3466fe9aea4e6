//! [`TrainFromScratch`]: train each child from scratch at a chosen fidelity (NAS-RL's estimator).

use std::sync::Arc;
use std::time::Instant;

use burn::tensor::Device;
use burn_nas_space::nn::Network;

use crate::error::Result;
use crate::estimate::{BatchObserver, Estimate, Estimator, Metrics, ObserverSlot};
use crate::factory::{ChildFactory, ImageShape};
use crate::fidelity::Fidelity;
use crate::reward::Objective;
use crate::state::EstimatorState;
use crate::task::Task;
use crate::train::{Control, EpochStats, TrainConfig, TrainReport, train_observed};

/// Trains every architecture from scratch at a [`Fidelity`] and rewards its validation
/// accuracy (or another [`Objective`]).
#[derive(Debug)]
pub struct TrainFromScratch<F> {
    factory: F,
    task: Task,
    fidelity: Fidelity,
    training: TrainConfig,
    objective: Objective,
    device: Device,
    count: u64,
    observer: ObserverSlot,
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
        let task = if fidelity.data_fraction < 1.0 || fidelity.image_size.is_some() {
            task.reduced(fidelity.data_fraction, fidelity.image_size, training.seed)?
        } else {
            task.clone()
        };
        Ok(TrainFromScratch {
            factory,
            task,
            fidelity,
            training,
            objective: Objective::default(),
            device,
            count: 0,
            observer: ObserverSlot::default(),
        })
    }

    /// Uses `objective` for rewards.
    pub fn with_objective(mut self, objective: Objective) -> Self {
        self.objective = objective;
        self
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

    pub(crate) fn shape(&self) -> ImageShape {
        ImageShape {
            channels: self.task.channels(),
            size: self.task.image_size(),
            classes: self.task.classes(),
        }
    }

    /// Reward of finished training.
    pub(crate) fn finish(
        &self,
        report: &TrainReport,
        params: usize,
        macs: u64,
        start: Instant,
    ) -> Estimate {
        let metrics = Metrics {
            valid_accuracy: report.final_accuracy(),
            valid_loss: report.curve.last().map(|e| e.valid.loss),
            curve: report.curve.iter().map(|e| e.valid.accuracy).collect(),
            loss_curve: report.curve.iter().map(|e| e.valid.loss).collect(),
            params: Some(params),
            macs: Some(macs),
            epochs: report.curve.len(),
            stopped_early: report.stopped_early,
            epochs_saved: self.fidelity.epochs - report.curve.len(),
            seconds: start.elapsed().as_secs_f64(),
            ..Metrics::default()
        };
        Estimate {
            reward: self.objective.of(&metrics),
            metrics,
        }
    }

    /// The objective.
    pub fn objective(&self) -> &Objective {
        &self.objective
    }
}

impl<F> TrainFromScratch<F> {
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

    /// Builds, optionally transforms (weight inheritance), trains and scores `arch`, asking
    /// `on_epoch` after every epoch whether to continue. Returns the estimate and the trained
    /// network.
    pub(crate) fn run<A>(
        &mut self,
        arch: &A,
        init: impl FnOnce(F::Net) -> (F::Net, bool),
        on_epoch: &mut dyn FnMut(&EpochStats) -> Control,
    ) -> Result<(Estimate, F::Net)>
    where
        F: ChildFactory<A>,
    {
        let start = Instant::now();
        // Each child gets its own seed stream, derived from the run seed and its order.
        let seed = self
            .training
            .seed
            .wrapping_add(self.count.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        self.count += 1;
        self.device.seed(seed);
        let ad = self.device.clone().autodiff();
        ad.seed(seed);
        let net = self.build(arch, &ad)?;
        let (net, inherited) = init(net);
        let params = net.param_count();
        let macs = net.macs();
        let config = TrainConfig {
            seed,
            ..self.training.clone()
        };
        let observer = self.observer.clone();
        let (net, report) = train_observed(
            net,
            &self.task,
            &config,
            &self.device,
            on_epoch,
            &mut |done, total, loss| observer.notify(done, total, loss),
        )?;
        let mut estimate = self.finish(&report, params, macs, start);
        estimate.metrics.inherited = inherited;
        Ok((estimate, net))
    }
}

impl<A, F: ChildFactory<A>> Estimator<A> for TrainFromScratch<F> {
    fn estimate(&mut self, arch: &A) -> Result<Estimate> {
        let (estimate, _) = self.run(arch, |n| (n, false), &mut |_| Control::Continue)?;
        Ok(estimate)
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
