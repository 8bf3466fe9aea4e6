"""PyTorch counterpart of `cargo run --release --example bench -- --workload plain`: one
training step of the plain-convolution network of `shared/bench/plain_cnn_train.py` (3x3 convs
with 48, 64, 64 filters, strides 1, 2, 2, each conv + BN + ReLU, global average pool, linear)
on random 1x28x28 inputs, timed as `shared/bench/enas_micro_step.py` times its step: forward,
cross-entropy, backward, global-norm clip at 5, SGD (lr 0.05, Nesterov 0.9, L2 1e-4); the
median of the timed steps after 3 untimed ones. Prints one line in the bench's format.

usage: python benches/plain_cnn_step.py [--batch 64] [--channels 48] [--hw 28] [--steps 20]
                                        [--threads 2]
"""
import argparse, statistics, time
import torch, torch.nn as nn, torch.nn.functional as F


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64); ap.add_argument("--channels", type=int, default=48)
    ap.add_argument("--hw", type=int, default=28); ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2); ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.manual_seed(a.seed); torch.set_num_threads(a.threads)
    f = lambda n: -(-n * a.channels // 48)
    blk = lambda ci, co, st: [nn.Conv2d(ci, co, 3, st, 1, bias=False), nn.BatchNorm2d(co), nn.ReLU()]
    net = nn.Sequential(*blk(1, f(48), 1), *blk(f(48), f(64), 2), *blk(f(64), f(64), 2),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(f(64), 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4)
    net.train(); times = []
    for step in range(3 + a.steps):
        x = torch.randn(a.batch, 1, a.hw, a.hw); y = torch.randint(0, 10, (a.batch,))
        t = time.perf_counter()
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad(); loss.backward(); nn.utils.clip_grad_norm_(net.parameters(), 5.0); opt.step()
        if step >= 3: times.append(time.perf_counter() - t)
    med = statistics.median(times)
    print(f"plain_cnn_step torch-{torch.__version__} device=cpu batch={a.batch} C={a.channels} "
          f"L=3 hw={a.hw} median_step_s={med:.4f} images_per_s={a.batch / med:.1f}")


if __name__ == "__main__":
    main()
