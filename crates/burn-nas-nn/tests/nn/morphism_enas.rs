//! ENAS macro and micro network morphisms preserve the network's function (issue 17): every
//! operator, and sequences of them, carried over to a network with non-trivial batch-norm
//! statistics, give the same logits (eval mode) within 1e-4 before any training.

use crate::support;

use std::collections::BTreeSet;

use burn::tensor::Device;
use burn_nas_nn::{CellStyle, MacroNetConfig, MicroNetConfig, export_params};
use burn_nas_space::enas_macro::MacroMorphism;
use burn_nas_space::enas_micro::MicroMorphism;
use burn_nas_space::morphism::MorphError;
use burn_nas_space::{MacroArch, MacroSpace, MicroArch, MicroSpace, SearchSpace};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const IMAGE: usize = 12;

fn macro_config() -> MacroNetConfig {
    MacroNetConfig::new(5)
        .with_in_channels(2)
        .with_image_size(IMAGE)
        .with_channels(4)
}

fn macro_difference(parent: &MacroArch, child: &MacroArch, seed: u64, device: &Device) -> f32 {
    support::morph_difference(
        parent,
        child,
        seed,
        |a| macro_config().init(a, device).unwrap(),
        |p| MacroMorphism::transfer(parent, child, p, seed),
        IMAGE,
        device,
    )
}

fn macro_space() -> MacroSpace {
    MacroSpace::new(6, &burn_nas_space::MacroOp::ALL).unwrap()
}

fn kind(m: &MacroMorphism) -> &'static str {
    match m {
        MacroMorphism::AddSkip { .. } => "skip",
        MacroMorphism::EnlargeKernel { .. } => "kernel",
        MacroMorphism::SeparableToFull { .. } => "full",
        MacroMorphism::Deepen { .. } => "deepen",
    }
}

/// Six-layer parents (pooling after layers 1 and 3): one with every op and skips across both
/// pooling points, and sampled ones.
fn macro_parents() -> Vec<MacroArch> {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut out =
        vec![MacroArch::from_enas_string("4 1 0 0 1 0 3 0 1 0 5 1 0 0 1 1 0 1 0 0 1").unwrap()];
    out.extend((0..3).map(|_| macro_space().sample(&mut rng).unwrap()));
    out
}

#[test]
fn every_macro_operator_preserves_the_function() {
    let _turn = support::turn();
    let device = Device::flex();
    let mut kinds = BTreeSet::new();
    let (mut worst, mut tried) = (0.0f32, 0);
    for (p, parent) in macro_parents().iter().enumerate() {
        for (k, op) in MacroMorphism::neighbours(&macro_space(), parent, 8)
            .iter()
            .enumerate()
        {
            // Every op change and new layer, every third skip (time).
            if kind(op) == "skip" && k % 3 != 0 {
                continue;
            }
            let child = op.apply(parent).unwrap();
            let d = macro_difference(parent, &child, (p * 100 + k) as u64, &device);
            assert!(d <= 1e-4, "{op:?} on {parent}: logits differ by {d}");
            worst = worst.max(d);
            kinds.insert(kind(op));
            tried += 1;
        }
    }
    assert_eq!(kinds.len(), 4, "operators exercised: {kinds:?}");
    assert!(tried > 20, "only {tried} morphisms tried");
    println!("{tried} single macro morphisms, worst difference {worst:e}");
}

#[test]
fn sequences_of_macro_operators_preserve_the_function() {
    let _turn = support::turn();
    let device = Device::flex();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut deepened = 0;
    for (p, parent) in macro_parents().iter().enumerate() {
        for round in 0..2 {
            let mut child = parent.clone();
            for _ in 0..4 {
                let ops = MacroMorphism::neighbours(&macro_space(), &child, 0);
                if ops.is_empty() {
                    break;
                }
                child = ops[rng.random_range(0..ops.len())].apply(&child).unwrap();
            }
            if round > 0 {
                let deepen: Vec<_> = MacroMorphism::neighbours(&macro_space(), &child, 7)
                    .into_iter()
                    .filter(|m| kind(m) == "deepen")
                    .collect();
                child = deepen[rng.random_range(0..deepen.len())]
                    .apply(&child)
                    .unwrap();
                deepened += 1;
            }
            assert_ne!(&child, parent);
            let d = macro_difference(parent, &child, (p * 10 + round) as u64, &device);
            assert!(d <= 1e-4, "{parent}\n→\n{child}: logits differ by {d}");
        }
    }
    assert!(deepened > 0);
}

