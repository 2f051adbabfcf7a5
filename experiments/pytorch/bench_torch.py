#!/usr/bin/python3
"""experiments/pytorch/bench_torch.py: the PyTorch side of `plat bench` (notes/07-performance.md).

The same configurations (lm-s, lm-m, vit-s; the context sweep lm-T128 ... lm-T2048), each with
softmax and p-Laplacian attention (p = 1.5, self term "unit"), built with plat_torch.py's models, trained on the same kind of synthetic
batch with the same step: forward, cross-entropy, zero_grad (set_to_none), backward,
clip_grad_norm_(1.0), AdamW (two groups, foreach=True; fused AdamW does not exist for CPU in 1.13),
clamp of p. The median step time after warm-up, throughput, peak RSS of a fresh process per case,
matmul GFLOP/s by the same formula as experiments/bench/bench.cpp (model_flops) and its fraction of a
2048^3 torch.mm measured in the same process on the same threads.

Attention is the mirror's formulation: batched q @ k^T, masked_fill with -inf, torch.softmax, A @ v
(PyTorch 1.13 has no scaled_dot_product_attention); p-LaT adds cdist's direct-difference distances
and the log term (plat_torch.plap_attention).

    /usr/bin/python3 experiments/pytorch/bench_torch.py --threads 2 [--config lm-s|lm-m|vit-s|all|lm-T1024|sweep]
        [--attn softmax|plap|both] [--steps N] [--warmup N] [--json] [--profile-steps N]

Threads: --threads (default PLAT_THREADS, else all cores) goes to torch.set_num_threads. Each case
runs in a fresh process (this script, --one) so its peak RSS is its own. The JSON's "blas" lists the
BLAS and OpenMP libraries the process mapped (/proc/self/maps): proof of which one LD_LIBRARY_PATH chose.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import torch
    import torch.nn.functional as F  # noqa: F401  (plat_torch uses it)
    import plat_torch as pt
except ImportError as e:
    sys.exit(f"bench_torch: {e}; run with Debian's Python, which has PyTorch 1.13: /usr/bin/python3 {sys.argv[0]}")

CASES = ["lm-s", "lm-m", "vit-s"]
SWEEP_TOKENS = 4096  # B T of every sweep step (notes/07, "Scaling with the context")
SWEEP = [f"lm-T{t}" for t in (128, 256, 512, 1024, 2048)]


def make_case(name: str, attn: str):
    """(ModelConfig, B), the same as experiments/bench/bench.cpp make_case."""
    p = [1.5 if attn == "plap" else 2.0]
    if name == "lm-s":
        return pt.ModelConfig(model="lm", dim=128, layers=4, heads=4, context=128, attn=attn, p=p, seed=1), 32
    if name == "lm-m":
        return pt.ModelConfig(model="lm", dim=256, layers=6, heads=8, context=256, attn=attn, p=p, seed=1), 16
    if name == "vit-s":
        return pt.ModelConfig(model="vit", dim=128, layers=4, heads=4, patch=4, attn=attn, p=p, seed=1), 128
    if name in SWEEP:
        T = int(name[4:])
        if SWEEP_TOKENS % T:
            raise ValueError(f"bench_torch: {name}: T = {T} does not divide the {SWEEP_TOKENS} tokens of a sweep step")
        cfg = pt.ModelConfig(model="lm", dim=128, layers=4, heads=4, context=T, attn=attn, p=p, seed=1)
        return cfg, SWEEP_TOKENS // T
    raise ValueError(f"bench_torch: unknown configuration {name!r}; expected one of {CASES + SWEEP}")


def tokens_per_item(cfg) -> int:
    return cfg.context if cfg.model == "lm" else (28 // cfg.patch) ** 2 + 1


def model_flops(cfg, B: int) -> float:
    """Matmul FLOPs of one training step; the formula of experiments/bench/bench.cpp model_flops
    (notes/07, "Counting FLOPs"): per block 24 R C^2 + 4 B T^2 C forward, twice that backward;
    lm head 2 R C V (x3); vit patch embedding 2 B N P^2 C (x2: no gradient for the pixels), head 2 B C 10 (x3)."""
    C, L, T = cfg.dim, cfg.layers, tokens_per_item(cfg)
    R = B * T
    block = 24.0 * R * C * C + 4.0 * B * T * T * C
    total = 3 * L * block
    if cfg.model == "lm":
        total += 3 * 2.0 * R * C * cfg.vocab()
    else:
        total += 2 * 2.0 * B * (T - 1) * cfg.patch ** 2 * C + 3 * 2.0 * B * C * cfg.classes()
    return total


def synthetic_batch(cfg, B: int):
    g = torch.Generator().manual_seed(11)
    if cfg.model == "lm":
        x = torch.randint(0, cfg.vocab(), (B, cfg.context), generator=g)
        y = torch.randint(0, cfg.vocab(), (B, cfg.context), generator=g)
    else:
        x = torch.randn(B, 1, 28, 28, generator=g)
        y = torch.randint(0, cfg.classes(), (B,), generator=g)
    return x, y


def sgemm_gflops(n: int = 2048, reps: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    c = torch.empty(n, n)
    torch.mm(a, b, out=c)  # warm-up
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.mm(a, b, out=c)
        ts.append(time.perf_counter() - t0)
    return 2.0 * n ** 3 / statistics.median(ts) / 1e9


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGESIZE") / 2 ** 20


def mapped_libraries() -> list:
    """The BLAS, LAPACK and OpenMP libraries this process has mapped, by real path."""
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if "/" in line}
    return sorted(p for p in paths if any(k in os.path.basename(p) for k in ("blas", "lapack", "gomp", "omp.so")))


def load_average() -> float:
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def run_case(name: str, attn: str, args) -> dict:
    base_rss = current_rss_mb()
    cfg, B = make_case(name, attn)
    torch.manual_seed(0)
    model = pt.build_model(cfg)
    model.train()
    opt = torch.optim.AdamW(pt.param_groups(model, 0.1), lr=1e-3, betas=(0.9, 0.95), eps=1e-8, foreach=True)
    params = [w for w in model.parameters()]
    x, y = synthetic_batch(cfg, B)

    def step() -> float:
        t0 = time.perf_counter()
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        pt.clamp_p(model)
        return time.perf_counter() - t0

    for _ in range(args.warmup):
        step()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    load0 = load_average()
    times = [step() for _ in range(args.steps)]
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    median = statistics.median(times)

    breakdown = None
    if args.profile_steps > 0:
        # torch's own profiler: self CPU time per aten operator, per step.
        with torch.autograd.profiler.profile() as prof:
            for _ in range(args.profile_steps):
                step()
        rows = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
        breakdown = [{"op": e.key, "calls": e.count // args.profile_steps,
                      "self_ms": e.self_cpu_time_total / 1e3 / args.profile_steps}
                     for e in rows[:args.top]]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # before the sgemm allocates
    sgemm = args.sgemm_gflops if args.sgemm_gflops > 0 else sgemm_gflops()
    flops = model_flops(cfg, B)
    items = B * cfg.context if cfg.model == "lm" else B
    out = {
        "framework": "torch", "config": name, "attn": attn, "threads": torch.get_num_threads(), "batch": B,
        "T": tokens_per_item(cfg),
        "steps": args.steps, "step_s": median, "step_min_s": min(times), "step_max_s": max(times),
        "throughput": items / median, "throughput_unit": "tokens/s" if cfg.model == "lm" else "images/s",
        "peak_rss_mb": peak, "base_rss_mb": base_rss, "gflop_per_step": flops / 1e9,
        "gflops": flops / median / 1e9, "sgemm_gflops": sgemm, "fraction": flops / median / 1e9 / sgemm,
        "cpu_util": cpu / (sum(times) * torch.get_num_threads()), "cpu_s_per_step": cpu / args.steps,
        "load_avg": max(load0, load_average()),
        "params": sum(w.numel() for w in params), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
        "torch": torch.__version__, "blas": mapped_libraries(),
    }
    if breakdown is not None:
        out["breakdown"] = breakdown
    return out


def print_text(r: dict) -> None:
    t = f"T = {r['T']}, " if r["config"] in SWEEP else ""
    print(f"{r['config']} {r['attn']} (torch {r['torch']}, {r['threads']} threads, {t}B = {r['batch']}, {r['params']} params): "
          f"step {1e3 * r['step_s']:.1f} ms (median of {r['steps']}; min {1e3 * r['step_min_s']:.1f}, "
          f"max {1e3 * r['step_max_s']:.1f}), {r['throughput']:.0f} {r['throughput_unit']}")
    print(f"  {r['gflop_per_step']:.2f} GFLOP/step (matmuls), {r['gflops']:.1f} GFLOP/s = {100 * r['fraction']:.0f}% of "
          f"sgemm {r['sgemm_gflops']:.1f} GFLOP/s; peak RSS {r['peak_rss_mb']:.0f} MB (after import {r['base_rss_mb']:.0f} MB)")
    print(f"  CPU use {100 * r['cpu_util']:.0f}% of {r['threads']} threads x wall time; load average {r['load_avg']:.2f}; "
          f"OMP_WAIT_POLICY={r['omp_wait_policy'] or '(unset)'}")
    if "breakdown" in r:
        print("  top operators by self CPU time (torch.autograd.profiler), per step:")
        for e in r["breakdown"]:
            print(f"    {e['op']:<45} {e['calls']:>5} calls {e['self_ms']:9.2f} ms")
    sys.stdout.flush()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="all", choices=CASES + SWEEP + ["all", "sweep"])
    ap.add_argument("--attn", default="both", choices=["softmax", "plap", "both"])
    ap.add_argument("--steps", type=int, default=10, help="timed steps (the median is reported)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("PLAT_THREADS") or os.cpu_count()))
    ap.add_argument("--profile-steps", type=int, default=0, help="extra steps under torch's profiler (0: none)")
    ap.add_argument("--top", type=int, default=15, help="operators listed in the profile")
    ap.add_argument("--json", action="store_true", help="one JSON object per line per case")
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # run one case in this process
    ap.add_argument("--sgemm-gflops", type=float, default=0.0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.steps < 1 or args.warmup < 0 or args.threads < 1:
        ap.error("--steps >= 1, --warmup >= 0 and --threads >= 1 are required")
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    emit = (lambda r: print(json.dumps(r), flush=True)) if args.json else print_text

    names = {"all": CASES, "sweep": SWEEP}.get(args.config, [args.config])
    attns = ["softmax", "plap"] if args.attn == "both" else [args.attn]
    if len(names) * len(attns) == 1 or args.one:
        emit(run_case(names[0], attns[0], args))
        return 0
    args.sgemm_gflops = args.sgemm_gflops or sgemm_gflops()
    if not args.json:
        print(f"sgemm 2048^3 (torch.mm): {args.sgemm_gflops:.1f} GFLOP/s on {args.threads} threads; "
              f"each case runs in a fresh process")
    for name in names:
        for attn in attns:
            cmd = [sys.executable, os.path.abspath(__file__), "--one", "--json", "--config", name, "--attn", attn,
                   "--steps", str(args.steps), "--warmup", str(args.warmup), "--threads", str(args.threads),
                   "--profile-steps", str(args.profile_steps), "--top", str(args.top),
                   "--sgemm-gflops", str(args.sgemm_gflops)]
            res = subprocess.run(cmd, stdout=subprocess.PIPE, check=True, text=True)
            emit(json.loads(res.stdout.strip().splitlines()[-1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
