//! The official final ENAS micro architecture (the `fixed_arc` of the ENAS CIFAR-10 final
//! script) and hand-checked macro strings.

use burn_nas_space::{
    Architecture, MacroArch, MacroOp, MicroArch, MicroOp, MicroSpace, SearchSpace,
};

const NORMAL: &str = "0 2 0 0 0 4 0 1 0 4 1 1 1 0 0 1 0 2 1 1";
const REDUCE: &str = "1 0 1 0 0 3 0 2 1 1 3 1 1 0 0 4 0 3 1 1";

#[test]
fn official_micro_string_parses_and_prints_back_identically() {
    let official = format!("{NORMAL} {REDUCE}");
    let arch = MicroArch::from_enas_string(&official).unwrap();
    assert_eq!(arch.to_enas_string(), official);
    // The two-line form of the ENAS scripts reads the same.
    assert_eq!(
        MicroArch::from_enas_string(&format!("{NORMAL}\n  {REDUCE}\n")).unwrap(),
        arch
    );
    // It belongs to the default space.
    MicroSpace::default().validate(&arch).unwrap();
}

#[test]
fn official_micro_string_means_what_enas_says() {
    let arch = MicroArch::from_enas_string(&format!("{NORMAL} {REDUCE}")).unwrap();
    use MicroOp::*;
    let normal: Vec<_> = arch
        .normal
        .nodes
        .iter()
        .map(|n| (n.inputs, n.ops))
        .collect();
    assert_eq!(
        normal,
        vec![
            ([0, 0], [AvgPool3x3, SepConv3x3]),
            ([0, 0], [Identity, SepConv5x5]),
            ([0, 1], [Identity, SepConv5x5]),
            ([1, 0], [SepConv3x3, SepConv5x5]),
            ([0, 1], [AvgPool3x3, SepConv5x5]),
        ]
    );
    // Node 3 (anchor 5) is read by nobody, nor are nodes 2..=4 except as listed: the loose
    // ends form the cell output.
    assert_eq!(arch.normal.loose_ends(), vec![2, 3, 4, 5, 6]);
    let reduce: Vec<_> = arch
        .reduce
        .nodes
        .iter()
        .map(|n| (n.inputs, n.ops))
        .collect();
    assert_eq!(
        reduce,
        vec![
            ([1, 1], [SepConv3x3, SepConv3x3]),
            ([0, 0], [MaxPool3x3, AvgPool3x3]),
            ([1, 3], [SepConv5x5, SepConv5x5]),
            ([1, 0], [SepConv3x3, Identity]),
            ([0, 1], [MaxPool3x3, SepConv5x5]),
        ]
    );
    assert_eq!(arch.reduce.loose_ends(), vec![2, 4, 5, 6]);
    assert_eq!(MicroArch::from_json(&arch.to_json()).unwrap(), arch);
}

#[test]
fn macro_string_layout_is_op_then_skip_bits() {
    // 4 layers: 1 + 2 + 3 + 4 = 10 integers.
    let arch = MacroArch::from_enas_string("1  4 1  5 0 1  0 1 1 0").unwrap();
    assert_eq!(arch.layers.len(), 4);
    assert_eq!(arch.layers[0].op, MacroOp::SepConv3x3);
    assert_eq!(arch.layers[1].op, MacroOp::AvgPool3x3);
    assert_eq!(arch.layers[1].skips, vec![0]);
    assert_eq!(arch.layers[2].op, MacroOp::MaxPool3x3);
    assert_eq!(arch.layers[2].skips, vec![1]);
    assert_eq!(arch.layers[3].op, MacroOp::Conv3x3);
    assert_eq!(arch.layers[3].skips, vec![0, 1]);
    assert_eq!(arch.to_enas_string(), "1 4 1 5 0 1 0 1 1 0");
}
