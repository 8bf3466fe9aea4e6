//! Networks of every space: build, run forward and backward, learn, count parameters, and —
//! for supernets — touch only the sampled path.

use crate::support;

use burn::module::Module;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn_nas_nn::{
    CellStyle, MacroNetConfig, MacroSupernetConfig, MicroNetConfig, MicroSupernetConfig, Mode,
    NasRlNetConfig, NetError, Network,
};
use burn_nas_space::{
    MacroArch, MacroLayer, MacroOp, MacroSpace, MicroArch, MicroOp, MicroSpace, NasRlArch,
    NasRlLayer, NasRlSpace, SearchSpace,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use support::*;

const ENAS_FINAL: &str =
    "0 2 0 0 0 4 0 1 0 4 1 1 1 0 0 1 0 2 1 1 1 0 1 0 0 3 0 2 1 1 3 1 1 0 0 4 0 3 1 1";

fn check_forward_backward<N: Network + Module>(
    net: &N,
    channels: usize,
    size: usize,
    classes: usize,
) {
    let device = device();
    let (x, y) = batch(4, channels, size, classes, &device);
    let out = net.forward_output(x, Mode::TRAIN);
    assert_eq!(out.logits.dims(), [4, classes]);
    let mut l = loss(out.logits, y.clone());
    if let Some((aux, w)) = out.aux {
        assert_eq!(aux.dims(), [4, classes]);
        l = l + loss(aux, y) * w;
    }
    let value = scalar(l.clone());
    assert!(value.is_finite() && value > 0.0, "loss {value}");
    let grads = l.backward();
    let snaps = snapshot(net, Some(&grads));
    let with_grad = snaps.iter().filter(|s| s.has_grad).count();
    assert_eq!(
        with_grad,
        snaps.len(),
        "every parameter of a fixed network gets a gradient"
    );
}

#[test]
fn random_micro_children_run_forward_and_backward() {
    let _turn = turn();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let space = MicroSpace::default();
    for (channels, size) in [(1, 12), (3, 8)] {
        for _ in 0..2 {
            let arch = space.sample(&mut rng).unwrap();
            let config = MicroNetConfig::new(5)
                .with_in_channels(channels)
                .with_image_size(size)
                .with_layers(3)
                .with_channels(4);
            let net = config.init(&arch, &device()).unwrap();
            check_forward_backward(&net, channels, size, 5);
        }
    }
}

#[test]
fn random_macro_children_run_forward_and_backward() {
    let _turn = turn();
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let space = MacroSpace::new(6, &MacroOp::ALL).unwrap();
    for (channels, size) in [(1, 12), (3, 8)] {
        for _ in 0..2 {
            let arch = space.sample(&mut rng).unwrap();
            let config = MacroNetConfig::new(4)
                .with_in_channels(channels)
                .with_image_size(size)
                .with_channels(4);
            let net = config.init(&arch, &device()).unwrap();
            check_forward_backward(&net, channels, size, 4);
        }
    }
}

#[test]
fn random_nas_rl_children_run_forward_and_backward() {
    let _turn = turn();
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let space =
        NasRlSpace::with_options(5, &[1, 2, 3, 5], &[1, 3, 4, 7], &[4, 6], Some(&[1, 2, 3]))
            .unwrap();
    for (channels, size) in [(1, 12), (3, 9)] {
        for _ in 0..3 {
            let arch = space.sample(&mut rng).unwrap();
            let config = NasRlNetConfig::new(3)
                .with_in_channels(channels)
                .with_image_size(size);
            let net = config.init(&arch, &device()).unwrap();
            check_forward_backward(&net, channels, size, 3);
        }
    }
}

#[test]
fn random_supernet_paths_run_forward_and_backward() {
    let _turn = turn();
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    let device = device();
    let micro_space = MicroSpace::default();
    let micro = MicroSupernetConfig::new(3)
        .with_in_channels(1)
        .with_image_size(8)
        .with_layers(3)
        .with_channels(4)
        .init(&micro_space, &device)
        .unwrap();
    let macro_space = MacroSpace::new(6, &MacroOp::ALL).unwrap();
    let mac = MacroSupernetConfig::new(3)
        .with_in_channels(1)
        .with_image_size(8)
        .with_channels(4)
        .init(&macro_space, &device)
        .unwrap();
    let (x, y) = batch(4, 1, 8, 3, &device);
    for _ in 0..3 {
        let a = micro_space.sample(&mut rng).unwrap();
        let logits = micro.forward(x.clone(), &a, Mode::TRAIN).unwrap();
        assert_eq!(logits.dims(), [4, 3]);
        let grads = loss(logits, y.clone()).backward();
        assert!(snapshot(&micro, Some(&grads)).iter().any(|s| s.has_grad));
        let b = macro_space.sample(&mut rng).unwrap();
        let logits = mac.forward(x.clone(), &b, Mode::TRAIN).unwrap();
        assert_eq!(logits.dims(), [4, 3]);
        let grads = loss(logits, y.clone()).backward();
        assert!(snapshot(&mac, Some(&grads)).iter().any(|s| s.has_grad));
    }
    // Architectures outside the supernet's space are refused, not run.
    let other = MicroSpace::new(3, &MicroOp::ALL)
        .unwrap()
        .sample(&mut rng)
        .unwrap();
    assert!(matches!(
        micro.forward(x, &other, Mode::TRAIN),
        Err(NetError::Arch(_))
    ));
}

/// Trains on one tiny batch; returns (first loss, last loss).
fn overfit<N: Network + Module>(
    mut net: N,
    channels: usize,
    size: usize,
    steps: usize,
) -> (f32, f32) {
    let device = device();
    let (x, y) = batch(8, channels, size, 4, &device);
    let mut optim = SgdConfig::new()
        .with_momentum(Some(
            MomentumConfig::new().with_momentum(0.9).with_dampening(0.0),
        ))
        .init();
    let mut first = None;
    let mut last = 0.0;
    for _ in 0..steps {
        let l = loss(net.forward(x.clone(), Mode::TRAIN), y.clone());
        last = scalar(l.clone());
        first.get_or_insert(last);
        let grads = GradientsParams::from_grads(l.backward(), &net);
        net = optim.step(0.05, net, grads);
    }
    (first.unwrap_or(last), last)
}

#[test]
fn fixed_children_overfit_a_tiny_batch() {
    let _turn = turn();
    let device = device();
    let micro = MicroArch::from_enas_string(ENAS_FINAL).unwrap();
    let net = MicroNetConfig::new(4)
        .with_in_channels(1)
        .with_image_size(8)
        .with_layers(3)
        .with_channels(8)
        .with_aux_head(false)
        .with_drop_path_keep(1.0)
        .with_dropout(0.0)
        .init(&micro, &device)
        .unwrap();
    let (first, last) = overfit(net, 1, 8, 30);
    assert!(last < 0.3 * first, "MicroNet: loss {first} -> {last}");

    let mac = MacroArch::from_enas_string("0 1 1 3 0 1 4 1 0 0 2 0 1 1 0 5 1 0 0 1 0").unwrap();
    let net = MacroNetConfig::new(4)
        .with_in_channels(1)
        .with_image_size(8)
        .with_channels(8)
        .with_dropout(0.0)
        .init(&mac, &device)
        .unwrap();
    let (first, last) = overfit(net, 1, 8, 30);
    assert!(last < 0.3 * first, "MacroNet: loss {first} -> {last}");

    let rl = NasRlSpace::new(4)
        .unwrap()
        .sample(&mut ChaCha8Rng::seed_from_u64(3))
        .unwrap();
    let net = NasRlNetConfig::new(4)
        .with_in_channels(1)
        .with_image_size(8)
        .with_filter_scale(0.5)
        .init(&rl, &device)
        .unwrap();
    let (first, last) = overfit(net, 1, 8, 30);
    assert!(last < 0.3 * first, "NasRlNet: loss {first} -> {last}");
}

fn supernet_step_touches_only_the_path<M: Module>(
    model: M,
    forward: impl Fn(&M) -> burn::tensor::Tensor<2>,
) -> (usize, usize) {
    let device = device();
    let (_, y) = batch(4, 1, 8, 3, &device);
    let l = loss(forward(&model), y);
    let (model, before) = sgd_step(model, l, 0.1);
    let after = snapshot(&model, None);
    let mut on_path = 0;
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b.id, a.id);
        // Parameters off the path neither got a gradient nor moved.
        if !b.has_grad {
            assert_eq!(b.values, a.values, "a parameter without gradient changed");
        } else {
            on_path += 1;
            // A branch's own batch norm feeding straight into the layer's batch norm (a layer
            // without skips) is scale- and shift-invariant: its gradient is zero up to rounding
            // (~1e-7), too small to move a value of 1.0 in f32. Every other parameter on the path
            // must move.
            if b.grad_max < 1e-5 {
                assert!(
                    b.path.ends_with("bn.gamma") || b.path.ends_with("bn.beta"),
                    "a parameter on the path got a vanishing gradient: {} (max |grad| {:e})",
                    b.path,
                    b.grad_max
                );
                continue;
            }
            assert_ne!(
                b.values, a.values,
                "a parameter with gradient did not change: {} (max |grad| {:e})",
                b.path, b.grad_max
            );
        }
    }
    (on_path, before.len())
}

