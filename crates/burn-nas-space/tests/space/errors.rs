//! Every kind of bad input ends in its own error variant, with a message naming the place.

use burn_nas_space::{
    ArchError, Architecture, Cell, Decision, DecisionGroup, Decisions, MacroArch, MacroLayer,
    MacroOp, MacroSpace, MicroArch, MicroOp, MicroSpace, NasRlArch, NasRlLayer, NasRlSpace, Node,
    SearchSpace, Token,
};

const OFFICIAL: &str =
    "0 2 0 0 0 4 0 1 0 4 1 1 1 0 0 1 0 2 1 1 1 0 1 0 0 3 0 2 1 1 3 1 1 0 0 4 0 3 1 1";

fn official() -> MicroArch {
    MicroArch::from_enas_string(OFFICIAL).unwrap()
}

#[test]
fn out_of_range_input_names_cell_node_and_input() {
    let mut arch = official();
    arch.reduce.nodes[3].inputs[1] = 7;
    let err = arch.validate().unwrap_err();
    assert_eq!(
        err.to_string(),
        "reduction cell, node 3, input 2 = 7: must be in 0..=4"
    );
    assert!(matches!(err, ArchError::OutOfRange { value: 7, .. }));
    // The same error comes out of JSON reading and of the space.
    let json = arch.to_json();
    assert_eq!(MicroArch::from_json(&json).unwrap_err(), err);
    assert_eq!(MicroSpace::default().encode(&arch).unwrap_err(), err);
}

#[test]
fn out_of_range_op_id_in_enas_string() {
    let bad = OFFICIAL.replacen("0 2 0 0", "0 9 0 0", 1);
    let err = MicroArch::from_enas_string(&bad).unwrap_err();
    assert_eq!(
        err.to_string(),
        "normal cell, node 0, op 1 = 9: must be in 0..=4"
    );
    let err = MacroArch::from_enas_string("0 6 1").unwrap_err();
    assert_eq!(err.to_string(), "layer 1, op = 6: must be in 0..=5");
    let err = MacroArch::from_enas_string("0 1 2").unwrap_err();
    assert_eq!(err.to_string(), "layer 1, skip bit 0 = 2: must be in 0..=1");
}

#[test]
fn out_of_range_nas_rl_option() {
    let space = NasRlSpace::new(2).unwrap();
    let mut arch = space.sample(&mut rand::rng()).unwrap();
    arch.layers[1].filter_width = 4;
    let err = space.encode(&arch).unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer 1, filter_width = 4: must be in {1, 3, 5, 7}"
    );
    arch.layers[1].filter_width = 3;
    arch.layers[0].stride = 2;
    let err = space.encode(&arch).unwrap_err();
    assert_eq!(err.to_string(), "layer 0, stride = 2: must be in {1}");
    arch.layers[0].filters = 0;
    assert!(matches!(
        arch.validate(),
        Err(ArchError::OutOfRange { value: 0, .. })
    ));
}

#[test]
fn out_of_range_skip() {
    let arch = MacroArch {
        layers: vec![
            MacroLayer {
                op: MacroOp::Conv3x3,
                skips: vec![],
            },
            MacroLayer {
                op: MacroOp::Conv3x3,
                skips: vec![1],
            },
        ],
    };
    assert_eq!(
        arch.validate().unwrap_err().to_string(),
        "layer 1, skips = 1: must be in 0..=0"
    );
}

#[test]
fn op_not_allowed_in_restricted_space() {
    let space = MicroSpace::new(5, &[MicroOp::SepConv3x3, MicroOp::Identity]).unwrap();
    let err = space.encode(&official()).unwrap_err();
    assert!(
        matches!(&err, ArchError::OpNotAllowed { location, op, .. }
            if location == "normal cell, node 0" && op == "avg_pool_3x3"),
        "{err}"
    );
    let mspace = MacroSpace::new(1, &[MacroOp::Conv5x5]).unwrap();
    let arch = MacroArch {
        layers: vec![MacroLayer {
            op: MacroOp::Conv3x3,
            skips: vec![],
        }],
    };
    assert!(matches!(
        mspace.encode(&arch),
        Err(ArchError::OpNotAllowed { .. })
    ));
}

