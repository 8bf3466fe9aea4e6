//! [`retrain`]: the last step of a search — train the derived architecture from scratch as a
//! fixed child with its own (longer) settings and report its held-out test accuracy.

use std::sync::Arc;
use std::time::Instant;

use burn::tensor::Device;
use burn_nas_data::Batcher;
use burn_nas_nn::Network;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::estimate::{BatchObserver, ObserverSlot};
use crate::factory::{ChildFactory, ImageShape};
use crate::task::Task;
use crate::train::{Control, EpochStats, LossAccuracy, TrainConfig, evaluate, train_observed};

/// What retraining measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrainReport {
    /// Accuracy on the task's test split (`None` when the task has none).
    pub test_accuracy: Option<f64>,
    /// Loss on the test split.
    pub test_loss: Option<f64>,
    /// Validation loss and accuracy after the last epoch.
    pub valid: LossAccuracy,
    /// Trainable parameters.
    pub params: usize,
    /// Multiply-accumulates per image (FLOPs ≈ 2 ×).
    pub macs: u64,
    /// The learning curve.
    pub curve: Vec<EpochStats>,
    /// Wall time in seconds.
    pub seconds: f64,
    /// The training settings it ran with (absent in reports written before they were kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<TrainConfig>,
}

/// Trains `arch` from scratch as built by `factory` (full width and depth) with `training` on
/// `task.train`, validating on `task.valid` after each epoch (`on_epoch` sees every epoch,
/// `observer` every minibatch), then measures the test split. Returns the trained network (on
/// `device.autodiff()`) and the report.
///
/// # Errors
/// Building the network, invalid settings, data errors or divergence.
pub fn retrain<A, F: ChildFactory<A>>(
    factory: &F,
    arch: &A,
    task: &Task,
    training: &TrainConfig,
    device: &Device,
    observer: Option<Arc<dyn BatchObserver>>,
    mut on_epoch: impl FnMut(&EpochStats),
) -> Result<(F::Net, RetrainReport)> {
    training.validate()?;
    let start = Instant::now();
    device.seed(training.seed);
    let ad = device.clone().autodiff();
    ad.seed(training.seed);
    let shape = ImageShape {
        channels: task.channels(),
        size: task.image_size(),
        classes: task.classes(),
    };
    let net = factory.build(arch, shape, 1.0, 1.0, &ad)?;
    let (params, macs) = (net.param_count(), net.macs());
    let observer = ObserverSlot(observer);
    let (net, report) = train_observed(
        net,
        task,
        training,
        device,
        &mut |e| {
            on_epoch(e);
            Control::Continue
        },
        &mut |done, total, loss| observer.notify(done, total, loss),
    )?;
    let test = match &task.test {
        Some(test) => {
            let batcher = Batcher::new(task.normalization.clone(), device.clone());
            Some(evaluate(&net, test, &batcher, training.eval_batch_size)?)
        }
        None => None,
    };
    let valid = report.curve.last().map_or(
        LossAccuracy {
            loss: f64::NAN,
            accuracy: 0.0,
        },
        |e| e.valid,
    );
    Ok((
        net,
        RetrainReport {
            test_accuracy: test.map(|t| t.accuracy),
            test_loss: test.map(|t| t.loss),
            valid,
            params,
            macs,
            curve: report.curve,
            seconds: start.elapsed().as_secs_f64(),
            training: Some(training.clone()),
        },
    ))
}
