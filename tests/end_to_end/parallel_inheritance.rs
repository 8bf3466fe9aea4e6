//! Evolution with weight inheritance on two `flex` workers gives exactly the sequential
//! history: children inherit from the same parents, in the same order.

use burn::tensor::Device;
use burn_nas::prelude::*;
use burn_nas::search::Evaluation;

use crate::support;
use support::{assert_same_history, half_data, task, training, turn};

fn evolution_history(devices: Option<&str>) -> Vec<Evaluation> {
    let space = MicroSpace::new(2, &MicroOp::ALL).unwrap();
    let device = Device::flex();
    device.seed(2);
    // No dropout, no drop path: training draws nothing from the device generator.
    let child = MicroNetConfig::new(10)
        .with_layers(1)
        .with_channels(4)
        .with_aux_head(false)
        .with_dropout(0.0)
        .with_drop_path_keep(1.0);
    let inner = TrainFromScratch::new(
        MicroChild(child),
        task(),
        half_data(1),
        training(1, 4),
        device,
    )
    .unwrap();
    let inner = match devices {
        Some(list) => inner.with_pool(DevicePool::parse(list).unwrap()),
        None => inner,
    };
    let strategy = RegularizedEvolution::new(
        space.clone(),
        EvolutionConfig {
            population: 3,
            sample_size: 2,
            seed: 8,
        },
    )
    .unwrap();
    let mut config = SearchConfig::multi_trial(3, 3);
    config.quiet = true;
    let mut search =
        Search::new(&space, strategy, WeightInheritance::new(inner, 4), config).unwrap();
    search.run().unwrap();
    search.history().to_vec()
}

#[test]
fn weight_inheritance_on_two_workers_gives_the_sequential_history() {
    let _turn = turn();
    let sequential = evolution_history(None);
    let parallel = evolution_history(Some("flex,flex"));
    assert_same_history(&parallel, &sequential);
    assert!(
        sequential.iter().any(|e| e.metrics.inherited()),
        "no child inherited"
    );
}