#[test]
fn unknown_op_names() {
    let err = "conv_7x7".parse::<MicroOp>().unwrap_err();
    assert!(matches!(&err, ArchError::UnknownOp { name, .. } if name == "conv_7x7"));
    assert!(err.to_string().contains("sep_conv_3x3"), "{err}");
    assert!(matches!(
        "sep".parse::<MacroOp>(),
        Err(ArchError::UnknownOp { .. })
    ));
    assert_eq!(
        "max_pool_3x3".parse::<MacroOp>().unwrap(),
        MacroOp::MaxPool3x3
    );
}

#[test]
fn unknown_op_name_in_json_names_its_path() {
    let json = official()
        .to_json()
        .replacen("\"identity\"", "\"conv_7x7\"", 1);
    match MicroArch::from_json(&json).unwrap_err() {
        ArchError::InvalidJson { path, message } => {
            assert_eq!(path, "arch.normal.nodes[1].ops[0]");
            assert!(message.contains("conv_7x7"), "{message}");
        }
        other => panic!("expected InvalidJson, got {other:?}"),
    }
}

#[test]
fn invalid_json_syntax_type_and_missing_fields() {
    for (text, path) in [
        (
            "{\"format_version\": 1, \"space\": \"enas_micro\", \"arch\": ",
            "",
        ),
        ("[1, 2]", ""),
        ("{\"space\": \"enas_micro\", \"arch\": {}}", ""),
        (
            "{\"format_version\": \"one\", \"space\": \"enas_micro\", \"arch\": {}}",
            "format_version",
        ),
        (
            "{\"format_version\": 1, \"space\": 3, \"arch\": {}}",
            "space",
        ),
        ("{\"format_version\": 1, \"space\": \"enas_micro\"}", ""),
        (
            "{\"format_version\": 1, \"space\": \"enas_micro\", \"arch\": {\"normal\": {\"nodes\": []}}}",
            "arch",
        ),
        (
            "{\"format_version\": 1, \"space\": \"enas_micro\", \"arch\": {\"normal\": {\"nodes\": [{\"inputs\": [0, -1], \"ops\": [\"identity\", \"identity\"]}]}, \"reduce\": {\"nodes\": []}}}",
            "arch.normal.nodes[0].inputs[1]",
        ),
    ] {
        match MicroArch::from_json(text) {
            Err(ArchError::InvalidJson { path: p, .. }) => assert_eq!(p, path, "{text}"),
            other => panic!("{text}: expected InvalidJson, got {other:?}"),
        }
    }
}

#[test]
fn wrong_space_tag() {
    let json = MacroArch {
        layers: vec![MacroLayer {
            op: MacroOp::Conv3x3,
            skips: vec![],
        }],
    }
    .to_json();
    let err = MicroArch::from_json(&json).unwrap_err();
    assert_eq!(
        err,
        ArchError::WrongSpace {
            expected: "enas_micro".into(),
            found: "enas_macro".into()
        }
    );
    let err = burn_nas_space::AnyArch::from_json(&json.replace("enas_macro", "darts")).unwrap_err();
    assert!(
        matches!(&err, ArchError::WrongSpace { found, .. } if found == "darts"),
        "{err}"
    );
}

#[test]
fn unsupported_format_version() {
    let json = official()
        .to_json()
        .replacen("\"format_version\": 1", "\"format_version\": 9", 1);
    assert_eq!(
        MicroArch::from_json(&json).unwrap_err(),
        ArchError::UnsupportedVersion {
            found: 9,
            supported: 1
        }
    );
}

