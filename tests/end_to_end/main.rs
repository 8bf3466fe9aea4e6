//! The end-to-end tests: searches, estimators and examples on real data through the public
//! API. They are one test binary rather than one per file because each binary instantiates
//! and links the whole search stack again: as one, a newcomer's `cargo test --release
//! --workspace` compiles it once. Run one file's tests with a filter, e.g.
//! `cargo test --release --workspace --test end_to_end matrix::`.
//!
//! The tests share one process, and so the device's random generator (burn's generators are
//! per process): every test that builds or trains a network holds [`support::turn`] while it
//! runs, so a seeded run sees the same draws whatever runs beside it.

#[path = "../../examples/chain/mod.rs"]
mod chain;
#[path = "../support/mod.rs"]
mod support;

mod bench_smoke;
mod checkpoint_fuzz;
mod custom_space;
mod matrix;
mod morphism_search;
mod multi_fidelity;
mod paper_presets;
mod parallel;
mod parallel_inheritance;
mod search;
mod search_quality;
