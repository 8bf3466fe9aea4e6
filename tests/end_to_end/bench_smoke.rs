//! Smoke run of every benchmark workload in a tiny configuration (CI runs it; no timing
//! assertion): the workloads build, step, and report in the reference format.

use crate::support;
use burn_nas::backend::{Device, DeviceSpec};
use burn_nas_bench::{BenchConfig, PROFILED_OPS, Workload, profile_ops, run};

#[test]
fn every_workload_runs_one_tiny_step() {
    let _turn = support::turn();
    for workload in Workload::ALL {
        let config = BenchConfig {
            warmup: 1,
            ..BenchConfig::tiny(workload)
        };
        let report = run(&config, &DeviceSpec::Flex).unwrap_or_else(|e| panic!("{workload}: {e}"));
        assert_eq!(report.seconds.len(), 1);
        assert!(report.median_seconds() > 0.0);
        let line = report.to_string();
        assert!(line.starts_with(workload.bench_name()), "{line}");
        assert!(
            line.contains("median_step_s=") && line.contains("images_per_s="),
            "{line}"
        );
    }
}

#[test]
fn scoring_on_the_autodiff_device_runs_too() {
    let _turn = support::turn();
    let config = BenchConfig {
        score_on_autodiff: true,
        ..BenchConfig::tiny(Workload::Score)
    };
    assert!(run(&config, &DeviceSpec::Flex).is_ok());
}

#[test]
fn op_profile_covers_every_op_at_three_shapes() {
    let _turn = support::turn();
    let timings = profile_ops(2, 4, 8, 1, &Device::flex()).expect("profile");
    assert_eq!(timings.len(), 3 * PROFILED_OPS.len());
    assert_eq!(timings[0].shape, [2, 4, 8, 8]);
    assert_eq!(timings.last().map(|t| t.shape), Some([2, 16, 2, 2]));
}

#[test]
fn zero_sizes_are_errors_not_panics() {
    let config = BenchConfig {
        steps: 0,
        ..BenchConfig::tiny(Workload::Micro)
    };
    assert!(run(&config, &DeviceSpec::Flex).is_err());
    assert!(profile_ops(0, 4, 8, 1, &Device::flex()).is_err());
}
