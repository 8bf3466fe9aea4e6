//! The space crate's integration tests, one module per file. They are one test binary
//! rather than one per file so that a newcomer's `cargo test --release --workspace` compiles
//! and links them once; run one file's tests with a filter, e.g.
//! `cargo test --release --workspace --test space dot::`.

mod dot;
mod enas_official;
mod errors;
mod nas_rl_anchor;
mod parsers_fuzz;
mod round_trips;
mod sizes;