#[test]
fn wrong_lengths() {
    // ENAS micro strings: 39 integers.
    let short: Vec<&str> = OFFICIAL.split(' ').take(39).collect();
    let err = MicroArch::from_enas_string(&short.join(" ")).unwrap_err();
    assert!(
        matches!(err, ArchError::WrongLength { found: 39, .. }),
        "{err}"
    );
    assert!(matches!(
        MicroArch::from_enas_string(""),
        Err(ArchError::WrongLength { found: 0, .. })
    ));
    // ENAS macro strings: 4 is not L(L+1)/2.
    assert!(matches!(
        MacroArch::from_enas_string("0 0 1 0"),
        Err(ArchError::WrongLength { found: 4, .. })
    ));
    // Node counts differing from the space or between cells.
    let space = MicroSpace::new(4, &MicroOp::ALL).unwrap();
    let err = space.encode(&official()).unwrap_err();
    assert_eq!(err.to_string(), "normal cell nodes: expected 4, found 5");
    let mut arch = official();
    arch.reduce.nodes.pop();
    assert!(matches!(
        arch.validate(),
        Err(ArchError::WrongLength { found: 4, .. })
    ));
    let empty = MicroArch {
        normal: Cell { nodes: vec![] },
        reduce: Cell { nodes: vec![] },
    };
    assert!(matches!(
        empty.validate(),
        Err(ArchError::WrongLength { found: 0, .. })
    ));
    // Token sequences of the wrong length, and skip sets of the wrong width.
    let mspace = MacroSpace::new(3, &MacroOp::ALL).unwrap();
    assert!(matches!(
        mspace.decode(&[Token::Choice(0)]),
        Err(ArchError::WrongLength { found: 1, .. })
    ));
    let mut tokens = mspace
        .encode(&mspace.sample(&mut rand::rng()).unwrap())
        .unwrap();
    tokens[3] = Token::Subset(vec![true, true]);
    assert_eq!(
        mspace.decode(&tokens).unwrap_err().to_string(),
        "decision 3, skip bits: expected 1, found 2"
    );
    let rl = NasRlArch { layers: vec![] };
    assert!(matches!(rl.validate(), Err(ArchError::WrongLength { .. })));
}

#[test]
fn skips_not_increasing() {
    let layer = |inputs: Vec<usize>| NasRlLayer {
        filter_height: 3,
        filter_width: 3,
        filters: 24,
        stride: 1,
        stride_width: None,
        inputs,
    };
    let arch = NasRlArch {
        layers: vec![layer(vec![]), layer(vec![]), layer(vec![1, 0])],
    };
    let err = arch.validate().unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer 2, inputs = [1, 0]: must be strictly increasing (sorted, no repeats)"
    );
    let arch = NasRlArch {
        layers: vec![layer(vec![]), layer(vec![]), layer(vec![0, 0])],
    };
    assert!(matches!(
        arch.validate(),
        Err(ArchError::NotIncreasing { .. })
    ));
}

#[test]
fn token_of_the_wrong_kind() {
    let space = MicroSpace::default();
    let mut tokens = space.encode(&official()).unwrap();
    tokens[2] = Token::Subset(vec![true]);
    assert!(matches!(
        space.decode(&tokens),
        Err(ArchError::TokenKind {
            index: 2,
            expected: "choice",
            ..
        })
    ));
    let mspace = MacroSpace::default();
    let mut tokens = mspace
        .encode(&mspace.sample(&mut rand::rng()).unwrap())
        .unwrap();
    tokens[1] = Token::Choice(0);
    assert!(matches!(
        mspace.decode(&tokens),
        Err(ArchError::TokenKind {
            index: 1,
            expected: "subset",
            ..
        })
    ));
    // And a choice beyond its options.
    let mut tokens = space.encode(&official()).unwrap();
    tokens[0] = Token::Choice(2);
    assert_eq!(
        space.decode(&tokens).unwrap_err().to_string(),
        "decision 0, choice = 2: must be in 0..=1"
    );
}

#[test]
fn words_that_are_not_integers() {
    let bad = OFFICIAL.replacen("4", "four", 1);
    let err = MicroArch::from_enas_string(&bad).unwrap_err();
    assert_eq!(
        err,
        ArchError::NotAnInteger {
            family: "micro",
            position: 5,
            word: "four".into()
        }
    );
    assert!(matches!(
        MacroArch::from_enas_string("0 -1 1"),
        Err(ArchError::NotAnInteger { position: 1, .. })
    ));
}

