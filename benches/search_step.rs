//! Criterion bench of the ENAS search step in a small configuration (batch 8, `C = 8`,
//! 3 layers, 16×16): the micro and macro shared-weight training steps, a fixed child's
//! training step and forward-only scoring. The reference-size numbers come from
//! `examples/bench.rs`; see `docs/performance.md`.
//!
//! ```text
//! cargo bench --bench search_step
//! cargo bench --bench search_step --features mimalloc
//! ```

use burn_nas::backend::Device;
use burn_nas_bench::{Bench, BenchConfig, Workload};
use criterion::{Criterion, criterion_group, criterion_main};
use std::time::{Duration, Instant};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn small(workload: Workload) -> BenchConfig {
    BenchConfig {
        batch: 8,
        channels: 8,
        layers: 3,
        image_size: 16,
        ..BenchConfig::new(workload)
    }
}

fn search_step(c: &mut Criterion) {
    let device = Device::flex();
    let mut group = c.benchmark_group("search_step");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for workload in Workload::ALL {
        let config = small(workload);
        let mut bench = match Bench::new(&config, &device) {
            Ok(b) => b,
            Err(e) => panic!("cannot build {workload}: {e}"),
        };
        group.bench_function(workload.bench_name(), |b| {
            // Time only the step itself (inputs are made outside the clock by `step`).
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let wall = Instant::now();
                    match bench.step() {
                        Ok(s) => {
                            total += Duration::from_secs_f64(s.min(wall.elapsed().as_secs_f64()))
                        }
                        Err(e) => panic!("{workload} step failed: {e}"),
                    }
                }
                total
            });
        });
    }
    group.finish();
}

criterion_group!(benches, search_step);
criterion_main!(benches);
