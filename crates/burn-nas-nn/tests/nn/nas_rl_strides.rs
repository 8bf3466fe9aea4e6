//! NAS-RL with a stride per axis (Zoph & Le predict stride height and stride width): the
//! decisions, exact encode/decode, the JSON format (old documents still read), and networks
//! whose layers stride the two axes differently.

use burn::tensor::{Device, Distribution, Tensor};
use burn_nas_nn::{Mode, NasRlNetConfig, Network};
use burn_nas_space::nas_rl::STRIDE_WIDTH_HEAD;
use burn_nas_space::{
    ArchError, Architecture, Decision, NasRlArch, NasRlLayer, NasRlSpace, SearchSpace,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn layer(stride: usize, stride_width: Option<usize>, inputs: Vec<usize>) -> NasRlLayer {
    NasRlLayer {
        filter_height: 3,
        filter_width: 3,
        filters: 24,
        stride,
        stride_width,
        inputs,
    }
}

#[test]
fn a_stride_per_axis_adds_a_width_stride_decision_per_layer() {
    let space = NasRlSpace::new(3)
        .unwrap()
        .with_strides(&[1, 2, 3])
        .unwrap()
        .with_stride_per_axis()
        .unwrap();
    assert!(space.stride_per_axis());
    let decisions = space.decisions().as_slice();
    assert_eq!(decisions.len(), 3 * 6);
    assert_eq!(
        decisions[3],
        Decision::categorical(3, STRIDE_WIDTH_HEAD),
        "height, width, stride height, stride width, filters, skips"
    );
    // It survives other builders and other depths.
    assert!(space.at_depth(2).unwrap().stride_per_axis());
    assert!(
        space
            .clone()
            .with_strides(&[1, 2])
            .unwrap()
            .stride_per_axis()
    );
    // Without stride options there is nothing to split.
    let err = NasRlSpace::new(3)
        .unwrap()
        .with_stride_per_axis()
        .unwrap_err();
    assert!(matches!(err, ArchError::InvalidSpace { .. }), "{err}");
}

#[test]
fn sampled_architectures_round_trip_and_use_both_axes() {
    let space = NasRlSpace::new(4)
        .unwrap()
        .with_strides(&[1, 2, 3])
        .unwrap()
        .with_stride_per_axis()
        .unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut uneven = 0;
    for _ in 0..200 {
        let arch = space.sample(&mut rng).unwrap();
        let tokens = space.encode(&arch).unwrap();
        assert_eq!(space.decode(&tokens).unwrap(), arch);
        assert_eq!(NasRlArch::from_json(&arch.to_json()).unwrap(), arch);
        uneven += arch
            .layers
            .iter()
            .filter(|l| l.strides()[0] != l.strides()[1])
            .count();
        // The canonical form: a width stride is recorded only where it differs.
        assert!(arch.layers.iter().all(|l| l.stride_width != Some(l.stride)));
    }
    assert!(
        uneven > 300,
        "{uneven} of 800 layers stride the axes differently"
    );
}

#[test]
fn one_stride_spaces_refuse_uneven_strides_and_old_documents_read() {
    let space = NasRlSpace::new(1).unwrap().with_strides(&[1, 2]).unwrap();
    let uneven = NasRlArch {
        layers: vec![layer(2, Some(1), vec![])],
    };
    let err = space.encode(&uneven).unwrap_err();
    assert!(err.to_string().contains("stride_width"), "{err}");
    let even = NasRlArch {
        layers: vec![layer(2, Some(2), vec![])],
    };
    assert!(space.encode(&even).is_ok());
    // Documents written before the field existed read as one stride for both axes.
    let old = r#"{"format_version":1,"space":"nas_rl","arch":{"layers":[{"filter_height":3,"filter_width":3,"filters":24,"stride":2,"inputs":[]}]}}"#;
    let arch = NasRlArch::from_json(old).unwrap();
    assert_eq!(arch.layers[0].strides(), [2, 2]);
    assert!(!arch.to_json().contains("stride_width"));
    // A zero width stride is named.
    let zero = NasRlArch {
        layers: vec![layer(1, Some(0), vec![])],
    };
    let err = zero.validate().unwrap_err();
    assert!(err.to_string().contains("stride_width"), "{err}");
    assert!(uneven.to_string().contains("stride 2x1"), "{uneven}");
    assert!(uneven.to_dot().contains("stride 2x1"));
}

#[test]
fn networks_stride_each_axis_and_concatenate_uneven_maps() {
    let _turn = crate::support::turn();
    let device = Device::flex();
    // 16×16 → layer 0 strides 2×1 (8×16), layer 1 reads the image with 1×2 (16×8), layer 2
    // reads both: padded to 16×16, then 2×2 → 8×8.
    let arch = NasRlArch {
        layers: vec![
            layer(2, Some(1), vec![]),
            layer(1, Some(2), vec![]),
            layer(2, None, vec![0, 1]),
        ],
    };
    let net = NasRlNetConfig::new(10)
        .with_in_channels(1)
        .with_image_size(16)
        .init(&arch, &device)
        .unwrap();
    assert_eq!(net.sizes(), &[[8, 16], [16, 8], [8, 8]]);
    let images = Tensor::<4>::random([2, 1, 16, 16], Distribution::Normal(0.0, 1.0), &device);
    let logits = net.forward(images, Mode::EVAL);
    assert_eq!(logits.dims(), [2, 10]);
    assert!(logits.into_data().iter::<f32>().all(f32::is_finite));
}
