//! Tour of the search spaces: their sizes, the official ENAS micro architecture in every
//! format, and seeded random architectures of the other spaces.
//!
//! ```text
//! cargo run --release --example spaces
//! ```

use burn_nas::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const ENAS_FINAL_MICRO: &str =
    "0 2 0 0 0 4 0 1 0 4 1 1 1 0 0 1 0 2 1 1 1 0 1 0 0 3 0 2 1 1 3 1 1 0 0 4 0 3 1 1";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let micro = MicroSpace::default();
    let macro_space = MacroSpace::default();
    let nas_rl = NasRlSpace::new(15)?.with_strides(&[1, 2, 3])?;
    println!("search space sizes (token sequences):");
    println!(
        "  ENAS micro, B = 5:          {} ({} decisions)",
        micro.size(),
        micro.decisions().len()
    );
    println!(
        "  ENAS macro, L = 12:         {} ({} decisions)",
        macro_space.size(),
        macro_space.decisions().len()
    );
    println!(
        "  NAS-RL, 15 layers, strides: {} ({} decisions)",
        nas_rl.size(),
        nas_rl.decisions().len()
    );

    let arch = MicroArch::from_enas_string(ENAS_FINAL_MICRO)?;
    println!("\nthe final ENAS micro architecture:\n{arch}");
    println!("\nas an ENAS string:\n{}", arch.to_enas_string());
    println!("\nas JSON:\n{}", arch.to_json());
    println!("\nas Graphviz (pipe into `dot -Tpng`):\n{}", arch.to_dot());

    let mut rng = ChaCha8Rng::seed_from_u64(2018);
    let m = macro_space.sample(&mut rng)?;
    println!(
        "a random ENAS macro architecture (seed 2018):\n{m}\n{}",
        m.to_enas_string()
    );
    let n = NasRlSpace::new(6)?.sample(&mut rng)?;
    println!("\na random 6-layer NAS-RL architecture:\n{n}");
    Ok(())
}
