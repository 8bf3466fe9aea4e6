//! Schedules, rewards, penalties, curve fitting and settings checks on hand-made inputs.

use burn_nas_estimator::{
    CosineWarmRestarts, EstimatorError, Fidelity, Metrics, Objective, Reward, SizePenalty,
    TrainConfig, TrainingRun, fit_curve,
};

#[test]
fn cosine_warm_restarts_follow_sgdr() {
    let s = CosineWarmRestarts {
        max: 0.05,
        min: 0.0005,
        t0: 10.0,
        t_mul: 2.0,
    };
    assert!((s.at(0.0) - 0.05).abs() < 1e-12);
    assert!((s.at(5.0) - (0.0005 + 0.5 * 0.0495)).abs() < 1e-12);
    assert!(s.at(9.999) < 0.0006);
    // Restart at 10, second period 20 epochs long: half-way at 20.
    assert!((s.at(10.0) - 0.05).abs() < 1e-12);
    assert!((s.at(20.0) - (0.0005 + 0.5 * 0.0495)).abs() < 1e-12);
    assert!((s.at(30.0) - 0.05).abs() < 1e-12);
}

#[test]
fn nas_rl_reward_is_max_of_last_five_cubed() {
    let m = Metrics {
        valid_accuracy: 0.7,
        training: Some(TrainingRun {
            curve: vec![0.9, 0.5, 0.6, 0.8, 0.7, 0.6, 0.7],
            ..TrainingRun::default()
        }),
        ..Metrics::default()
    };
    // The last five are 0.6 0.8 0.7 0.6 0.7: max 0.8 (the 0.9 is too old).
    assert!((Reward::MaxLast5Cubed.of(&m) - 0.512).abs() < 1e-12);
    assert_eq!(Reward::ValidAccuracy.of(&m), 0.7);
    let custom = Reward::Custom(std::sync::Arc::new(|m: &Metrics| 1.0 - m.valid_accuracy));
    assert!((custom.of(&m) - 0.3).abs() < 1e-12);
}

#[test]
fn size_penalty_only_hits_networks_over_budget() {
    let penalty = SizePenalty {
        max_params: Some(1_000),
        max_macs: None,
        exponent: -0.5,
    };
    let objective = Objective {
        reward: Reward::ValidAccuracy,
        penalty: Some(penalty),
    };
    let small = Metrics {
        valid_accuracy: 0.8,
        params: Some(900),
        ..Metrics::default()
    };
    let big = Metrics {
        valid_accuracy: 0.8,
        params: Some(4_000),
        ..Metrics::default()
    };
    assert_eq!(objective.of(&small), 0.8);
    // 0.8 · (4000/1000)^−0.5 = 0.4
    assert!((objective.of(&big) - 0.4).abs() < 1e-12);
}

#[test]
fn curve_fit_recovers_known_limits() {
    // Power law with limit 0.92 and exponential with limit 0.85, 6 observed epochs of 40.
    let power: Vec<(f64, f64)> = (1..=6)
        .map(|t| (t as f64, 0.92 - 0.5 * (t as f64).powf(-0.8)))
        .collect();
    let fit = fit_curve(&power).unwrap();
    assert!(
        (fit.predict(40.0) - (0.92 - 0.5 * 40f64.powf(-0.8))).abs() < 0.01,
        "{fit:?}"
    );
    let expo: Vec<(f64, f64)> = (1..=6)
        .map(|t| (t as f64, 0.85 - 0.6 * (-0.5 * t as f64).exp()))
        .collect();
    let fit = fit_curve(&expo).unwrap();
    assert!((fit.predict(40.0) - 0.85).abs() < 0.01, "{fit:?}");
    // With ±0.005 noise the prediction stays within 0.04 of the truth.
    let noisy: Vec<(f64, f64)> = power
        .iter()
        .enumerate()
        .map(|(i, &(t, y))| (t, y + if i % 2 == 0 { 0.005 } else { -0.005 }))
        .collect();
    let fit = fit_curve(&noisy).unwrap();
    assert!(
        (fit.predict(40.0) - (0.92 - 0.5 * 40f64.powf(-0.8))).abs() < 0.04,
        "{fit:?}"
    );
    assert!(fit_curve(&power[..2]).is_none());
}

#[test]
fn impossible_settings_are_named() {
    let field = |r: Result<(), EstimatorError>| match r {
        Err(EstimatorError::InvalidSetting { field, .. }) => field,
        other => panic!("expected InvalidSetting, got {other:?}"),
    };
    let f = Fidelity {
        data_fraction: 1.5,
        ..Fidelity::full(3)
    };
    assert_eq!(field(f.validate()), "fidelity.data_fraction");
    assert_eq!(field(Fidelity::full(0).validate()), "fidelity.epochs");
    let f = Fidelity {
        image_size: Some(4),
        ..Fidelity::full(3)
    };
    assert_eq!(field(f.validate()), "fidelity.image_size");
    let t = TrainConfig {
        batch_size: 0,
        ..TrainConfig::default()
    };
    assert_eq!(field(t.validate()), "batch_size");
    let t = TrainConfig {
        momentum: 1.0,
        ..TrainConfig::default()
    };
    assert_eq!(field(t.validate()), "momentum");
    let t = TrainConfig {
        grad_clip: Some(-1.0),
        ..TrainConfig::default()
    };
    assert_eq!(field(t.validate()), "grad_clip");
}
