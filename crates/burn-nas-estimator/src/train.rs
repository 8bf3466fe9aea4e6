//! The one child-training loop used everywhere: SGD with Nesterov momentum, cosine learning
//! rate with warm restarts, weight decay, global gradient-norm clipping, auxiliary loss and
//! drop path when the network has them, a per-epoch learning curve, seeded.

use std::time::Instant;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Device, Int, Tensor};
use burn_nas_backend::join_compute_pool;
use burn_nas_data::{Augmentation, Batcher, ImageDataset, LastBatch, epoch_batches};
use burn_nas_nn::{Mode, Network};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::clip::clip_global_norm;
use crate::error::{EstimatorError, Result, invalid};
use crate::schedule::CosineWarmRestarts;
use crate::task::Task;

/// Settings of [`train`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Number of epochs.
    pub epochs: usize,
    /// Minibatch size.
    pub batch_size: usize,
    /// Learning-rate schedule (per epoch, fractional within an epoch).
    pub lr: CosineWarmRestarts,
    /// Nesterov momentum (0 disables momentum).
    pub momentum: f64,
    /// L2 weight decay added to the gradient (`wd · w`).
    pub weight_decay: f64,
    /// Maximum global gradient norm (`None`: no clipping).
    pub grad_clip: Option<f64>,
    /// Augmentation of training batches.
    pub augmentation: Augmentation,
    /// Seed of weight initialisation, shuffling, augmentation, dropout and drop path.
    pub seed: u64,
    /// Minibatch size of evaluation passes.
    pub eval_batch_size: usize,
}

impl Default for TrainConfig {
    /// 10 epochs, batch 128, cosine 0.05 → 5e-4 over the run, Nesterov 0.9, weight decay 3e-4,
    /// clip 5, pad-and-crop + flip, seed 0.
    fn default() -> Self {
        TrainConfig {
            epochs: 10,
            batch_size: 128,
            lr: CosineWarmRestarts::single(0.05, 5e-4, 10),
            momentum: 0.9,
            weight_decay: 3e-4,
            grad_clip: Some(5.0),
            augmentation: Augmentation::enas(),
            seed: 0,
            eval_batch_size: 500,
        }
    }
}

impl TrainConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`EstimatorError::InvalidSetting`] naming the first impossible setting.
    pub fn validate(&self) -> Result<()> {
        if self.batch_size == 0 {
            return Err(invalid("batch_size", "must be at least 1"));
        }
        if self.eval_batch_size == 0 {
            return Err(invalid("eval_batch_size", "must be at least 1"));
        }
        if !(self.lr.max.is_finite()
            && self.lr.max > 0.0
            && self.lr.min >= 0.0
            && self.lr.min <= self.lr.max)
        {
            return Err(invalid(
                "lr",
                format!("need 0 ≤ min ≤ max, max > 0 (got {:?})", self.lr),
            ));
        }
        if !(self.lr.t0 > 0.0 && self.lr.t_mul >= 1.0) {
            return Err(invalid("lr", "need t0 > 0 and t_mul ≥ 1"));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(invalid("momentum", "must be in [0, 1)"));
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return Err(invalid("weight_decay", "must be ≥ 0"));
        }
        if self.grad_clip.is_some_and(|c| !(c > 0.0 && c.is_finite())) {
            return Err(invalid("grad_clip", "must be > 0"));
        }
        Ok(())
    }

    /// The SGD optimizer these settings describe.
    pub(crate) fn optimizer(&self) -> burn::optim::ModuleOptimizer {
        let momentum = (self.momentum > 0.0).then(|| {
            MomentumConfig::new()
                .with_momentum(self.momentum)
                .with_dampening(0.0)
                .with_nesterov(true)
        });
        let decay =
            (self.weight_decay > 0.0).then(|| WeightDecayConfig::new(self.weight_decay as f32));
        SgdConfig::new()
            .with_momentum(momentum)
            .with_weight_decay(decay)
            .init()
    }
}

/// Loss and accuracy over one epoch or one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LossAccuracy {
    /// Mean cross-entropy.
    pub loss: f64,
    /// Fraction of correct predictions.
    pub accuracy: f64,
}