#[test]
fn impossible_space_settings() {
    let field = |r: Result<_, ArchError>| match r {
        Err(ArchError::InvalidSpace { field, .. }) => field,
        other => panic!("expected InvalidSpace, got {other:?}"),
    };
    assert_eq!(
        field(MicroSpace::new(0, &MicroOp::ALL).map(|_| ())),
        "nodes"
    );
    assert_eq!(field(MicroSpace::new(5, &[]).map(|_| ())), "ops");
    assert_eq!(
        field(MicroSpace::new(5, &[MicroOp::Identity, MicroOp::Identity]).map(|_| ())),
        "ops"
    );
    assert_eq!(
        field(MacroSpace::new(0, &MacroOp::ALL).map(|_| ())),
        "layers"
    );
    assert_eq!(field(MacroSpace::new(3, &[]).map(|_| ())), "ops");
    assert_eq!(field(NasRlSpace::new(0).map(|_| ())), "layers");
    assert_eq!(
        field(NasRlSpace::with_options(2, &[1, 3], &[0], &[24], None).map(|_| ())),
        "filter_widths"
    );
    assert_eq!(
        field(
            NasRlSpace::new(2)
                .unwrap()
                .with_strides(&[1, 1])
                .map(|_| ())
        ),
        "strides"
    );
    // Decision lists that point at anchors that do not exist yet.
    let group = |d: Decision| DecisionGroup {
        name: "g".into(),
        initial_anchors: 1,
        blocks: vec![vec![d]],
    };
    assert!(Decisions::new(vec![group(Decision::SelectInput { among: 1 })]).is_ok());
    assert!(matches!(
        Decisions::new(vec![group(Decision::SelectInput { among: 2 })]),
        Err(ArchError::InvalidSpace { .. })
    ));
    assert!(matches!(
        Decisions::new(vec![group(Decision::SkipSet { among: 3 })]),
        Err(ArchError::InvalidSpace { .. })
    ));
    assert!(matches!(
        Decisions::new(vec![group(Decision::categorical(0, "h"))]),
        Err(ArchError::InvalidSpace { .. })
    ));
    let two_sizes = Decisions::new(vec![DecisionGroup {
        name: "g".into(),
        initial_anchors: 0,
        blocks: vec![vec![
            Decision::categorical(2, "h"),
            Decision::categorical(3, "h"),
        ]],
    }])
    .unwrap();
    assert!(matches!(
        two_sizes.heads(),
        Err(ArchError::InvalidSpace { .. })
    ));
}

#[test]
fn heads_and_groups_are_looked_up_by_name_and_unknown_names_refused() {
    let micro = MicroSpace::default();
    let decisions = micro.decisions();
    assert_eq!(
        decisions.head("micro_op").unwrap(),
        burn_nas_space::enas_micro::MICRO_OP_HEAD
    );
    assert_eq!(
        decisions.group("reduce").unwrap(),
        MicroSpace::REDUCTION_CELL
    );
    // The error names the bad name and lists the space's own.
    let err = decisions.head("op").unwrap_err().to_string();
    assert!(err.contains("`op`") && err.contains("micro_op"), "{err}");
    let err = decisions.group("norml").unwrap_err().to_string();
    assert!(
        err.contains("norml") && err.contains("normal, reduce"),
        "{err}"
    );
    // Ids serialize as their plain names.
    assert_eq!(
        serde_json::to_string(&MicroSpace::NORMAL_CELL).unwrap(),
        "\"normal\""
    );
}

#[test]
fn custom_errors_from_user_spaces_display_as_given() {
    let err = ArchError::Custom("kernel 4 is not an option".into());
    assert_eq!(err.to_string(), "kernel 4 is not an option");
}

#[test]
fn nodes_may_only_read_earlier_anchors() {
    // A hand-built cell whose node 0 reads node 0 itself (anchor 2).
    let node = Node {
        inputs: [2, 0],
        ops: [MicroOp::Identity; 2],
    };
    let cell = Cell { nodes: vec![node] };
    let arch = MicroArch {
        normal: cell.clone(),
        reduce: cell,
    };
    assert_eq!(
        arch.validate().unwrap_err().to_string(),
        "normal cell, node 0, input 1 = 2: must be in 0..=1"
    );
}
