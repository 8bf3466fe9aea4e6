//! The wgpu backend computes what flex computes: one shared-weight training step of a tiny ENAS
//! micro supernet, and two epochs of training a tiny NAS-RL child, start from the same weights
//! on both devices and give the same losses within float tolerance.
//!
//! Runs on wgpu's default adapter: in CI that is Mesa's software Vulkan driver (lavapipe,
//! Debian's `mesa-vulkan-drivers`, installed by `.ci/run`), so it needs no GPU — and it fails,
//! rather than skips, on a machine without any Vulkan/Metal/DX12 adapter. Sizes are tiny:
//! lavapipe is several times slower than flex.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};
use burn_nas::backend::{DeviceSpec, WgpuAdapter, device_rng_guard};
use burn_nas::data::{Augmentation, fashion_mnist};
use burn_nas::estimator::{
    Control, CosineWarmRestarts, EpochStats, module_from_bytes, module_to_bytes, train,
};
use burn_nas::nn::{MicroSupernet, MicroSupernetConfig, Mode};
use burn_nas::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn flex() -> Device {
    Device::flex()
}

fn wgpu() -> Device {
    DeviceSpec::Wgpu(WgpuAdapter::Default)
        .to_device()
        .expect("this build has the wgpu feature")
}

/// `|a − b| ≤ tol · max(1, |a|)`.
fn assert_close(a: f32, b: f32, tol: f32, what: &str) {
    assert!(a.is_finite() && b.is_finite(), "{what}: {a} vs {b}");
    assert!(
        (a - b).abs() <= tol * a.abs().max(1.0),
        "{what}: flex {a} vs wgpu {b} (tolerance {tol})"
    );
}

fn supernet(on: &Device) -> MicroSupernet {
    MicroSupernetConfig::new(10)
        .with_image_size(8)
        .with_layers(3)
        .with_channels(4)
        .with_dropout(0.0)
        .init(&MicroSpace::default(), on)
        .unwrap()
}

/// A batch drawn on the host, so both devices see the same numbers.
fn batch(rng: &mut ChaCha8Rng, on: &Device) -> (Tensor<4>, Tensor<1, Int>) {
    let n = 8;
    let pixels: Vec<f32> = (0..n * 3 * 8 * 8)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let labels: Vec<i64> = (0..n).map(|_| rng.random_range(0..10)).collect();
    (
        Tensor::from_data(TensorData::new(pixels, [n, 3, 8, 8]), on),
        Tensor::from_data(TensorData::new(labels, [n]), on),
    )
}

/// Loss of `arch` on the batch, one SGD step, and the loss on the same batch after it.
fn supernet_step(net: MicroSupernet, arch: &MicroArch, on: &Device) -> (f32, f32) {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (x, y) = batch(&mut rng, on);
    let ce = CrossEntropyLossConfig::new().init(on);
    let loss = ce.forward(
        net.forward(x.clone(), arch, Mode::TRAIN).unwrap(),
        y.clone(),
    );
    let before = loss.clone().into_scalar::<f32>();
    let grads = GradientsParams::from_grads(loss.backward(), &net);
    let net = SgdConfig::new().init().step(0.1, net, grads);
    let after = ce
        .forward(net.forward(x, arch, Mode::TRAIN).unwrap(), y)
        .into_scalar::<f32>();
    (before, after)
}

#[test]
fn a_supernet_step_on_wgpu_matches_flex() {
    // flex's generator is one per process: no other test of this file draws meanwhile.
    let _guard = device_rng_guard();
    let (flex, wgpu) = (flex().autodiff(), wgpu().autodiff());
    flex.seed(1);
    let on_flex = supernet(&flex);
    let weights = module_to_bytes(&on_flex).unwrap();
    let on_wgpu = module_from_bytes(supernet(&wgpu), &weights).unwrap();
    let arch = MicroSpace::default()
        .sample(&mut ChaCha8Rng::seed_from_u64(5))
        .unwrap();

    let (f0, f1) = supernet_step(on_flex, &arch, &flex);
    let (w0, w1) = supernet_step(on_wgpu, &arch, &wgpu);
    assert_close(f0, w0, 1e-4, "loss before the step");
    assert_close(f1, w1, 1e-3, "loss after the step");
    // The step did something, so the second comparison checks gradients and the update.
    assert!(
        f1 < f0 - 1e-3,
        "the step did not lower the loss: {f0} → {f1}"
    );
}

