//! NAS-RL network morphisms preserve the network's function (issue 17): every operator, and
//! random sequences of them, carried over to a network with non-trivial batch-norm statistics,
//! give the same logits (eval mode) within 1e-4 before any training.

use crate::support;

use std::collections::BTreeSet;

use burn::tensor::Device;
use burn_nas_nn::{NasRlNet, NasRlNetConfig, export_params, import_params};
use burn_nas_space::nas_rl::{MorphError, NasRlMorphism};
use burn_nas_space::{NasRlArch, NasRlLayer, NasRlSpace, SearchSpace};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const IMAGE: usize = 12;
const SCALE: f64 = 0.25;

fn config() -> NasRlNetConfig {
    NasRlNetConfig::new(5)
        .with_in_channels(2)
        .with_image_size(IMAGE)
        .with_filter_scale(SCALE)
}

/// A network of `arch` whose batch norms have random statistics, scales and offsets.
fn trained_like(arch: &NasRlArch, seed: u64, device: &Device) -> NasRlNet {
    device.seed(seed);
    let net = config().init(arch, device).unwrap();
    let mut params = export_params(&net);
    support::perturb_batch_norms(&mut params, seed);
    let (net, report) = import_params(net, &params);
    assert!(report.kept.is_empty(), "{:?}", report.kept);
    net
}

/// Max |logits(parent) − logits(child)| on one batch, the child built from the transferred
/// parameters (every one of them must fit the child's network).
fn difference(parent: &NasRlArch, child: &NasRlArch, seed: u64, device: &Device) -> f32 {
    support::morph_difference(
        parent,
        child,
        seed,
        |a| config().init(a, device).unwrap(),
        |p| NasRlMorphism::transfer(parent, child, p, IMAGE, SCALE, seed),
        IMAGE,
        device,
    )
}

fn space() -> NasRlSpace {
    NasRlSpace::new(5).unwrap().with_strides(&[1, 2]).unwrap()
}

fn layer(filters: usize, stride: usize, inputs: Vec<usize>) -> NasRlLayer {
    NasRlLayer::square(3, filters, stride, inputs)
}

/// Architectures to morph: sampled ones and one with every wiring case (a layer reading the
/// image, a strided layer, several loose ends feeding the classifier).
fn parents() -> Vec<NasRlArch> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut out = vec![NasRlArch {
        layers: vec![
            layer(24, 1, vec![]),
            layer(36, 2, vec![0]),
            layer(24, 1, vec![]),
            layer(48, 1, vec![1, 2]),
            layer(24, 1, vec![1]),
        ],
    }];
    out.extend((0..3).map(|_| space().sample(&mut rng).unwrap()));
    out
}

#[test]
fn every_operator_preserves_the_function() {
    let _turn = support::turn();
    let device = Device::flex();
    let mut kinds = BTreeSet::new();
    let mut worst = 0.0f32;
    let mut tried = 0;
    for (p, parent) in parents().iter().enumerate() {
        let ops = NasRlMorphism::neighbours(&space(), parent, IMAGE, 6);
        for (k, op) in ops.iter().enumerate() {
            // Every widening and deepening, every third of the others (time).
            let kind = match op {
                NasRlMorphism::Widen { .. } => "widen",
                NasRlMorphism::Deepen { .. } => "deepen",
                NasRlMorphism::AddSkip { .. } => "skip",
                NasRlMorphism::EnlargeKernel { .. } => "kernel",
            };
            if !matches!(kind, "widen" | "deepen") && k % 3 != 0 {
                continue;
            }
            let child = op.apply(parent, IMAGE).unwrap();
            let d = difference(parent, &child, (p * 100 + k) as u64, &device);
            assert!(d <= 1e-4, "{op:?} on {parent}: logits differ by {d}");
            worst = worst.max(d);
            kinds.insert(kind);
            tried += 1;
        }
    }
    assert_eq!(kinds.len(), 4, "operators exercised: {kinds:?}");
    assert!(tried > 40, "only {tried} morphisms tried");
    println!("{tried} single morphisms, worst difference {worst:e}");
}

