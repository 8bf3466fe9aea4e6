//! A worker: serves one local device to searchers on other machines (or other processes)
//! through burn's remote backend, so that a multi-trial search can list it in `--devices`.
//!
//! ```text
//! # on each GPU machine (build with --features remote,cuda for a GPU)
//! cargo run --release --features remote,cuda --example worker -- --device cuda:0 --port 3000
//! # on the searcher
//! cargo run --release --features remote --example nas_rl -- \
//!     --devices remote:ws://gpu-a:3000,remote:ws://gpu-b:3000
//! ```
//!
//! The first line on stdout is `serving <device> on ws://<addr>` (with the real port when
//! `--port 0` asked for a free one). Stops on Ctrl-C or SIGTERM. The WebSocket transport is
//! neither encrypted nor authenticated: use it on a trusted network.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use burn_nas::backend::{DeviceSpec, Worker};
use clap::Parser;

/// Serves a local device to burn-nas searchers (burn remote server, WebSocket).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Device to serve: flex (CPU), wgpu[:N|:cpu], cuda[:N].
    #[arg(long, default_value = "flex", env = "BURN_NAS_DEVICE")]
    device: DeviceSpec,
    /// TCP port to listen on (0: any free port, printed on the first line).
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// Address to listen on (0.0.0.0: every interface; 127.0.0.1: this machine only).
    #[arg(long, default_value = "0.0.0.0")]
    bind: IpAddr,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let worker = match Worker::bind(&cli.device, SocketAddr::new(cli.bind, cli.port)) {
        Ok(worker) => worker,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("serving {} on ws://{}", worker.spec(), worker.local_addr());
    // Whoever started us may be waiting for that line before connecting.
    let _ = std::io::stdout().flush();
    match worker.serve() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
