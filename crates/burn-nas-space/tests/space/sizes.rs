//! Sizes of the spaces for settings whose counts are known.

use burn_nas_space::enas_micro::MICRO_OP_HEAD;
use burn_nas_space::{MacroOp, MacroSpace, MicroOp, MicroSpace, NasRlSpace, SearchSpace};

#[test]
fn macro_space_matches_the_enas_paper() {
    // ENAS paper: 6^L · 2^{L(L−1)/2} networks, 1.6 × 10^29 for L = 12.
    let size = MacroSpace::default().size();
    assert!(
        (size.count() / 1.6e29 - 1.0).abs() < 0.01,
        "{}",
        size.count()
    );
    let exact = 12.0 * 6f64.log10() + 66.0 * 2f64.log10();
    assert!((size.log10 - exact).abs() < 1e-9);
    // Two layers, two ops: 2 · (2 · 2) = 8 networks.
    let tiny = MacroSpace::new(2, &[MacroOp::Conv3x3, MacroOp::AvgPool3x3]).unwrap();
    assert_eq!(tiny.size().count().round(), 8.0);
}

#[test]
fn micro_space_counts_every_encoding() {
    // Per cell: node b has (b+2)^2 input pairs and 5^2 op pairs.
    // B = 5: (2·3·4·5·6)^2 · 25^5 = 720^2 · 9_765_625 = 5.0625e12 per cell, squared for two.
    let per_cell: f64 = 720f64.powi(2) * 25f64.powi(5);
    assert_eq!(per_cell, 5.0625e12);
    let size = MicroSpace::default().size();
    assert!((size.log10 - 2.0 * per_cell.log10()).abs() < 1e-9);
    // The ENAS paper's (5·(B−2)!)^4 ≈ 1.3e11 for B = 7 counts cells up to input order and
    // without the op choice per input; we count token sequences, which is what a controller
    // samples. The small case is easy to check by hand: B = 1, one op: 2·2 inputs per cell.
    let tiny = MicroSpace::new(1, &[MicroOp::Identity]).unwrap();
    assert_eq!(tiny.size().count().round(), 16.0);
}

#[test]
fn nas_rl_space_counts_layers_and_skips() {
    // Zoph & Le without strides: 4·4·4 = 64 per layer, 2^{N(N−1)/2} skip patterns.
    let space = NasRlSpace::new(15).unwrap();
    let exact = 15.0 * 64f64.log10() + 105.0 * 2f64.log10();
    assert!((space.size().log10 - exact).abs() < 1e-9);
    let one = NasRlSpace::with_options(1, &[3], &[3, 5], &[8], None).unwrap();
    assert_eq!(one.size().count().round(), 2.0);
    // Deep spaces overflow f64 but log10 stays finite.
    let deep = NasRlSpace::new(60).unwrap();
    assert!(deep.size().log10.is_finite() && deep.size().log10 > 500.0);
    assert_eq!(format!("{}", NasRlSpace::new(1).unwrap().size()), "6.40e1");
}

#[test]
fn decision_lists_have_the_documented_shape() {
    let micro = MicroSpace::default();
    assert_eq!(micro.decisions().len(), 2 * 5 * 4);
    assert_eq!(micro.decisions().groups().len(), 2);
    assert_eq!(micro.decisions().groups()[0].initial_anchors, 2);
    assert_eq!(micro.decisions().heads().unwrap(), vec![(MICRO_OP_HEAD, 5)]);
    let mac = MacroSpace::default();
    assert_eq!(mac.decisions().len(), 24);
    let rl = NasRlSpace::new(3)
        .unwrap()
        .with_strides(&[1, 2, 3])
        .unwrap();
    assert_eq!(rl.decisions().len(), 15);
    assert_eq!(rl.decisions().heads().unwrap().len(), 4);
    let ends: Vec<bool> = rl.decisions().sites().map(|(s, _)| s.ends_block).collect();
    assert_eq!(ends.iter().filter(|e| **e).count(), 3);
}
