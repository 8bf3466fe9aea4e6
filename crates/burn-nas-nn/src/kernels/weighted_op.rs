//! The autodiff side of the direct kernels that take an input and a weight (dense and
//! depthwise convolution): the forward on the inner backend, and a backward node that asks the
//! op's two gradient functions for whichever of the two inputs is tracked.

use std::fmt;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend};
use burn::tensor::Tensor;

use super::plane::on_flex_f32;

/// Whether the extension runs `op(x, weight)`: both `f32` on a flex device (plain or autodiff).
pub(super) fn applies(x: &Tensor<4>, weight: &Tensor<4>) -> bool {
    on_flex_f32(x) && on_flex_f32(weight)
}

/// `op(x, weight, geometry)` on the inner backend.
pub(super) type ForwardFn<B, G> = fn(FloatTensor<B>, FloatTensor<B>, G) -> FloatTensor<B>;

/// The gradient of one input of the op from `(x, weight, output gradient, geometry)`.
pub(super) type GradFn<B, G> =
    fn(FloatTensor<B>, FloatTensor<B>, FloatTensor<B>, G) -> FloatTensor<B>;

/// The op's three functions on the inner backend `B`, with `G` its geometry.
pub(super) struct WeightedOp<B: Backend, G> {
    pub(super) forward: ForwardFn<B, G>,
    pub(super) grad_x: GradFn<B, G>,
    pub(super) grad_weight: GradFn<B, G>,
}

/// The backward node: the op's two gradient functions.
struct WeightedBackward<B: Backend, G> {
    grad_x: GradFn<B, G>,
    grad_weight: GradFn<B, G>,
}

impl<B: Backend, G> fmt::Debug for WeightedBackward<B, G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WeightedBackward")
    }
}

impl<B, G> Backward<B, 2> for WeightedBackward<B, G>
where
    B: Backend,
    G: Copy + Send + fmt::Debug + 'static,
{
    /// Input, weight and geometry.
    type State = (FloatTensor<B>, FloatTensor<B>, G);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_w] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x, weight, g) = ops.state;
        if let Some(node) = node_w {
            let gw = (self.grad_weight)(x.clone(), weight.clone(), grad.clone(), g);
            grads.register::<B>(node.id, gw);
        }
        if let Some(node) = node_x {
            let gx = (self.grad_x)(x, weight, grad, g);
            grads.register::<B>(node.id, gx);
        }
    }
}

impl<B, G> WeightedOp<B, G>
where
    B: Backend,
    G: Copy + Send + fmt::Debug + 'static,
{
    /// Runs the op on autodiff tensors: the forward on the inner backend, recording a backward
    /// node (keeping `x`, `weight` and `g`) when either input is tracked.
    pub(super) fn run<C: CheckpointStrategy>(
        self,
        x: FloatTensor<Autodiff<B, C>>,
        weight: FloatTensor<Autodiff<B, C>>,
        g: G,
    ) -> FloatTensor<Autodiff<B, C>> {
        let node = WeightedBackward {
            grad_x: self.grad_x,
            grad_weight: self.grad_weight,
        };
        match node
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let xp = x.primitive().clone();
                let wp = weight.primitive().clone();
                let out = (self.forward)(xp.clone(), wp.clone(), g);
                prep.finish((xp, wp, g), out)
            }
            OpsKind::UnTracked(prep) => prep.finish((self.forward)(
                x.into_primitive(),
                weight.into_primitive(),
                g,
            )),
        }
    }
}