/// One point of the learning curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Training loss and accuracy (on augmented batches, in training mode).
    pub train: LossAccuracy,
    /// Validation loss and accuracy (evaluation mode).
    pub valid: LossAccuracy,
    /// Learning rate at the start of the epoch.
    pub lr: f64,
    /// Wall time of the epoch, evaluation included.
    pub seconds: f64,
}

/// What an epoch callback wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Train the next epoch.
    Continue,
    /// Stop now (early stopping).
    Stop,
}

/// What [`train`] returns besides the trained network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// One entry per epoch trained.
    pub curve: Vec<EpochStats>,
    /// `true` when the callback stopped training before `epochs`.
    pub stopped_early: bool,
}

impl TrainReport {
    /// Validation accuracy after the last epoch trained (0 when none was).
    pub fn final_accuracy(&self) -> f64 {
        self.curve.last().map_or(0.0, |e| e.valid.accuracy)
    }
}

pub(crate) fn cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    CrossEntropyLossConfig::new()
        .init(&logits.device())
        .forward(logits, labels)
}

/// Number of correct predictions in a batch.
pub(crate) fn correct(logits: Tensor<2>, labels: Tensor<1, Int>) -> usize {
    let predicted = logits.argmax(1).flatten::<1>(0, 1);
    predicted
        .equal(labels)
        .int()
        .sum()
        .into_scalar::<i64>()
        .max(0) as usize
}

/// A training minibatch: augmented with `rng` when the config asks for augmentation.
pub(crate) fn training_batch(
    config: &TrainConfig,
    batcher: &Batcher,
    data: &ImageDataset,
    indices: &[usize],
    rng: &mut ChaCha8Rng,
) -> Result<(Tensor<4>, Tensor<1, Int>)> {
    let augment = (!config.augmentation.is_none()).then_some(&config.augmentation);
    Ok(match augment {
        Some(a) => batcher.batch(data, indices, Some((a, rng)))?,
        None => batcher.batch(data, indices, None)?,
    })
}

/// The loss value, or [`EstimatorError::Diverged`] when it is not finite.
pub(crate) fn finite_loss(loss: &Tensor<1>, epoch: usize, step: usize) -> Result<f32> {
    let value = loss.clone().into_scalar::<f32>();
    if value.is_finite() {
        Ok(value)
    } else {
        Err(EstimatorError::Diverged {
            epoch,
            step,
            loss: value,
        })
    }
}

/// Backpropagates `loss`, clips the gradients' global norm as configured and takes one
/// optimizer step at rate `lr`.
pub(crate) fn descend<M: burn::module::Module>(
    net: M,
    loss: Tensor<1>,
    config: &TrainConfig,
    optim: &mut burn::optim::ModuleOptimizer,
    lr: f64,
) -> M {
    let mut grads = GradientsParams::from_grads(loss.backward(), &net);
    if let Some(max) = config.grad_clip {
        clip_global_norm(&net, &mut grads, max);
    }
    optim.step(lr, net, grads)
}

/// Loss and accuracy of `net` on `data` in evaluation mode, without autodiff (on a calling
/// thread that joined a rayon pool, as [`train()`] does).
///
/// # Errors
/// Batching errors.
pub fn evaluate<N: Network>(
    net: &N,
    data: &ImageDataset,
    batcher: &Batcher,
    batch_size: usize,
) -> Result<LossAccuracy> {
    join_compute_pool();
    let net = net.valid();
    let mut loss_sum = 0.0;
    let mut hits = 0;
    for indices in epoch_batches(data.len(), batch_size, None, LastBatch::Keep)? {
        let (x, y) = batcher.batch(data, &indices, None)?;
        let logits = net.forward(x, Mode::EVAL);
        loss_sum += f64::from(cross_entropy(logits.clone(), y.clone()).into_scalar::<f32>())
            * indices.len() as f64;
        hits += correct(logits, y);
    }
    let n = data.len().max(1) as f64;
    Ok(LossAccuracy {
        loss: loss_sum / n,
        accuracy: hits as f64 / n,
    })
}

