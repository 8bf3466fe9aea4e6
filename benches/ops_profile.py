"""Per-op profile of the ENAS micro step in PyTorch: the counterpart of
`cargo run --release --example bench -- --workload ops` (same ops, shapes and line format),
plus the forward-only scoring pass of the reference supernet (`--score`), the counterpart of
`--workload score`.

Each op runs forward (under no_grad) and forward + backward (`(y * g).sum().backward()` with a
fixed random g, inputs and weights requiring gradients) at the micro supernet's three stage
shapes [N, C, hw, hw], [N, 2C, hw/2, hw/2], [N, 4C, hw/4, hw/4]; the median of `--reps` timed
runs after two untimed ones is printed.

usage: python benches/ops_profile.py [--batch 64] [--channels 20] [--hw 32] [--reps 20]
                                     [--threads 2] [--score] [--steps 20]
                                     [--reference ../shared/bench/enas_micro_step.py]
"""
import argparse, importlib.util, random, statistics, time
import torch, torch.nn.functional as F

OPS = ["relu", "dw3", "dw5", "pw", "proj", "bn", "avg3", "max3", "cat5"]


def apply(op, x, grad):
    c = x.shape[1]
    p = lambda *s: (torch.randn(*s) * 0.1).requires_grad_(grad)
    if op == "relu": return F.relu(x)
    if op == "dw3": return F.conv2d(x, p(c, 1, 3, 3), padding=1, groups=c)
    if op == "dw5": return F.conv2d(x, p(c, 1, 5, 5), padding=2, groups=c)
    if op == "pw": return F.conv2d(x, p(c, c, 1, 1))
    if op == "proj": return F.conv2d(torch.cat([x] * 5, 1), p(c, 5 * c, 1, 1))
    if op == "bn":
        return F.batch_norm(x, None, None, torch.ones(c).requires_grad_(grad),
                            torch.zeros(c).requires_grad_(grad), training=True, eps=1e-5)
    if op == "avg3": return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    if op == "max3": return F.max_pool2d(x, 3, 1, 1)
    return torch.cat([x] * 5, 1)


def profile(a):
    print(f"ops torch-{torch.__version__} device=cpu")
    for stage in range(3):
        shape = (a.batch, a.channels << stage, a.hw >> stage, a.hw >> stage)
        for op in OPS:
            fwd, both = [], []
            for rep in range(a.reps + 2):
                x = torch.randn(*shape)
                t = time.perf_counter()
                with torch.no_grad():
                    y = apply(op, x, False)
                f = time.perf_counter() - t
                del y
                x = torch.randn(*shape).requires_grad_(True)
                out = (shape[0], shape[1] * 5, *shape[2:]) if op == "cat5" else shape
                g = torch.randn(*out)
                t = time.perf_counter()
                (apply(op, x, True) * g).sum().backward()
                b = time.perf_counter() - t
                if rep >= 2:
                    fwd.append(f); both.append(b)
            n, c, h, w = shape
            print(f"op={op} shape={n}x{c}x{h}x{w} fwd_ms={statistics.median(fwd) * 1e3:.3f} "
                  f"fwdbwd_ms={statistics.median(both) * 1e3:.3f}")


def score(a):
    spec = importlib.util.spec_from_file_location("enas_micro_step", a.reference)
    ref = importlib.util.module_from_spec(spec); spec.loader.exec_module(ref)
    torch.manual_seed(0); rng = random.Random(0)
    net = ref.Supernet(a.channels, a.layers).train()  # batch statistics, as ENAS scores
    times = []
    for step in range(a.steps + 3):
        x = torch.randn(a.batch, 3, a.hw, a.hw); y = torch.randint(0, 10, (a.batch,))
        t = time.perf_counter()
        with torch.no_grad():
            hits = (net(x, ref.random_cell(rng), ref.random_cell(rng)).argmax(1) == y).sum().item()
        if step >= 3: times.append(time.perf_counter() - t)
    med = statistics.median(times)
    print(f"enas_score torch-{torch.__version__} device=cpu batch={a.batch} C={a.channels} "
          f"L={a.layers} hw={a.hw} median_step_s={med:.4f} images_per_s={a.batch / med:.1f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64); ap.add_argument("--channels", type=int, default=20)
    ap.add_argument("--hw", type=int, default=32); ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2); ap.add_argument("--score", action="store_true")
    ap.add_argument("--layers", type=int, default=6); ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--reference", default="../shared/bench/enas_micro_step.py")
    a = ap.parse_args()
    torch.set_num_threads(a.threads); torch.manual_seed(0)
    if a.score:
        score(a)
    else:
        profile(a)


if __name__ == "__main__":
    main()
