//! Exact round trips between architectures, tokens, JSON and ENAS strings, on thousands of
//! random architectures per space.

use burn_nas_space::{
    AnyArch, Architecture, MacroArch, MacroOp, MacroSpace, MicroArch, MicroOp, MicroSpace,
    NasRlArch, NasRlSpace, SearchSpace,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const SAMPLES: usize = 2_000;

fn round_trip_tokens<S: SearchSpace>(space: &S, seed: u64)
where
    S::Arch: Architecture,
{
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut distinct = std::collections::HashSet::new();
    for _ in 0..SAMPLES {
        let tokens = space.decisions().sample(&mut rng);
        let arch = space.decode(&tokens).expect("sampled tokens decode");
        assert_eq!(space.encode(&arch).expect("decoded arch encodes"), tokens);
        assert_eq!(space.decode(&space.encode(&arch).unwrap()).unwrap(), arch);
        let json = arch.to_json();
        assert_eq!(S::Arch::from_json(&json).expect("own JSON parses"), arch);
        distinct.insert(json);
    }
    // Sampling really explores the space (all these spaces have far more than SAMPLES archs).
    assert!(
        distinct.len() > SAMPLES * 9 / 10,
        "only {} distinct",
        distinct.len()
    );
}

#[test]
fn micro_tokens_and_json_round_trip() {
    round_trip_tokens(&MicroSpace::default(), 1);
    let restricted = MicroSpace::new(
        7,
        &[MicroOp::Identity, MicroOp::SepConv5x5, MicroOp::MaxPool3x3],
    )
    .unwrap();
    round_trip_tokens(&restricted, 2);
}

#[test]
fn macro_tokens_and_json_round_trip() {
    round_trip_tokens(&MacroSpace::default(), 3);
    let restricted = MacroSpace::new(24, &[MacroOp::Conv3x3, MacroOp::MaxPool3x3]).unwrap();
    round_trip_tokens(&restricted, 4);
}

#[test]
fn nas_rl_tokens_and_json_round_trip() {
    round_trip_tokens(&NasRlSpace::new(15).unwrap(), 5);
    let strided =
        NasRlSpace::with_options(6, &[1, 3], &[3, 5, 7], &[16, 32], Some(&[1, 2, 3])).unwrap();
    round_trip_tokens(&strided, 6);
}

#[test]
fn enas_strings_round_trip() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let micro = MicroSpace::default();
    let macro_space = MacroSpace::default();
    for _ in 0..SAMPLES {
        let a = micro.sample(&mut rng).unwrap();
        let s = a.to_enas_string();
        assert_eq!(s.split(' ').count(), 40);
        let back = MicroArch::from_enas_string(&s).unwrap();
        assert_eq!(back, a);
        assert_eq!(back.to_enas_string(), s);

        let m = macro_space.sample(&mut rng).unwrap();
        let s = m.to_enas_string();
        assert_eq!(s.split(' ').count(), 12 * 13 / 2);
        assert_eq!(MacroArch::from_enas_string(&s).unwrap(), m);
    }
}

#[test]
fn any_arch_reads_every_space() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let micro = MicroSpace::default().sample(&mut rng).unwrap();
    let mac = MacroSpace::default().sample(&mut rng).unwrap();
    let rl = NasRlSpace::new(5).unwrap().sample(&mut rng).unwrap();
    assert_eq!(
        AnyArch::from_json(&micro.to_json()).unwrap(),
        AnyArch::Micro(micro.clone())
    );
    assert_eq!(
        AnyArch::from_json(&mac.to_json()).unwrap(),
        AnyArch::Macro(mac)
    );
    assert_eq!(
        AnyArch::from_json(&rl.to_json()).unwrap(),
        AnyArch::NasRl(rl.clone())
    );
    let any = AnyArch::Micro(micro);
    assert_eq!(AnyArch::from_json(&any.to_json()).unwrap(), any);
    assert_eq!(any.space(), "enas_micro");
    assert_eq!(NasRlArch::from_json(&rl.to_json()).unwrap(), rl);
}

#[test]
fn same_seed_same_architectures() {
    let space = MicroSpace::default();
    let draw = |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..10)
            .map(|_| space.sample(&mut rng).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(draw(42), draw(42));
    assert_ne!(draw(42), draw(43));
}

#[test]
fn json_uses_op_names_and_is_versioned() {
    let arch = MicroArch::from_enas_string(
        "0 2 0 0 0 4 0 1 0 4 1 1 1 0 0 1 0 2 1 1 1 0 1 0 0 3 0 2 1 1 3 1 1 0 0 4 0 3 1 1",
    )
    .unwrap();
    let json: serde_json::Value = serde_json::from_str(&arch.to_json()).unwrap();
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["space"], "enas_micro");
    assert_eq!(
        json["arch"]["normal"]["nodes"][0]["inputs"],
        serde_json::json!([0, 0])
    );
    assert_eq!(
        json["arch"]["normal"]["nodes"][0]["ops"],
        serde_json::json!(["avg_pool_3x3", "sep_conv_3x3"])
    );
}
