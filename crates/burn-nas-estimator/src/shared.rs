//! [`SharedWeights`]: ENAS one-shot estimation — one supernet trained on sampled
//! architectures, every architecture scored with the shared weights.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::tensor::{Device, Int, Tensor};
use burn_nas_backend::{is_flex, join_compute_pool};
use burn_nas_data::{Batcher, LastBatch, epoch_batches};
use burn_nas_nn::{MacroSupernet, MicroSupernet, Mode, NetError, move_to_device};
use burn_nas_space::{MacroArch, MicroArch};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::error::{Result, check_stop, invalid};
use crate::estimate::{BatchObserver, Compute, Estimate, Estimator, Metrics, ObserverSlot};
use crate::reward::Objective;
use crate::state::{
    EstimatorState, load_optimizer, module_from_bytes, module_to_bytes, save_optimizer,
};
use crate::task::Task;
use crate::train::{TrainConfig, correct, cross_entropy, descend, finite_loss, training_batch};

/// A weight-sharing network: runs any architecture of its space with the shared weights.
pub trait Supernet<A>: Module {
    /// Logits of `arch`'s path.
    ///
    /// # Errors
    /// `arch` is not in the supernet's space.
    fn forward_arch(&self, images: Tensor<4>, arch: &A, mode: Mode) -> Result<Tensor<2>, NetError>;
}

impl Supernet<MicroArch> for MicroSupernet {
    fn forward_arch(
        &self,
        images: Tensor<4>,
        arch: &MicroArch,
        mode: Mode,
    ) -> Result<Tensor<2>, NetError> {
        self.forward(images, arch, mode)
    }
}

impl Supernet<MacroArch> for MacroSupernet {
    fn forward_arch(
        &self,
        images: Tensor<4>,
        arch: &MacroArch,
        mode: Mode,
    ) -> Result<Tensor<2>, NetError> {
        self.forward(images, arch, mode)
    }
}

/// ENAS's performance estimator. `prepare` trains the shared weights for one epoch with a
/// freshly sampled architecture per minibatch (SGD, Nesterov, cosine warm restarts, weight
/// decay, global norm clipping, augmentation: [`TrainConfig`]); `estimate` returns the accuracy
/// of an architecture on the next validation minibatch (cycling through the validation split)
/// with the shared weights, without autodiff. Batch norm uses batch statistics while scoring,
/// as the reference code does ([`Mode::SCORE`]); [`with_eval_bn`](Self::with_eval_bn) switches
/// to running statistics.
///
/// ```
/// use burn::tensor::Device;
/// use burn_nas_data::{Augmentation, fashion_mnist};
/// use burn_nas_estimator::{CosineWarmRestarts, Estimator, SharedWeights, Task, TrainConfig};
/// use burn_nas_nn::MicroSupernetConfig;
/// use burn_nas_space::{MicroOp, MicroSpace, SearchSpace};
/// use rand::SeedableRng;
///
/// // 200 training and 100 validation images of the embedded Fashion-MNIST subset, 14×14.
/// let (train, _) = fashion_mnist::load_embedded()?;
/// let train = train.subset(&(0..300).collect::<Vec<_>>())?;
/// let task = Task::split(train, 100, None)?.reduced(1.0, Some(14), 0)?;
/// let space = MicroSpace::new(2, &MicroOp::ALL)?;
/// let device = Device::flex();
/// let supernet = MicroSupernetConfig::new(task.classes())
///     .with_in_channels(task.channels())
///     .with_image_size(task.image_size())
///     .with_layers(1)
///     .with_channels(4)
///     .init(&space, &device.clone().autodiff())?;
/// let training = TrainConfig {
///     epochs: 1,
///     batch_size: 50,
///     lr: CosineWarmRestarts::single(0.05, 0.005, 1),
///     augmentation: Augmentation::none(),
///     ..TrainConfig::default()
/// };
/// let mut shared = SharedWeights::new(supernet, &task, training, 50, device)?;
/// // One epoch of the shared weights, a random cell per minibatch (a strategy's sampler in a
/// // search), then any cell is scored with them.
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// shared.prepare(&mut || Ok(space.sample(&mut rng)?))?;
/// let cell = space.sample(&mut rng)?;
/// let estimate = shared.estimate(&cell)?;
/// assert!((0.0..=1.0).contains(&estimate.reward));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SharedWeights<S> {
    supernet: Option<S>,
    scorer: Option<S>,
    optimizer: ModuleOptimizer,
    task: Task,
    training: TrainConfig,
    device: Device,
    train_batcher: Batcher,
    eval_batcher: Batcher,
    rng: ChaCha8Rng,
    epoch: usize,
    valid_batch_size: usize,
    valid_cursor: usize,
    score_mode: Mode,
    objective: Objective,
    observer: ObserverSlot,
    /// Supernet epochs not yet booked on an estimate's [`Compute`].
    unbooked_epochs: usize,
}