/// Trains `net` (built on `device.autodiff()`) on `task.train`, evaluating on `task.valid` after
/// every epoch and asking `on_epoch` whether to go on.
///
/// `device` is the plain device; the network must live on its autodiff version. The calling
/// thread becomes a rayon worker of a pool of its own
/// ([`join_compute_pool`](burn_nas_backend::join_compute_pool)), which makes small networks'
/// steps faster on `flex` and changes no result.
///
/// # Errors
/// Invalid settings, data errors, or [`EstimatorError::Diverged`] when the loss is not finite.
pub fn train<N: Network>(
    net: N,
    task: &Task,
    config: &TrainConfig,
    device: &Device,
    mut on_epoch: impl FnMut(&EpochStats) -> Control,
) -> Result<(N, TrainReport)> {
    train_observed(net, task, config, device, &mut on_epoch, &mut |_, _, _| {})
}

/// [`train`] that also reports every minibatch (`done`, `total` of the epoch, loss).
pub(crate) fn train_observed<N: Network>(
    net: N,
    task: &Task,
    config: &TrainConfig,
    device: &Device,
    on_epoch: &mut dyn FnMut(&EpochStats) -> Control,
    on_batch: &mut dyn FnMut(usize, usize, f64),
) -> Result<(N, TrainReport)> {
    config.validate()?;
    device.seed(config.seed);
    train_device_seeded(net, task, config, device, on_epoch, on_batch)
}

/// [`train_observed`] for a caller that has already seeded the device's generator with
/// `config.seed` (under the lock that keeps concurrent trials from interleaving draws).
pub(crate) fn train_device_seeded<N: Network>(
    mut net: N,
    task: &Task,
    config: &TrainConfig,
    device: &Device,
    on_epoch: &mut dyn FnMut(&EpochStats) -> Control,
    on_batch: &mut dyn FnMut(usize, usize, f64),
) -> Result<(N, TrainReport)> {
    config.validate()?;
    join_compute_pool();
    let ad = device.clone().autodiff();
    let train_batcher = Batcher::new(task.normalization.clone(), ad.clone());
    let eval_batcher = Batcher::new(task.normalization.clone(), device.clone());
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut optim = config.optimizer();
    let mut report = TrainReport {
        curve: Vec::with_capacity(config.epochs),
        stopped_early: false,
    };
    for epoch in 0..config.epochs {
        let start = Instant::now();
        let batches = epoch_batches(
            task.train.len(),
            config.batch_size,
            Some(&mut rng),
            LastBatch::Keep,
        )?;
        let steps = batches.len().max(1);
        let mut loss_sum = 0.0;
        let mut hits = 0;
        let mut seen = 0;
        let lr0 = config.lr.at(epoch as f64);
        for (step, indices) in batches.iter().enumerate() {
            let progress = (epoch as f64 + step as f64 / steps as f64) / config.epochs as f64;
            let (x, y) = training_batch(config, &train_batcher, &task.train, indices, &mut rng)?;
            let out = net.forward_output(x, Mode::train(progress));
            let mut loss = cross_entropy(out.logits.clone(), y.clone());
            if let Some((aux, weight)) = out.aux {
                loss = loss + cross_entropy(aux, y.clone()) * weight;
            }
            let value = finite_loss(&loss, epoch, step)?;
            on_batch(step + 1, steps, f64::from(value));
            loss_sum += f64::from(value) * indices.len() as f64;
            hits += correct(out.logits.detach(), y);
            seen += indices.len();
            let lr = config.lr.at(epoch as f64 + step as f64 / steps as f64);
            net = descend(net, loss, config, &mut optim, lr);
        }
        let valid = evaluate(&net, &task.valid, &eval_batcher, config.eval_batch_size)?;
        let stats = EpochStats {
            epoch: epoch + 1,
            train: LossAccuracy {
                loss: loss_sum / seen.max(1) as f64,
                accuracy: hits as f64 / seen.max(1) as f64,
            },
            valid,
            lr: lr0,
            seconds: start.elapsed().as_secs_f64(),
        };
        log::debug!(
            "epoch {}: train loss {:.4} acc {:.4}, valid loss {:.4} acc {:.4}, {:.1}s",
            stats.epoch,
            stats.train.loss,
            stats.train.accuracy,
            stats.valid.loss,
            stats.valid.accuracy,
            stats.seconds
        );
        let control = on_epoch(&stats);
        report.curve.push(stats);
        if control == Control::Stop && epoch + 1 < config.epochs {
            report.stopped_early = true;
            break;
        }
    }
    Ok((net, report))
}