#[test]
fn micro_supernet_step_changes_only_the_sampled_path() {
    let _turn = turn();
    let device = device();
    let space = MicroSpace::default();
    let net = MicroSupernetConfig::new(3)
        .with_in_channels(1)
        .with_image_size(8)
        .with_layers(3)
        .with_channels(4)
        .init(&space, &device)
        .unwrap();
    let arch = MicroArch::from_enas_string(ENAS_FINAL).unwrap();
    let (x, _) = batch(4, 1, 8, 3, &device);
    let (on_path, total) = supernet_step_touches_only_the_path(net, |m| {
        m.forward(x.clone(), &arch, Mode::TRAIN).unwrap()
    });
    assert!(
        on_path > 0 && on_path * 4 < total,
        "{on_path} of {total} parameters on the path"
    );
}

#[test]
fn macro_supernet_step_changes_only_the_sampled_path() {
    let _turn = turn();
    let device = device();
    let space = MacroSpace::new(6, &MacroOp::ALL).unwrap();
    let net = MacroSupernetConfig::new(3)
        .with_in_channels(1)
        .with_image_size(8)
        .with_channels(4)
        .init(&space, &device)
        .unwrap();
    let arch = space.sample(&mut ChaCha8Rng::seed_from_u64(5)).unwrap();
    let (x, _) = batch(4, 1, 8, 3, &device);
    let (on_path, total) = supernet_step_touches_only_the_path(net, |m| {
        m.forward(x.clone(), &arch, Mode::TRAIN).unwrap()
    });
    assert!(
        on_path > 0 && on_path * 2 < total,
        "{on_path} of {total} parameters on the path"
    );
}