impl<S: std::fmt::Debug> std::fmt::Debug for SharedWeights<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedWeights")
            .field("epoch", &self.epoch)
            .field("training", &self.training)
            .field("valid_batch_size", &self.valid_batch_size)
            .field("score_mode", &self.score_mode)
            .finish_non_exhaustive()
    }
}

impl<S: Module> SharedWeights<S> {
    /// Shares the weights of `supernet` (built on `device.autodiff()`), trained with `training`
    /// on `task.train` and scored on minibatches of `valid_batch_size` validation images.
    ///
    /// # Errors
    /// Invalid settings.
    pub fn new(
        supernet: S,
        task: &Task,
        training: TrainConfig,
        valid_batch_size: usize,
        device: Device,
    ) -> Result<Self> {
        training.validate()?;
        if valid_batch_size == 0 {
            return Err(invalid("valid_batch_size", "must be at least 1"));
        }
        let ad = device.clone().autodiff();
        Ok(SharedWeights {
            supernet: Some(move_to_device(supernet, &ad)),
            scorer: None,
            optimizer: training.optimizer(),
            train_batcher: Batcher::new(task.normalization.clone(), ad),
            eval_batcher: Batcher::new(task.normalization.clone(), device.clone()),
            rng: ChaCha8Rng::seed_from_u64(training.seed),
            task: task.clone(),
            training,
            device,
            epoch: 0,
            valid_batch_size,
            valid_cursor: 0,
            score_mode: Mode::SCORE,
            objective: Objective::default(),
            unbooked_epochs: 0,
            observer: ObserverSlot::default(),
        })
    }

    /// Scores with running batch-norm statistics instead of batch statistics.
    pub fn with_eval_bn(mut self) -> Self {
        self.score_mode = Mode::EVAL;
        self
    }

    /// Uses `objective` for rewards (default: validation accuracy).
    ///
    /// # Errors
    /// [`EstimatorError::InvalidSetting`](crate::EstimatorError::InvalidSetting) naming
    /// `objective.penalty` for an objective with a size penalty: shared weights measure no
    /// child's parameters or multiply-accumulates, so the penalty could never act.
    pub fn with_objective(mut self, objective: Objective) -> Result<Self> {
        if objective.penalty.is_some() {
            return Err(invalid(
                "objective.penalty",
                "shared weights measure no child's parameters or MACs, so a size penalty \
                 would never act; penalise sizes with an estimator that trains children",
            ));
        }
        self.objective = objective;
        Ok(self)
    }

    /// Shared-weight epochs trained so far.
    pub fn epochs(&self) -> usize {
        self.epoch
    }

    /// The supernet (on the autodiff device).
    pub fn supernet(&self) -> Option<&S> {
        self.supernet.as_ref()
    }

    fn scorer(&mut self) -> Option<&S> {
        if self.scorer.is_none() {
            self.scorer = self.supernet.as_ref().map(Module::valid);
        }
        self.scorer.as_ref()
    }
}

