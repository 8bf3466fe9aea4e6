"""PyTorch counterpart of `cargo run --release --example bench -- --workload macro`: one
shared-weight training step of the ENAS macro supernet (`MacroSupernet` in
crates/burn-nas-nn/src/macro_supernet.rs) on a fresh uniformly random architecture, timed as
`shared/bench/enas_micro_step.py` times its step: forward, cross-entropy, backward, global-norm
clip at 5, SGD (lr 0.05, Nesterov 0.9, L2 1e-4); the median of the timed steps after 3 untimed
ones. The architecture and the random inputs are drawn before the clock starts. Prints one line
in the bench's format.

The network, as ours: 3x3 stem conv + BN; per layer the six branches of ENAS's macro space, each
1x1 conv + BN + ReLU, then a 3x3 or 5x5 conv, a separable 3x3 or 5x5 conv (depthwise +
pointwise, no BN between) + BN + ReLU, or a 3x3 average (padding excluded) or max pool, stride 1;
past layer 0 the skip inputs are added to the branch's output and batch-normalised; after layers
L/3 - 1 and 2L/3 - 1 the channels double and every earlier output still read later is reduced by
its own factorized reduction (two 1x1 stride-2 convs, the second on the input shifted by one
pixel, concatenated, BN); ReLU, global average pool, linear. Convolutions have no bias; batch
norms are affine and use batch statistics. A random architecture: each layer's op uniform over
the six, each earlier layer a skip with probability 1/2.

usage: python benches/enas_macro_step.py [--batch 64] [--channels 36] [--layers 12] [--hw 32]
                                         [--steps 20] [--threads 2]
"""
import argparse, random, statistics, time
import torch, torch.nn as nn, torch.nn.functional as F

OPS = ["conv3", "conv5", "sep3", "sep5", "avg", "max"]


def bn(c):
    return nn.BatchNorm2d(c)


class Branch(nn.Module):
    def __init__(self, op, c):
        super().__init__()
        self.op = op
        self.pre = nn.Sequential(nn.Conv2d(c, c, 1, bias=False), bn(c), nn.ReLU())
        if op in ("conv3", "conv5"):
            k = 3 if op == "conv3" else 5
            self.body = nn.Sequential(nn.Conv2d(c, c, k, padding=k // 2, bias=False), bn(c), nn.ReLU())
        elif op in ("sep3", "sep5"):
            k = 3 if op == "sep3" else 5
            self.body = nn.Sequential(nn.Conv2d(c, c, k, padding=k // 2, groups=c, bias=False),
                                      nn.Conv2d(c, c, 1, bias=False), bn(c), nn.ReLU())
        elif op == "avg":
            self.body = nn.AvgPool2d(3, 1, 1, count_include_pad=False)
        else:
            self.body = nn.MaxPool2d(3, 1, 1)

    def forward(self, x):
        return self.body(self.pre(x))


class FactorizedReduce(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.a = nn.Conv2d(cin, cout // 2, 1, stride=2, bias=False)
        self.b = nn.Conv2d(cin, cout - cout // 2, 1, stride=2, bias=False)
        self.bn = bn(cout)

    def forward(self, x):
        shifted = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(torch.cat([self.a(x), self.b(shifted)], 1))


class MacroSupernet(nn.Module):
    def __init__(self, layers, c, classes=10, cin=3):
        super().__init__()
        d = layers // 3
        self.pools = [d - 1, 2 * d - 1] if d else []
        self.stem = nn.Sequential(nn.Conv2d(cin, c, 3, padding=1, bias=False), bn(c))
        self.branches, self.skip_bn, self.reductions = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for i in range(layers):
            self.branches.append(nn.ModuleList([Branch(op, c) for op in OPS]))
            self.skip_bn.append(bn(c) if i > 0 else nn.Identity())
            if i in self.pools:
                self.reductions.append(nn.ModuleList([FactorizedReduce(c, 2 * c) for _ in range(i + 1)]))
                c *= 2
        self.head = nn.Linear(c, classes)

    def forward(self, x, arch):
        last = [None] * len(arch)  # the last layer that reads each output
        for i, (_, skips) in enumerate(arch):
            if i > 0:
                last[i - 1] = i
            for s in skips:
                last[s] = i
        x = self.stem(x)
        outputs, pool = [], 0
        for i, (op, skips) in enumerate(arch):
            out = self.branches[i][op](x)
            if i > 0:
                for s in skips:
                    if outputs[s] is not None:
                        out = out + outputs[s]
                out = self.skip_bn[i](out)
            outputs.append(out)
            x = out
            if i in self.pools:
                for j, reduce in enumerate(self.reductions[pool]):
                    needed = last[j] is not None and last[j] > i
                    outputs[j] = reduce(outputs[j]) if needed and outputs[j] is not None else None
                pool += 1
                if outputs[i] is not None:
                    x = outputs[i]
        return self.head(F.relu(x).mean((2, 3)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64); ap.add_argument("--channels", type=int, default=36)
    ap.add_argument("--layers", type=int, default=12); ap.add_argument("--hw", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20); ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0); ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    torch.manual_seed(a.seed); torch.set_num_threads(a.threads); rng = random.Random(a.seed)
    dev = torch.device(a.device)
    net = MacroSupernet(a.layers, a.channels).to(dev)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4)
    net.train(); times = []
    for step in range(3 + a.steps):
        arch = [(rng.randrange(len(OPS)), [j for j in range(i) if rng.random() < 0.5])
                for i in range(a.layers)]
        x = torch.randn(a.batch, 3, a.hw, a.hw, device=dev); y = torch.randint(0, 10, (a.batch,), device=dev)
        if dev.type == "cuda": torch.cuda.synchronize()
        t = time.perf_counter()
        loss = F.cross_entropy(net(x, arch), y)
        opt.zero_grad(); loss.backward(); nn.utils.clip_grad_norm_(net.parameters(), 5.0); opt.step()
        if dev.type == "cuda": torch.cuda.synchronize()
        if step >= 3: times.append(time.perf_counter() - t)
    med = statistics.median(times)
    print(f"enas_macro_step torch-{torch.__version__} device={a.device} batch={a.batch} C={a.channels} "
          f"L={a.layers} hw={a.hw} median_step_s={med:.4f} images_per_s={a.batch / med:.1f}")


if __name__ == "__main__":
    main()
