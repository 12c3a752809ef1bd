# PyTorch side of the fmnist-cnn throughput benchmark: training images/s (Adam, batch 128) or, with --infer, inference speed.
"""
Usage: /usr/bin/python3 bench/torch_train.py [THREADS] [--infer] [--steps N] [--warmup N] [--seed S] [--json]

Prints one JSON object on stdout (always; --json is accepted for symmetry with the other bench commands).
Progress goes to stderr. Inputs are random (seeded) 1x28x28 batches with random labels, generated before
timing; only the step itself is timed.

Training:  {"images_per_s", "threads", "batch", "steps", "torch", ...}; images_per_s = batch / median step time.
--infer:   eval mode under torch.inference_mode: images/s at batch 128 (median over --steps runs) and the
           median latency in ms at batch 1.
"""
import argparse
import json
import platform
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 128


def conv_bn_relu(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=True), nn.BatchNorm2d(cout), nn.ReLU()]


def fmnist_cnn():
    """fmnist-cnn: 2x(conv3x3+BN+ReLU) -> maxpool2 -> 2x(conv3x3+BN+ReLU) -> maxpool2 -> 3136 -> 256 -> 10."""
    return nn.Sequential(
        *conv_bn_relu(1, 32), *conv_bn_relu(32, 32), nn.MaxPool2d(2),  # [B,32,14,14]
        *conv_bn_relu(32, 64), *conv_bn_relu(64, 64), nn.MaxPool2d(2),  # [B,64,7,7]
        nn.Flatten(),  # [B,3136]
        nn.Linear(3136, 256), nn.ReLU(),
        nn.Linear(256, 10),
    )


def progress(msg):
    print(msg, file=sys.stderr, flush=True)


def make_batches(gen, n, batch):
    xs = [torch.randn(batch, 1, 28, 28, generator=gen) for _ in range(n)]
    ys = [torch.randint(0, 10, (batch,), generator=gen) for _ in range(n)]
    return xs, ys


def bench_train(model, args, gen):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xs, ys = make_batches(gen, 8, BATCH)
    model.train()
    times = []
    loss = float('nan')
    total = args.warmup + args.steps
    for i in range(total):
        x, y = xs[i % len(xs)], ys[i % len(ys)]
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        out = model(x)
        l = F.cross_entropy(out, y)
        l.backward()
        opt.step()
        dt = time.perf_counter() - t0
        loss = l.item()
        if i >= args.warmup:
            times.append(dt)
        progress(f'train step {i + 1}/{total} ({"warm-up" if i < args.warmup else "timed"}) '
                 f'{dt * 1000:.1f} ms loss {loss:.4f}')
    med = statistics.median(times)
    return {
        'images_per_s': BATCH / med,
        'images_per_s_mean': BATCH * len(times) / sum(times),
        'step_ms_median': med * 1000,
        'final_loss': loss,
    }


def bench_infer(model, args, gen):
    model.eval()
    xs, _ = make_batches(gen, 4, BATCH)
    x1 = [x[:1].clone() for x in xs]
    big, small = [], []
    with torch.inference_mode():
        for i in range(args.warmup + args.steps):
            t0 = time.perf_counter()
            model(xs[i % len(xs)])
            dt = time.perf_counter() - t0
            if i >= args.warmup:
                big.append(dt)
            progress(f'infer batch {BATCH} run {i + 1}/{args.warmup + args.steps} {dt * 1000:.1f} ms')
        reps1 = max(50, args.steps * 10)
        for i in range(args.warmup * 10 + reps1):
            t0 = time.perf_counter()
            model(x1[i % len(x1)])
            dt = time.perf_counter() - t0
            if i >= args.warmup * 10:
                small.append(dt)
        progress(f'infer batch 1: {reps1} timed runs')
    med = statistics.median(big)
    return {
        'images_per_s': BATCH / med,
        'batch128_ms_median': med * 1000,
        'batch1_ms_median': statistics.median(small) * 1000,
        'batch1_runs': len(small),
    }


def main():
    ap = argparse.ArgumentParser(description='PyTorch fmnist-cnn throughput (training or --infer).')
    ap.add_argument('threads', nargs='?', type=int, default=2, help='torch.set_num_threads (default 2)')
    ap.add_argument('--infer', action='store_true', help='measure eval-mode inference instead of training')
    ap.add_argument('--steps', type=int, default=None, help='timed steps (default 20 train, 30 infer)')
    ap.add_argument('--warmup', type=int, default=3, help='untimed warm-up steps (default 3)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--json', action='store_true', help='accepted; output is always one JSON object')
    args = ap.parse_args()
    if args.threads < 1:
        ap.error(f'threads must be >= 1, got {args.threads}')
    if args.steps is None:
        args.steps = 30 if args.infer else 20
    if args.steps < 1 or args.warmup < 0:
        ap.error('--steps must be >= 1 and --warmup >= 0')

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    model = fmnist_cnn()
    nparams = sum(p.numel() for p in model.parameters())
    res = bench_infer(model, args, gen) if args.infer else bench_train(model, args, gen)
    out = {
        'model': 'fmnist-cnn',
        'mode': 'infer' if args.infer else 'train',
        'images_per_s': round(res.pop('images_per_s'), 2),
        'threads': args.threads,
        'batch': BATCH,
        'steps': args.steps,
        'warmup': args.warmup,
        'torch': torch.__version__,
        'params': nparams,
        **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in res.items()},
        'machine': {'cpu': platform.processor() or platform.machine(), 'python': platform.python_version()},
    }
    print(json.dumps(out))


if __name__ == '__main__':
    main()