#[test]
fn parameter_counts_match_hand_computed_values() {
    let _turn = turn();
    let device = device();
    let layer = |h, w, filters, inputs: Vec<usize>| NasRlLayer {
        filter_height: h,
        filter_width: w,
        filters,
        stride: 1,
        stride_width: None,
        inputs,
    };
    // conv 1·4·3·3 = 36, BN 8, linear 4·2 + 2 = 10.
    let one = NasRlArch {
        layers: vec![layer(3, 3, 4, vec![])],
    };
    let net = NasRlNetConfig::new(2)
        .with_in_channels(1)
        .with_image_size(8)
        .init(&one, &device)
        .unwrap();
    assert_eq!(net.param_count(), 54);
    // + 1×1 conv 4·6 = 24, BN 12; the classifier reads layer 1 only: 6·2 + 2 = 14.
    let two = NasRlArch {
        layers: vec![layer(3, 3, 4, vec![]), layer(1, 1, 6, vec![0])],
    };
    let net = NasRlNetConfig::new(2)
        .with_in_channels(1)
        .with_image_size(8)
        .init(&two, &device)
        .unwrap();
    assert_eq!(net.param_count(), 36 + 8 + 24 + 12 + 14);

    // Macro, C = 4: stem 36 + BN 8; avg-pool branch: 1×1 conv 16 + BN 8; linear 10.
    let l0 = MacroLayer {
        op: MacroOp::AvgPool3x3,
        skips: vec![],
    };
    let net = MacroNetConfig::new(2)
        .with_in_channels(1)
        .with_image_size(8)
        .with_channels(4)
        .init(
            &MacroArch {
                layers: vec![l0.clone()],
            },
            &device,
        )
        .unwrap();
    assert_eq!(net.param_count(), 78);
    // + conv_3x3 branch (16 + 8 + 144 + 8) + skip merge of 2·4 → 4 channels (32 + 8).
    let l1 = MacroLayer {
        op: MacroOp::Conv3x3,
        skips: vec![0],
    };
    let net = MacroNetConfig::new(2)
        .with_in_channels(1)
        .with_image_size(8)
        .with_channels(4)
        .init(
            &MacroArch {
                layers: vec![l0, l1],
            },
            &device,
        )
        .unwrap();
    assert_eq!(net.param_count(), 78 + 176 + 40);

    // Micro, L = 0 (two reduction cells), C = 2, one node: identity(x1) + identity(x1).
    let node = burn_nas_space::Node {
        inputs: [1, 1],
        ops: [MicroOp::Identity; 2],
    };
    let cell = burn_nas_space::Cell { nodes: vec![node] };
    let arch = MicroArch {
        normal: cell.clone(),
        reduce: cell,
    };
    let config = MicroNetConfig::new(2)
        .with_in_channels(1)
        .with_image_size(8)
        .with_layers(0)
        .with_channels(2)
        .with_aux_head(false);
    let net = config
        .clone()
        .with_cell_style(CellStyle::Projected)
        .init(&arch, &device)
        .unwrap();
    // stem 54 + 12; cell 0: calibrations 2×32, two stride-2 identities 2×24, loose x0 24,
    // projection 40; cell 1: reduce x0 64, calibrate x1 48, identities 2×80, loose x0 80,
    // projection 144; linear 18.
    assert_eq!(net.param_count(), 66 + 176 + 496 + 18);
    // ENAS's fixed cell: `layer_base` on x1 (24, 80), no projection; cell 0 outputs 2 × 4
    // channels, which is cell 1's width (no calibration of x1); the classifier reads 2 × 8.
    let net = config.init(&arch, &device).unwrap();
    assert_eq!(
        net.param_count(),
        66 + (64 + 24 + 48 + 24) + (64 + 80 + 160 + 80) + 34
    );
}

