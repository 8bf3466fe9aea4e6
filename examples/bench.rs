//! The ENAS search-step benchmark, in the format of the PyTorch reference
//! (`shared/bench/enas_micro_step.py`): median seconds per step and images per second.
//!
//! ```text
//! cargo run --release --example bench -- --help
//! cargo run --release --example bench                        # enas_micro_step, reference sizes
//! cargo run --release --example bench -- --workload macro    # macro supernet, 12 layers, C = 36
//! cargo run --release --example bench -- --workload child    # one fixed child's training step
//! cargo run --release --example bench -- --workload plain    # NAS-RL child, plain 3×3 convs
//! cargo run --release --example bench -- --workload score    # forward-only scoring, no autodiff
//! cargo run --release --example bench -- --workload ops      # per-op forward/backward profile
//! cargo run --release --example bench -- --sizes main         # the main command's search step
//! cargo run --release --example bench -- --sizes main --workload score   # … its scoring pass
//! cargo run --release --example bench -- --sizes main --workload child   # … its retraining step
//! cargo run --release --example bench -- --sizes paper --device cuda   # the ENAS paper's sizes
//! cargo run --release --example bench -- --device cuda --compare-with flex --steps 5
//!                                              # same weights and inputs: losses on both devices
//! cargo run --release --features mimalloc --example bench    # with mimalloc as the allocator
//! ```

use burn_nas::backend::DeviceSpec;
use burn_nas_bench::{BenchConfig, Workload, compare_devices, compare_ops, profile_ops, run};
use clap::{Parser, ValueEnum};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// What to time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Which {
    /// Shared-weight training step of the ENAS micro supernet (the reference workload).
    Micro,
    /// Shared-weight training step of the ENAS macro supernet.
    Macro,
    /// Training step of one fixed micro child network.
    Child,
    /// Training step of a NAS-RL child of three plain 3×3 convolutions (1×28×28 inputs;
    /// `shared/bench/plain_cnn_train.py`'s network).
    Plain,
    /// Forward-only scoring of sampled architectures with the micro supernet.
    Score,
    /// Forward and forward + backward of the individual ops at the supernet's shapes.
    Ops,
}

/// Which sizes a workload runs at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Sizes {
    /// The PyTorch reference's (batch 64, `L = 6`, `C = 20`, 32×32; macro and plain: their own).
    Reference,
    /// The README's main command's: its search step (micro), scoring pass (score) and
    /// retraining step (child).
    Main,
    /// The ENAS paper's CIFAR-10 runs': micro search step (batch 160, `L = 6`, `C = 20`),
    /// scoring pass (160), macro search step (128, 12 layers, `C = 36`), final network's step
    /// (144, `L = 15`, `C = 36`).
    Paper,
}

