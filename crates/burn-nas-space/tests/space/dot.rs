//! Graphviz output: every node and edge of the architecture is in the graph.

use burn_nas_space::{Architecture, MacroSpace, MicroArch, NasRlSpace, SearchSpace};
use rand::SeedableRng;

fn edges(dot: &str) -> usize {
    dot.lines().filter(|l| l.contains("->")).count()
}

fn balanced(dot: &str) -> bool {
    dot.matches('{').count() == dot.matches('}').count() && dot.trim_end().ends_with('}')
}

#[test]
fn micro_dot_has_two_edges_per_node_plus_outputs() {
    let arch = MicroArch::from_enas_string(
        "0 2 0 0 0 4 0 1 0 4 1 1 1 0 0 1 0 2 1 1 1 0 1 0 0 3 0 2 1 1 3 1 1 0 0 4 0 3 1 1",
    )
    .unwrap();
    let dot = arch.to_dot();
    assert!(dot.starts_with("digraph enas_micro {"));
    assert!(balanced(&dot));
    // 10 op edges per cell, plus loose ends: 5 (normal) + 4 (reduce).
    assert_eq!(edges(&dot), 20 + 5 + 4);
    assert!(
        dot.contains("normal_x0 -> normal_x2 [label=\"avg_pool_3x3\"]"),
        "{dot}"
    );
    assert!(
        dot.contains("reduce_x3 -> reduce_x4 [label=\"sep_conv_5x5\"]"),
        "{dot}"
    );
}

#[test]
fn macro_and_nas_rl_dot_cover_every_connection() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let space = MacroSpace::default();
    let arch = space.sample(&mut rng).unwrap();
    let dot = arch.to_dot();
    let skips: usize = arch.layers.iter().map(|l| l.skips.len()).sum();
    // input -> l0, the chain of 11, every skip, l11 -> output.
    assert_eq!(edges(&dot), 1 + 11 + skips + 1);
    assert!(balanced(&dot));

    let space = NasRlSpace::new(8).unwrap();
    let arch = space.sample(&mut rng).unwrap();
    let dot = arch.to_dot();
    let inputs: usize = arch.layers.iter().map(|l| l.inputs.len().max(1)).sum();
    assert_eq!(edges(&dot), inputs + arch.outputs().len());
    assert!(balanced(&dot));
}
