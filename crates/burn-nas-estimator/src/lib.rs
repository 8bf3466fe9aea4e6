//! Performance estimation for [burn-nas](https://crates.io/crates/burn-nas): how good is an
//! architecture, and how cheaply can we tell?
//!
//! Every estimator implements [`Estimator`]; the survey's speed-ups are estimators or settings:
//!
//! | estimator                | speed-up                                                        |
//! |--------------------------|-----------------------------------------------------------------|
//! | [`TrainFromScratch`]     | lower fidelity: [`Fidelity`] (epochs, data, image size, width, depth) |
//! | [`CurveExtrapolation`]   | learning-curve extrapolation with early stopping                |
//! | [`WeightInheritance`]    | warm start from the parent's weights (network morphism)         |
//! | [`SharedWeights`]        | one-shot weight sharing (ENAS)                                  |
//!
//! [`train()`] is the one child-training loop they all use. Multi-trial estimators train the
//! children of a group concurrently on a [`DevicePool`] ([`TrainFromScratch::with_pool`]),
//! retrying a child on another device when its device fails.

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use burn_nas_backend::{DevicePool, TrialExecutor};

mod clip;
mod curve;
mod curve_ensemble;
mod error;
mod estimate;
mod factory;
mod fidelity;
mod from_scratch;
mod inheritance;
mod registry;
mod retrain;
mod reward;
mod schedule;
mod shared;
mod state;
mod task;
mod train;

pub use clip::{clip_global_norm, global_norm};
pub use curve::{
    CurveExtrapolation, CurveFit, CurveModel, EpochwiseEstimator, StopCriterion, StoppingReplay,
    fit_curve, replay_stopping,
};
pub use curve_ensemble::{CurveEnsemble, CurveFamily, CurvePrediction, FamilyPrediction};
pub use error::{EstimatorError, Result, check_stop};
pub use estimate::{BatchObserver, Compute, Estimate, Estimator, Metrics, TrainingRun};
pub use factory::{ChildFactory, ImageShape, MacroChild, MicroChild, NasRlChild};
pub use fidelity::Fidelity;
pub use from_scratch::TrainFromScratch;
pub use inheritance::{WeightInheritance, inherit_weights};
pub use registry::{RetrainRegistry, Retrained};
pub use retrain::{RetrainReport, retrain};
pub use reward::{Objective, Reward, SizePenalty};
pub use schedule::CosineWarmRestarts;
pub use shared::{SharedWeights, Supernet};
pub use state::{
    EstimatorState, load_optimizer, module_from_bytes, module_to_bytes, save_optimizer,
};
pub use task::Task;
pub use train::{Control, EpochStats, LossAccuracy, TrainConfig, TrainReport, evaluate, train};