impl<S: Module> SharedWeights<S> {
    /// Trains the shared weights for one epoch, sampling a new architecture per minibatch.
    ///
    /// # Errors
    /// Sampling, data, or divergence errors.
    pub fn train_epoch<A>(&mut self, sampler: &mut dyn FnMut() -> Result<A>) -> Result<f64>
    where
        S: Supernet<A>,
    {
        join_compute_pool();
        let batches = epoch_batches(
            self.task.train.len(),
            self.training.batch_size,
            Some(&mut self.rng),
            LastBatch::Drop,
        )?;
        let steps = batches.len().max(1);
        // Dropout draws from the device's generator: seeding it per epoch makes every epoch
        // reproducible on its own, so a resumed search continues exactly.
        let epoch_seed = self
            .training
            .seed
            .wrapping_add((self.epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        self.device.seed(epoch_seed);
        self.device.clone().autodiff().seed(epoch_seed);
        let mut net = self
            .supernet
            .take()
            .ok_or_else(|| invalid("supernet", "lost after a failed step"))?;
        self.scorer = None;
        let mut loss_sum = 0.0;
        for (step, indices) in batches.iter().enumerate() {
            let arch = sampler()?;
            let (x, y) = training_batch(
                &self.training,
                &self.train_batcher,
                &self.task.train,
                indices,
                &mut self.rng,
            )?;
            let logits = net.forward_arch(x, &arch, Mode::TRAIN)?;
            let loss = cross_entropy(logits, y);
            let value = f64::from(finite_loss(&loss, self.epoch, step)?);
            self.observer.notify(step + 1, steps, value);
            loss_sum += value;
            let lr = self
                .training
                .lr
                .at(self.epoch as f64 + step as f64 / steps as f64);
            net = descend(net, loss, &self.training, &mut self.optimizer, lr);
        }
        self.supernet = Some(net);
        self.epoch += 1;
        Ok(loss_sum / steps as f64)
    }

    /// The next validation minibatch's indices, cycling through the validation split.
    fn next_valid_indices(&mut self) -> Vec<usize> {
        let n = self.task.valid.len();
        let size = self.valid_batch_size.min(n);
        if self.valid_cursor + size > n {
            self.valid_cursor = 0;
        }
        let indices = (self.valid_cursor..self.valid_cursor + size).collect();
        self.valid_cursor += size;
        indices
    }

    /// Scores `archs` with the shared weights, each on the next validation minibatch in turn.
    /// On the CPU (`flex`) several run as parallel tasks of rayon's pool, one scorer clone each
    /// (the networks' own kernels nest in the same pool, so a task that finishes early helps
    /// the others): at the search's sizes (a 128-image batch of a small supernet) one forward
    /// pass cannot keep two cores busy by itself; two at once do. One architecture, and every
    /// other device, run on the calling thread, one after the other.
    fn score<A: Sync>(&mut self, archs: &[&A]) -> Result<Vec<Estimate>>
    where
        S: Supernet<A>,
    {
        join_compute_pool();
        let mut jobs = Vec::with_capacity(archs.len());
        for arch in archs {
            let indices = self.next_valid_indices();
            let (x, y) = self.eval_batcher.batch(&self.task.valid, &indices, None)?;
            jobs.push((*arch, x, y, indices.len()));
        }
        let mode = self.score_mode;
        let scorer = self
            .scorer()
            .ok_or_else(|| invalid("supernet", "lost after a failed step"))?
            .clone();
        let score_one =
            |scorer: &mut S, (arch, x, y, size): (&A, Tensor<4>, Tensor<1, Int>, usize)| {
                let start = Instant::now();
                let logits = scorer.forward_arch(x, arch, mode)?;
                let accuracy = correct(logits, y) as f64 / size as f64;
                Ok((accuracy, size, start.elapsed().as_secs_f64()))
            };
        let scored: Vec<Result<(f64, usize, f64)>> = if jobs.len() == 1 || !is_flex(&self.device) {
            let mut scorer = scorer;
            jobs.into_iter()
                .map(|job| score_one(&mut scorer, job))
                .collect()
        } else {
            jobs.into_par_iter().map_with(scorer, score_one).collect()
        };
        scored
            .into_iter()
            .map(|result| {
                let (accuracy, size, seconds) = result?;
                // One forward pass ≈ a third of a training step; the supernet's epochs since
                // the last estimate are booked on the first (docs of `Compute`).
                let spent = size as f64 / (3.0 * self.task.train.len().max(1) as f64)
                    + std::mem::take(&mut self.unbooked_epochs) as f64;
                let metrics = Metrics {
                    valid_accuracy: accuracy,
                    seconds,
                    compute: Some(Compute {
                        spent,
                        saved: 1.0 - spent,
                    }),
                    ..Metrics::default()
                };
                Ok(Estimate {
                    reward: self.objective.of(&metrics),
                    metrics,
                })
            })
            .collect()
    }
}

impl<A: Sync, S: Supernet<A>> Estimator<A> for SharedWeights<S> {
    fn prepare(&mut self, sampler: &mut dyn FnMut() -> Result<A>) -> Result<()> {
        let loss = self.train_epoch(sampler)?;
        self.unbooked_epochs += 1;
        log::info!(
            "shared weights: epoch {} trained, mean loss {loss:.4}",
            self.epoch
        );
        Ok(())
    }

    fn estimate(&mut self, arch: &A) -> Result<Estimate> {
        let mut estimates = self.score(&[arch])?;
        estimates
            .pop()
            .ok_or_else(|| invalid("supernet", "scored no architecture"))
    }

    /// Scores the children together, in parallel on the CPU's threads when the device is
    /// `flex` (the parents are ignored): each takes the validation minibatch the sequential
    /// order would give it, so the estimates are exactly those of one
    /// [`estimate`](Estimator::estimate) after the other. Scoring takes a moment, so `stop` is
    /// read once, before it starts.
    fn estimate_many(
        &mut self,
        children: &[(&A, Option<&A>)],
        stop: &AtomicBool,
    ) -> Result<Vec<Estimate>> {
        check_stop(stop)?;
        let archs: Vec<&A> = children.iter().map(|(arch, _)| *arch).collect();
        self.score(&archs)
    }

    /// Any number: [`estimate_many`](Estimator::estimate_many) scores all the children it is
    /// given in parallel.
    fn parallelism(&self) -> usize {
        usize::MAX
    }

    fn name(&self) -> &'static str {
        "shared-weights"
    }

    /// The shared weights (`supernet.bpk`), their optimizer's momentum (`optimizer.bpk`), the
    /// epoch counter, the validation cursor and the RNG.
    fn save_state(&self) -> Result<EstimatorState> {
        let net = self
            .supernet
            .as_ref()
            .ok_or_else(|| invalid("supernet", "lost after a failed step"))?;
        let mut state = EstimatorState::json(&SharedState {
            epoch: self.epoch,
            valid_cursor: self.valid_cursor,
            rng: self.rng.clone(),
        })?;
        state
            .blobs
            .insert("supernet.bpk".to_string(), module_to_bytes(net)?);
        save_optimizer(&mut state, "optimizer", &self.optimizer, net)?;
        Ok(state)
    }

    fn load_state(&mut self, state: &EstimatorState) -> Result<()> {
        let saved: SharedState = state.parse("shared-weights state")?;
        let net = self
            .supernet
            .take()
            .ok_or_else(|| invalid("supernet", "lost after a failed step"))?;
        let restored = module_from_bytes(net.clone(), state.blob("supernet.bpk")?)
            .and_then(|n| load_optimizer(state, "optimizer", self.training.optimizer(), n));
        match restored {
            Ok((optimizer, net)) => {
                self.supernet = Some(net);
                self.optimizer = optimizer;
            }
            Err(e) => {
                // A damaged checkpoint leaves the estimator as it was.
                self.supernet = Some(net);
                return Err(e);
            }
        }
        self.scorer = None;
        self.epoch = saved.epoch;
        self.valid_cursor = saved.valid_cursor;
        self.rng = saved.rng;
        Ok(())
    }

    fn set_batch_observer(&mut self, observer: Option<Arc<dyn BatchObserver>>) {
        self.observer = ObserverSlot(observer);
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct SharedState {
    epoch: usize,
    valid_cursor: usize,
    rng: ChaCha8Rng,
}

/// Device the estimator runs on.
impl<S> SharedWeights<S> {
    /// The plain (non-autodiff) device.
    pub fn device(&self) -> &Device {
        &self.device
    }
}