/// Times the ENAS search step (and its parts) on a burn device.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "Times the ENAS search step (and its parts) in the format of the PyTorch reference"
)]
struct Args {
    /// Workload.
    #[arg(long, value_enum, default_value_t = Which::Micro)]
    workload: Which,
    /// Device: `flex`, `wgpu`, `wgpu:N`, `wgpu:cpu`, `cuda:N`, `remote:ws://HOST:PORT`.
    #[arg(long, default_value = "flex")]
    device: DeviceSpec,
    /// Timed steps (ops: timed repetitions per op).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    steps: u64,
    /// Untimed steps before the timed ones.
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// Sizes of the workload (the flags below override them).
    #[arg(long, value_enum, default_value_t = Sizes::Reference)]
    sizes: Sizes,
    /// Images per step (default: 64).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    batch: Option<u64>,
    /// Channels of the first cells (default: 20; macro: 36; plain: 48, the first layer's filters).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    channels: Option<u64>,
    /// Normal layers (default: 6; macro: 12).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    layers: Option<u64>,
    /// Image height and width (default: 32; plain: 28).
    #[arg(long, value_parser = clap::value_parser!(u64).range(8..))]
    hw: Option<u64>,
    /// Seed of weights, inputs and architectures.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Worker threads of the CPU backend (default: rayon's, one per core).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    threads: Option<u64>,
    /// Score workload: run the scoring pass on the autodiff device (for comparison).
    #[arg(long)]
    score_on_autodiff: bool,
    /// Instead of timing: run the first `--steps` steps on `--device` and on this device from
    /// the same weights and inputs (drawn on the CPU), print both devices' losses, and fail
    /// when they differ by more than `--tolerance`. With `--workload ops`: compare each op's
    /// forward output with flex's (the reference is always flex).
    #[arg(long)]
    compare_with: Option<DeviceSpec>,
    /// Largest accepted absolute difference between the two devices' losses of a step.
    #[arg(long, default_value_t = 1e-2)]
    tolerance: f64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n as usize)
            .build_global()?;
    }
    let workload = match args.workload {
        Which::Micro => Workload::Micro,
        Which::Macro => Workload::Macro,
        Which::Child => Workload::Child,
        Which::Plain => Workload::Plain,
        Which::Score => Workload::Score,
        Which::Ops => {
            let defaults = match args.sizes {
                Sizes::Reference => BenchConfig::new(Workload::Micro),
                Sizes::Main => BenchConfig::main_command(Workload::Micro)
                    .ok_or("the main command has no micro search step")?,
                Sizes::Paper => BenchConfig::paper(Workload::Micro)
                    .ok_or("the paper has no micro search step")?,
            };
            let batch = args.batch.map_or(defaults.batch, |b| b as usize);
            let channels = args.channels.map_or(defaults.channels, |c| c as usize);
            let hw = args.hw.map_or(defaults.image_size, |h| h as usize);
            if args.compare_with.is_some() {
                let comparisons = compare_ops(batch, channels, hw, &args.device)?;
                let mut worst = 0.0_f64;
                for comparison in comparisons {
                    println!("{comparison}");
                    worst = worst.max(comparison.max_abs_diff);
                }
                if worst > args.tolerance {
                    return Err(format!(
                        "an op's output on {} differs from flex's by {worst:.6} (tolerance {})",
                        args.device, args.tolerance
                    )
                    .into());
                }
                return Ok(());
            }
            let timings = profile_ops(
                batch,
                channels,
                hw,
                args.steps as usize,
                &args.device.to_device()?,
            )?;
            println!(
                "ops burn-nas-{} device={}",
                env!("CARGO_PKG_VERSION"),
                args.device
            );
            for t in timings {
                println!("{t}");
            }
            return Ok(());
        }
    };
    let defaults = match args.sizes {
        Sizes::Reference => BenchConfig::new(workload),
        Sizes::Main => BenchConfig::main_command(workload).ok_or_else(|| {
            format!(
                "the main command runs no {:?} workload: --sizes main takes micro, score or child",
                args.workload
            )
        })?,
        Sizes::Paper => BenchConfig::paper(workload).ok_or_else(|| {
            format!(
                "the paper runs no {:?} workload: --sizes paper takes micro, score, macro or child",
                args.workload
            )
        })?,
    };
    let config = BenchConfig {
        batch: args.batch.map_or(defaults.batch, |b| b as usize),
        channels: args.channels.map_or(defaults.channels, |c| c as usize),
        layers: args.layers.map_or(defaults.layers, |l| l as usize),
        image_size: args.hw.map_or(defaults.image_size, |h| h as usize),
        steps: args.steps as usize,
        warmup: args.warmup as usize,
        seed: args.seed,
        score_on_autodiff: args.score_on_autodiff,
        ..defaults
    };
    if let Some(reference) = &args.compare_with {
        let comparison = compare_devices(&config, &args.device, reference)?;
        println!("{comparison}");
        let diff = comparison.max_abs_diff();
        if diff > args.tolerance {
            return Err(format!(
                "{} and {reference} differ by {diff:.6} in a step's loss (tolerance {})",
                args.device, args.tolerance
            )
            .into());
        }
        return Ok(());
    }
    let report = run(&config, &args.device)?;
    println!("{report}");
    Ok(())
}