#[test]
fn official_enas_micro_network_builds_at_final_size() {
    let _turn = turn();
    let device = burn::tensor::Device::flex();
    let arch = MicroArch::from_enas_string(ENAS_FINAL).unwrap();
    let net = MicroNetConfig::new(10).init(&arch, &device).unwrap();
    let params = net.param_count();
    let macs = net.macs();
    println!(
        "ENAS final micro network (L = 15, C = 36, CIFAR-10, aux head): {params} parameters, {macs} MACs per image"
    );
    // The ENAS paper reports 4.6M.
    assert!((4_370_000..=4_830_000).contains(&params), "{params}");
    // Without the auxiliary head: the official code's variable shapes for this architecture
    // (`_fixed_layer`, `_fixed_combine`, `_maybe_calibrate_size`, stem and classifier of
    // `micro_child.py`, counted by hand: 3,894,372) plus the 10 biases of our classifier.
    let bare = MicroNetConfig::new(10)
        .with_aux_head(false)
        .init(&arch, &device)
        .unwrap();
    assert_eq!(bare.param_count(), 3_894_372 + 10);
    let x = burn::tensor::Tensor::<4>::zeros([1, 3, 32, 32], &device);
    assert_eq!(net.forward(x, Mode::EVAL).dims(), [1, 10]);
}