#[test]
fn what_would_change_a_macro_network_is_refused() {
    let _turn = support::turn();
    use burn_nas_space::MacroOp::*;
    let parent = &macro_parents()[0];
    let refused = |op: MacroMorphism| match op.apply(parent) {
        Err(MorphError::NotApplicable { reason, .. }) => reason,
        other => panic!("{op:?} accepted: {other:?}"),
    };
    assert_eq!(parent.layers[0].op, AvgPool3x3);
    assert!(refused(MacroMorphism::EnlargeKernel { layer: 0 }).contains("no larger"));
    assert!(refused(MacroMorphism::SeparableToFull { layer: 0 }).contains("not a separable"));
    assert!(refused(MacroMorphism::AddSkip { from: 0, to: 2 }).contains("already"));
    // Six layers pool after layers 1 and 3; a layer before layer 3 would move that point, and
    // seven layers pool at the same places.
    assert!(refused(MacroMorphism::Deepen { after: 2 }).contains("pooling point"));
    assert!(MacroMorphism::Deepen { after: 3 }.apply(parent).is_ok());
    let seven = MacroMorphism::Deepen { after: 5 }.apply(parent).unwrap();
    assert!(
        MacroMorphism::Deepen { after: 6 }
            .apply(&MacroMorphism::Deepen { after: 6 }.apply(&seven).unwrap())
            .is_err(),
        "nine layers pool after layers 2 and 5"
    );
    // Transfers: a pool turned into a convolution is no morphism; another network's
    // parameters are named.
    let mut changed = parent.clone();
    changed.layers[0].op = Conv3x3;
    let device = Device::flex();
    let params = export_params(&macro_config().init(parent, &device).unwrap());
    let err = MacroMorphism::transfer(parent, &changed, &params, 0).unwrap_err();
    assert!(matches!(err, MorphError::NotAMorphism(_)), "{err}");
    let child = MacroMorphism::AddSkip { from: 0, to: 3 }
        .apply(parent)
        .unwrap();
    let mut damaged = params.clone();
    damaged.remove("layers.3.merge.conv.weight");
    let err = MacroMorphism::transfer(parent, &child, &damaged, 0).unwrap_err();
    assert!(
        err.to_string().contains("layers.3.merge.conv.weight"),
        "{err}"
    );
}

#[test]
fn the_found_macro_sequence_rebuilds_the_child() {
    let _turn = support::turn();
    let parent = &macro_parents()[0];
    let ops = [
        MacroMorphism::AddSkip { from: 0, to: 5 },
        MacroMorphism::SeparableToFull { layer: 1 },
        MacroMorphism::EnlargeKernel { layer: 1 },
        MacroMorphism::Deepen { after: 4 },
    ];
    let child = ops
        .iter()
        .try_fold(parent.clone(), |a, op| op.apply(&a))
        .unwrap();
    assert_eq!(MacroMorphism::between(parent, &child).unwrap(), ops);
    let d = macro_difference(parent, &child, 1, &Device::flex());
    assert!(d <= 1e-4, "logits differ by {d}");
}

fn micro_config() -> MicroNetConfig {
    MicroNetConfig::new(5)
        .with_in_channels(2)
        .with_image_size(IMAGE)
        .with_layers(2)
        .with_channels(4)
        .with_aux_head(false)
}

fn micro_difference(parent: &MicroArch, child: &MicroArch, seed: u64, style: CellStyle) -> f32 {
    let device = Device::flex();
    support::morph_difference(
        parent,
        child,
        seed,
        |a| {
            micro_config()
                .with_cell_style(style)
                .init(a, &device)
                .unwrap()
        },
        |p| MicroMorphism::transfer(parent, child, p),
        IMAGE,
        &device,
    )
}

#[test]
fn every_micro_operator_preserves_the_function() {
    let _turn = support::turn();
    let space = MicroSpace::default();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut tried = BTreeSet::new();
    let mut sequences = 0;
    for p in 0..4 {
        let parent = space.sample(&mut rng).unwrap();
        let ops = MicroMorphism::neighbours(&space, &parent);
        let style = if p % 2 == 0 {
            CellStyle::Enas
        } else {
            CellStyle::Projected
        };
        for (k, op) in ops.iter().enumerate() {
            let child = op.apply(&parent).unwrap();
            let d = micro_difference(&parent, &child, (p * 100 + k) as u64, style);
            assert!(d <= 1e-4, "{op:?} on {parent}: logits differ by {d}");
            let MicroMorphism::EnlargeKernel { cell, .. } = *op;
            tried.insert(format!("{cell:?}"));
        }
        // All of them at once.
        if ops.len() > 1 {
            let child = ops
                .iter()
                .try_fold(parent.clone(), |a, op| op.apply(&a))
                .unwrap();
            assert_eq!(MicroMorphism::between(&parent, &child).unwrap(), ops);
            let d = micro_difference(&parent, &child, p as u64, style);
            assert!(d <= 1e-4, "{parent}\n→\n{child}: logits differ by {d}");
            sequences += 1;
        }
    }
    assert_eq!(tried.len(), 2, "cells exercised: {tried:?}");
    assert!(sequences > 0);
    // What is not a morphism is refused.
    let parent = space.sample(&mut rng).unwrap();
    let mut other = parent.clone();
    other.normal.nodes[0].inputs = [1, 1];
    if other != parent {
        assert!(MicroMorphism::between(&parent, &other).is_err());
    }
}
