//! NAS-RL with each layer's anchor point (its skip set) as the layer's first decision, as in
//! Zoph & Le's figure: the decisions, exact encode/decode, and that only the token order
//! differs from the default space.

use burn_nas_space::{Decision, NasRlSpace, SearchSpace, Token};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn spaces() -> Vec<NasRlSpace> {
    let plain = NasRlSpace::new(5).unwrap();
    let strided = plain.clone().with_strides(&[1, 2, 3]).unwrap();
    let per_axis = strided.clone().with_stride_per_axis().unwrap();
    vec![plain, strided, per_axis]
}

#[test]
fn each_layer_starts_with_its_skip_set() {
    for space in spaces() {
        let first = space.clone().with_anchor_first().unwrap();
        assert!(first.anchor_first() && !space.anchor_first());
        let blocks = &first.decisions().groups()[0].blocks;
        let default_blocks = &space.decisions().groups()[0].blocks;
        assert_eq!(blocks.len(), 5);
        for (i, (block, default)) in blocks.iter().zip(default_blocks).enumerate() {
            assert_eq!(block[0], Decision::SkipSet { among: i }, "layer {i}");
            // The same decisions, the skip set moved from the end to the front.
            let mut rotated = default.clone();
            rotated.rotate_right(1);
            assert_eq!(*block, rotated, "layer {i}");
        }
        assert!((first.size().log10 - space.size().log10).abs() < 1e-9);
        // The option survives the other builders and other depths, in any order.
        assert!(first.at_depth(3).unwrap().anchor_first());
        assert!(first.clone().with_strides(&[1, 2]).unwrap().anchor_first());
        let late = NasRlSpace::new(5)
            .unwrap()
            .with_anchor_first()
            .unwrap()
            .with_strides(&[1, 2, 3])
            .unwrap();
        assert!(matches!(
            late.decisions().groups()[0].blocks[4][0],
            Decision::SkipSet { among: 4 }
        ));
    }
}

#[test]
fn architectures_round_trip_and_tokens_only_change_order() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for space in spaces() {
        let first = space.clone().with_anchor_first().unwrap();
        for _ in 0..40 {
            // Sampled from either space, an architecture encodes in both.
            for sampler in [&space, &first] {
                let arch = sampler.sample(&mut rng).unwrap();
                let tokens = first.encode(&arch).unwrap();
                assert_eq!(first.decode(&tokens).unwrap(), arch);
                let default_tokens = space.encode(&arch).unwrap();
                let per_layer = default_tokens.len() / 5;
                let expected: Vec<Token> = default_tokens
                    .chunks(per_layer)
                    .flat_map(|layer| {
                        let mut layer = layer.to_vec();
                        layer.rotate_right(1);
                        layer
                    })
                    .collect();
                assert_eq!(tokens, expected);
                assert!(matches!(tokens[0], Token::Subset(ref bits) if bits.is_empty()));
            }
        }
    }
}

#[test]
fn tokens_in_the_other_order_are_refused() {
    let space = NasRlSpace::new(3).unwrap();
    let first = space.clone().with_anchor_first().unwrap();
    let arch = space.sample(&mut ChaCha8Rng::seed_from_u64(1)).unwrap();
    // Skip-last tokens put a choice where the anchor-first space expects a subset.
    let err = first.decode(&space.encode(&arch).unwrap()).unwrap_err();
    assert!(err.to_string().contains("token"), "{err}");
}
