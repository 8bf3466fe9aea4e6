//! Controller sampling speed: architectures per second for each space, one at a time and in
//! batches of 40 (one batched pass of the LSTM), plus one REINFORCE update of 40.
//!
//! ```text
//! cargo bench -p burn-nas-controller --bench sampling
//! ```
//! Throughput is reported in elements (= architectures) per second.

use burn::tensor::Device;
use burn_nas_controller::{Reinforce, ReinforceConfig, SearchStrategy};
use burn_nas_space::{MacroSpace, MicroSpace, NasRlSpace, SearchSpace};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn bench_space<S: SearchSpace>(c: &mut Criterion, name: &str, space: S, config: ReinforceConfig)
where
    S::Arch: Clone,
{
    let mut controller = match Reinforce::new(space, config, Device::flex()) {
        Ok(c) => c,
        Err(e) => panic!("{name}: {e}"),
    };
    let mut group = c.benchmark_group(format!("controller/{name}"));
    group.sample_size(10);
    for batch in [1usize, 40] {
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(format!("sample x{batch}"), |b| {
            b.iter(|| controller.propose(batch).map(|p| p.len()).unwrap_or(0))
        });
    }
    group.throughput(Throughput::Elements(40));
    group.bench_function("update x40", |b| {
        b.iter(|| {
            let results: Vec<_> = controller
                .propose(40)
                .unwrap_or_default()
                .into_iter()
                .map(|p| (p, 0.5))
                .collect();
            controller.observe(&results).is_ok()
        })
    });
    group.finish();
}

fn controller_sampling(c: &mut Criterion) {
    bench_space(
        c,
        "enas_micro",
        MicroSpace::default(),
        ReinforceConfig::enas_micro(),
    );
    bench_space(
        c,
        "enas_macro",
        MacroSpace::default(),
        ReinforceConfig::enas_macro(),
    );
    match NasRlSpace::new(15) {
        Ok(space) => bench_space(c, "nas_rl_15", space, ReinforceConfig::nas_rl()),
        Err(e) => panic!("nas_rl: {e}"),
    }
}

criterion_group!(benches, controller_sampling);
criterion_main!(benches);
