//! The controller crate's integration tests, one module per file. They are one test binary
//! rather than one per file so that a newcomer's `cargo test --release --workspace` compiles
//! and links them once; run one file's tests with a filter, e.g.
//! `cargo test --release --workspace --test controller baselines::`.

mod baselines;
mod depth_schedule;
mod reinforce;
