//! Stride-1 1×1 convolution as a matrix product.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::Tensor;

/// `conv2d(x, weight)` for a 1×1 kernel, stride 1, no padding, no groups and no bias, computed
/// as the batched matrix product `weight[Cout, Cin] · x[n][Cin, H·W]`.
///
/// `x` is `[N, Cin, H, W]` and `weight` `[Cout, Cin, 1, 1]` (the layout of [`Conv2d`]'s
/// weight); the result is `[N, Cout, H, W]`. Its gradients are matrix products as well:
/// `grad_x[n] = weightᵀ · grad[n]` and `grad_weight = Σ_n grad[n] · x[n]ᵀ`.
///
/// # Panics
/// When the weight is not `[Cout, Cin, 1, 1]` with `Cin` the channel count of `x` (a
/// programming error of the caller: the networks build their weights to match).
pub fn pointwise_conv(x: Tensor<4>, weight: Tensor<4>) -> Tensor<4> {
    let [n, cin, h, w] = x.dims();
    let [cout, wcin, kh, kw] = weight.dims();
    assert!(
        wcin == cin && kh == 1 && kw == 1,
        "pointwise_conv: weight {:?} does not fit input {:?}",
        [cout, wcin, kh, kw],
        [n, cin, h, w]
    );
    let weight = weight.reshape([1, cout, cin]);
    weight
        .matmul(x.reshape([n, cin, h * w]))
        .reshape([n, cout, h, w])
}

/// Applies `conv`, through [`pointwise_conv`] when it is a stride-1 1×1 convolution without
/// groups, dilation or bias (the same result, faster gradients), and through
/// [`Conv2d::forward`] otherwise.
pub fn pointwise(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [_, _, kh, kw] = conv.weight.dims();
    let plain = kh == 1
        && kw == 1
        && conv.stride == [1, 1]
        && conv.groups == 1
        && conv.bias.is_none()
        && match conv.padding {
            PaddingConfig2d::Same | PaddingConfig2d::Valid => true,
            PaddingConfig2d::Explicit(a, b, c, d) => a + b + c + d == 0,
        };
    if plain {
        pointwise_conv(x, conv.weight.val())
    } else {
        conv.forward(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::rel_err;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::module::conv2d;
    use burn::tensor::ops::ConvOptions;
    use burn::tensor::{Device, Distribution};

    fn check(n: usize, cin: usize, cout: usize, h: usize, w: usize) {
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::random([n, cin, h, w], Distribution::Normal(0.0, 1.0), &device);
        let weight =
            Tensor::<4>::random([cout, cin, 1, 1], Distribution::Normal(0.0, 1.0), &device);
        let g = Tensor::<4>::random([n, cout, h, w], Distribution::Normal(0.0, 1.0), &device);

        let (x1, w1) = (x.clone().require_grad(), weight.clone().require_grad());
        let y1 = pointwise_conv(x1.clone(), w1.clone());
        let grads1 = (y1.clone() * g.clone()).sum().backward();

        let (x2, w2) = (x.require_grad(), weight.require_grad());
        let y2 = conv2d(
            x2.clone(),
            w2.clone(),
            None,
            ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
        );
        let grads2 = (y2.clone() * g).sum().backward();

        assert_eq!(y1.dims(), [n, cout, h, w]);
        let e = rel_err(y1, y2);
        assert!(e < 1e-5, "forward: relative error {e}");
        let (gx1, gx2) = (x1.grad(&grads1), x2.grad(&grads2));
        let (gw1, gw2) = (w1.grad(&grads1), w2.grad(&grads2));
        let (Some(gx1), Some(gx2), Some(gw1), Some(gw2)) = (gx1, gx2, gw1, gw2) else {
            panic!("missing gradient");
        };
        assert_eq!(gw1.dims(), [cout, cin, 1, 1]);
        let e = rel_err(gx1, gx2);
        assert!(e < 1e-4, "grad x: relative error {e}");
        let e = rel_err(gw1, gw2);
        assert!(e < 1e-4, "grad weight: relative error {e}");
    }

    #[test]
    fn matches_conv2d_forward_and_backward() {
        check(3, 5, 7, 9, 11);
        check(2, 20, 20, 8, 8);
        check(4, 16, 3, 1, 1);
        check(1, 1, 1, 5, 3);
    }

    #[test]
    fn conv2d_modules_take_the_gemm_path_only_when_it_is_the_same() {
        let device = Device::flex();
        let x = Tensor::<4>::random([2, 6, 7, 7], Distribution::Normal(0.0, 1.0), &device);
        for (kernel, stride) in [(1, 1), (1, 2), (3, 1)] {
            let conv = Conv2dConfig::new([6, 4], [kernel, kernel])
                .with_stride([stride, stride])
                .with_padding(burn::nn::PaddingConfig2d::Same)
                .with_bias(false)
                .init(&device);
            let e = rel_err(pointwise(&conv, x.clone()), conv.forward(x.clone()));
            assert!(
                e < 1e-5,
                "kernel {kernel} stride {stride}: relative error {e}"
            );
        }
        // With a bias the plain module runs (and adds it).
        let conv = Conv2dConfig::new([6, 4], [1, 1]).init(&device);
        let e = rel_err(pointwise(&conv, x.clone()), conv.forward(x));
        assert!(e < 1e-5, "bias: relative error {e}");
    }
}