#[test]
fn impossible_network_settings_are_errors() {
    let _turn = turn();
    let device = device();
    let arch = MicroArch::from_enas_string(ENAS_FINAL).unwrap();
    for (config, field) in [
        (MicroNetConfig::new(1), "classes"),
        (MicroNetConfig::new(10).with_image_size(7), "image_size"),
        (MicroNetConfig::new(10).with_in_channels(0), "in_channels"),
        (MicroNetConfig::new(10).with_dropout(1.0), "dropout"),
    ] {
        match config.init(&arch, &device) {
            Err(NetError::Config { field: f, .. }) => assert_eq!(f, field),
            other => panic!(
                "expected a config error for {field}, got {:?}",
                other.map(|_| ())
            ),
        }
    }
}

/// The official final macro architecture (`scripts/cifar10_macro_final.sh`: 24 layers, ops 0-3
/// only), one layer per line.
const ENAS_MACRO_FINAL: &str = "0
3 0
0 1 0
2 0 0 1
2 0 0 0 0
3 1 1 0 1 0
2 0 0 0 0 0 1
2 0 1 1 0 1 1 1
1 0 1 1 1 0 1 0 1
0 0 0 0 0 0 0 0 0 0
2 0 0 0 0 0 1 0 0 0 0
0 1 0 0 1 1 0 0 0 0 1 1
2 0 1 0 0 0 0 0 1 0 1 1 0
1 0 0 1 0 0 0 1 1 1 0 1 0 1
0 1 1 0 1 0 1 0 0 0 0 0 1 0 0
2 0 0 1 0 0 0 0 0 0 0 1 0 1 0 1
2 0 1 0 0 0 1 0 0 1 1 1 1 0 0 1 0
2 0 0 0 0 1 0 1 0 1 0 0 1 0 1 0 0 1
3 0 1 1 0 1 0 0 0 0 0 1 0 1 0 1 0 0 0
3 0 1 1 0 0 0 0 0 0 0 0 0 1 1 0 0 0 0 1
0 1 0 0 1 0 1 1 0 0 0 1 0 0 0 0 0 1 1 0 0
3 0 1 0 1 1 0 0 1 0 1 1 0 1 1 0 1 0 0 1 0 0
0 1 0 1 0 1 0 0 0 0 0 0 0 0 1 0 1 0 0 1 0 0 0
0 1 1 0 0 0 1 1 1 0 1 0 0 0 1 0 1 0 0 1 1 0 0 0";

#[test]
fn official_enas_macro_network_builds_at_final_size() {
    let _turn = turn();
    let device = burn::tensor::Device::flex();
    let arch = MacroArch::from_enas_string(ENAS_MACRO_FINAL).unwrap();
    assert_eq!(arch.layers.len(), 24);
    let net = MacroNetConfig::new(10).init(&arch, &device).unwrap();
    let params = net.param_count();
    println!(
        "ENAS final macro network (24 layers, 96 channels, CIFAR-10): {params} parameters, {} MACs per image",
        net.macs()
    );
    // The paper reports 21.3M; the official code's variable shapes for this architecture give
    // 42,559,392 (its fixed network builds the separable branches as full convolutions and
    // reduces every earlier output at both pooling points); ours keeps separable convolutions
    // separable and reduces only the outputs read later (docs/networks.md).
    assert_eq!(params, 30_854_122);
    let x = burn::tensor::Tensor::<4>::zeros([1, 3, 32, 32], &device);
    assert_eq!(net.forward(x, Mode::EVAL).dims(), [1, 10]);
}