#[test]
fn random_sequences_of_operators_preserve_the_function() {
    let _turn = support::turn();
    let device = Device::flex();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut deepened = 0;
    for (p, parent) in parents().iter().enumerate() {
        for round in 0..3 {
            // Four operators on the layers of the parent, then maybe one new layer.
            let mut child = parent.clone();
            for _ in 0..4 {
                let ops: Vec<_> = NasRlMorphism::neighbours(&space(), &child, IMAGE, 0);
                if ops.is_empty() {
                    break;
                }
                child = ops[rng.random_range(0..ops.len())]
                    .apply(&child, IMAGE)
                    .unwrap();
            }
            if round > 0 {
                let deepen: Vec<_> = NasRlMorphism::neighbours(&space(), &child, IMAGE, 9)
                    .into_iter()
                    .filter(|m| matches!(m, NasRlMorphism::Deepen { .. }))
                    .collect();
                child = deepen[rng.random_range(0..deepen.len())]
                    .apply(&child, IMAGE)
                    .unwrap();
                deepened += 1;
            }
            assert_ne!(&child, parent);
            let d = difference(parent, &child, (p * 10 + round) as u64, &device);
            assert!(d <= 1e-4, "{parent}\n→\n{child}: logits differ by {d}");
        }
    }
    assert!(deepened > 0);
}

#[test]
fn what_would_change_the_function_is_refused() {
    let _turn = support::turn();
    let parent = &parents()[0];
    let refused = |op: NasRlMorphism| match op.apply(parent, IMAGE) {
        Err(MorphError::NotApplicable { reason, .. }) => reason,
        other => panic!("{op:?} accepted: {other:?}"),
    };
    // Layer 3 feeds the classifier: reading it elsewhere would take it away from there.
    assert!(refused(NasRlMorphism::AddSkip { from: 3, to: 4 }).contains("classifier"));
    // Layer 2 reads the image, not layers.
    assert!(refused(NasRlMorphism::AddSkip { from: 0, to: 2 }).contains("image"));
    // Layer 0's 12×12 output is larger than layer 4's input (6×6, after layer 1's stride).
    assert!(refused(NasRlMorphism::AddSkip { from: 0, to: 4 }).contains("larger"));
    assert!(
        refused(NasRlMorphism::Widen {
            layer: 1,
            filters: 24
        })
        .contains("already")
    );
    assert!(
        refused(NasRlMorphism::Deepen {
            after: 0,
            kernel: 2
        })
        .contains("odd")
    );
    assert!(
        refused(NasRlMorphism::EnlargeKernel {
            layer: 0,
            height: 4,
            width: 3
        })
        .contains("even")
    );
    // A 1×1 filter at stride 2 on an even size has no padding; a 3×3 one pads one side only,
    // which would shift the window.
    let strided = NasRlArch {
        layers: vec![NasRlLayer {
            filter_height: 1,
            filter_width: 1,
            ..layer(24, 2, vec![])
        }],
    };
    let op = NasRlMorphism::EnlargeKernel {
        layer: 0,
        height: 3,
        width: 3,
    };
    assert!(op.apply(&strided, IMAGE).is_err());

    // Transfers: a narrower child is no morphism; parameters of another network are named.
    let mut narrower = parent.clone();
    narrower.layers[3].filters = 24;
    let device = Device::flex();
    let params = export_params(&trained_like(parent, 0, &device));
    let err = NasRlMorphism::transfer(parent, &narrower, &params, IMAGE, SCALE, 0).unwrap_err();
    assert!(matches!(err, MorphError::NotAMorphism(_)), "{err}");
    let mut damaged = params.clone();
    damaged.remove("layers.2.bn.running_var");
    let child = NasRlMorphism::Deepen {
        after: 1,
        kernel: 3,
    }
    .apply(parent, IMAGE)
    .unwrap();
    let err = NasRlMorphism::transfer(parent, &child, &damaged, IMAGE, SCALE, 0).unwrap_err();
    assert!(err.to_string().contains("layers.2.bn.running_var"), "{err}");
}

#[test]
fn the_found_sequence_rebuilds_the_child() {
    let _turn = support::turn();
    let parent = &parents()[0];
    let ops = [
        NasRlMorphism::Widen {
            layer: 0,
            filters: 48,
        },
        NasRlMorphism::EnlargeKernel {
            layer: 3,
            height: 5,
            width: 3,
        },
        NasRlMorphism::Deepen {
            after: 1,
            kernel: 3,
        },
    ];
    let child = ops
        .iter()
        .try_fold(parent.clone(), |a, op| op.apply(&a, IMAGE))
        .unwrap();
    assert_eq!(NasRlMorphism::between(parent, &child, IMAGE).unwrap(), ops);
    // A child two layers deeper is refused with a reason.
    let deeper = NasRlMorphism::Deepen {
        after: 0,
        kernel: 3,
    }
    .apply(&child, IMAGE)
    .unwrap();
    let err = NasRlMorphism::between(parent, &deeper, IMAGE).unwrap_err();
    assert!(err.to_string().contains("at most one"), "{err}");
}