#[test]
fn training_a_child_on_wgpu_matches_flex() {
    let _guard = device_rng_guard();
    let (train_set, _) = fashion_mnist::load_embedded().unwrap();
    let train_set = train_set.subset(&(0..160).collect::<Vec<_>>()).unwrap();
    let task = Task::split(train_set, 40, None)
        .unwrap()
        .reduced(1.0, Some(10), 0)
        .unwrap();
    let config = TrainConfig {
        epochs: 2,
        batch_size: 20,
        lr: CosineWarmRestarts::single(0.05, 0.005, 2),
        augmentation: Augmentation::none(),
        eval_batch_size: 40,
        seed: 4,
        ..TrainConfig::default()
    };
    let space = NasRlSpace::with_options(2, &[3], &[3], &[8], None).unwrap();
    let arch = space.sample(&mut ChaCha8Rng::seed_from_u64(2)).unwrap();
    let net_config = NasRlNetConfig::new(10)
        .with_in_channels(1)
        .with_image_size(10);
    let build = |on: &Device| net_config.init(&arch, on).unwrap();

    let curve = |device: &Device, weights: Option<&[u8]>| -> Vec<EpochStats> {
        let mut net = build(&device.clone().autodiff());
        if let Some(bytes) = weights {
            net = module_from_bytes(net, bytes).unwrap();
        }
        let (_, report) = train(net, &task, &config, device, |_| Control::Continue).unwrap();
        report.curve
    };
    flex().autodiff().seed(1);
    let weights = module_to_bytes(&build(&flex().autodiff())).unwrap();
    let on_flex = curve(&flex(), Some(&weights));
    let on_wgpu = curve(&wgpu(), Some(&weights));
    assert_eq!(on_flex.len(), 2);
    assert_eq!(on_wgpu.len(), 2);
    for (f, w) in on_flex.iter().zip(&on_wgpu) {
        let epoch = f.epoch;
        assert_close(
            f.train.loss as f32,
            w.train.loss as f32,
            1e-3,
            &format!("train loss, epoch {epoch}"),
        );
        assert_close(
            f.valid.loss as f32,
            w.valid.loss as f32,
            1e-3,
            &format!("valid loss, epoch {epoch}"),
        );
    }
    assert!(on_flex[1].train.loss < on_flex[0].train.loss, "{on_flex:?}");
}

/// A network built on the seeded CPU and moved to wgpu before its first use keeps the CPU's
/// weights: burn draws parameters lazily, and a plain `to_device` would have drawn them on
/// wgpu, from its own generator.
#[test]
fn a_network_moved_before_first_use_keeps_the_hosts_weights() {
    // From seeding to the last draw, no other test of this file draws from flex's generator.
    let _guard = device_rng_guard();
    let build = || {
        let host = flex();
        host.seed(11);
        burn::nn::LinearConfig::new(6, 4).init(&host)
    };
    let on_host = build().weight.val().into_data();
    let moved = burn_nas::nn::move_to_device(build(), &wgpu());
    assert_eq!(moved.weight.val().into_data(), on_host);
}

/// The bench's device comparison (the prepared GPU check's correctness part): every training
/// workload and the scoring pass, from the same weights and inputs, give flex's losses.
/// (`compare_devices` holds the generator guard itself.)
#[test]
fn the_bench_workloads_on_wgpu_give_flex_losses() {
    use burn_nas_bench::{BenchConfig, Workload, compare_devices};
    for workload in Workload::ALL {
        let config = BenchConfig {
            steps: 2,
            ..BenchConfig::tiny(workload)
        };
        let wgpu = DeviceSpec::Wgpu(WgpuAdapter::Default);
        let comparison = compare_devices(&config, &wgpu, &DeviceSpec::Flex).unwrap();
        assert_eq!(comparison.losses.len(), 2, "{comparison}");
        assert!(comparison.max_abs_diff() < 1e-3, "{comparison}");
    }
}
