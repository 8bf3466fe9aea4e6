//! Learning-curve prediction on real curves: 50 random NAS-RL children trained 10 epochs each
//! on the embedded Fashion-MNIST subset by `cargo run --release --example curves -- --children
//! 50 --epochs 10 --train-images 2000 --valid-images 1000` (seed 0), recorded in
//! `tests/data/nas_rl_curves.json`. The thresholds are the measured values with a little room
//! (docs/estimators.md).

use burn_nas_estimator::{CurveEnsemble, StopCriterion, fit_curve, replay_stopping};

/// The recorded validation curves, in training order.
fn curves() -> Vec<Vec<f64>> {
    let text = include_str!("../data/nas_rl_curves.json");
    let records: Vec<serde_json::Value> = serde_json::from_str(text).expect("curves.json");
    records
        .iter()
        .map(|r| {
            r["curve"]
                .as_array()
                .expect("a curve")
                .iter()
                .map(|v| v.as_f64().expect("an accuracy"))
                .collect()
        })
        .collect()
}

/// Mean absolute errors of the final accuracy predicted from the first `seen` epochs: the
/// single best fit, the ensemble's mean; and the share of finals in the ensemble's 90% band.
fn errors(curves: &[Vec<f64>], seen: usize) -> (f64, f64, f64) {
    let ensemble = CurveEnsemble::default();
    let (mut fit_err, mut ens_err, mut covered) = (0.0, 0.0, 0usize);
    for curve in curves {
        let total = curve.len();
        let actual = curve[total - 1];
        let points: Vec<(f64, f64)> = curve[..seen]
            .iter()
            .enumerate()
            .map(|(i, &y)| ((i + 1) as f64, y))
            .collect();
        let fit = fit_curve(&points).expect("a fit");
        let p = ensemble
            .predict(&curve[..seen], total)
            .expect("a prediction");
        fit_err += (fit.predict(total as f64) - actual).abs();
        ens_err += (p.mean - actual).abs();
        covered += usize::from((actual - p.mean).abs() <= 1.645 * p.std);
    }
    let n = curves.len() as f64;
    (fit_err / n, ens_err / n, covered as f64 / n)
}

#[test]
fn the_ensemble_predicts_real_curves_better_than_one_fit() {
    let curves = curves();
    assert!(curves.len() >= 50);
    assert!(curves.iter().all(|c| c.len() == 10));
    // Measured: from 3 / 4 / 6 epochs the best fit errs by 0.140 / 0.109 / 0.047, the
    // ensemble by 0.078 / 0.056 / 0.027, and its 90% band holds 88 / 96 / 96% of the finals.
    for (seen, max_mae, min_coverage) in [(3, 0.085, 0.84), (4, 0.065, 0.9), (6, 0.032, 0.9)] {
        let (fit, ensemble, coverage) = errors(&curves, seen);
        println!(
            "first {seen} of 10 epochs: MAE best fit {fit:.4}, ensemble {ensemble:.4}; 90% band \
             covers {coverage:.2}"
        );
        assert!(ensemble < 0.7 * fit, "{ensemble} vs {fit}");
        assert!(ensemble <= max_mae, "{ensemble}");
        assert!(coverage >= min_coverage, "{coverage}");
    }
}

#[test]
fn probabilistic_stopping_saves_epochs_without_losing_the_best() {
    let curves = curves();
    let ensemble = CurveEnsemble::default();
    let careful = replay_stopping(&curves, 3, StopCriterion::Probability(0.05), ensemble);
    let greedy = replay_stopping(&curves, 3, StopCriterion::Margin(0.0), ensemble);
    println!("δ = 0.05: {careful:?}\nbest fit, margin 0: {greedy:?}");
    // Measured: 25 of 50 runs stopped, 27% of the epochs saved, no stopped run would have
    // beaten the incumbent; the single fit stops 48 and saves 64%, one of them wrongly.
    assert!(careful.stopped >= 20, "{careful:?}");
    assert_eq!(careful.wrongly_stopped, 0, "{careful:?}");
    assert!(
        careful.epochs_saved as f64 >= 0.2 * careful.epochs_total as f64,
        "{careful:?}"
    );
    assert!(careful.kept_the_best && greedy.kept_the_best);
    assert!(greedy.stopped > careful.stopped);
}
