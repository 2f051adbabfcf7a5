#!/usr/bin/python3
"""experiments/pytorch/train_torch.py: `plat train lm` done by PyTorch, for the side-by-side quality
check of notes/06b-plat-vs-pytorch.md : the same byte-level language model
(plat_torch.py's LM: nanoGPT layout, GPT-2 initialization), the same cleaned bytes (data/kjv.txt)
and split by position (train 90%, validation 5%, the test 5% unread), the same AdamW (two groups,
betas 0.9/0.95, eps 1e-8, decoupled weight decay on Linear weights only), the same warm-up + cosine
schedule, gradient clipping, batch,
context and number of steps as experiments/training/trainer.cpp, with the same option names and defaults.

What is NOT the same as plat: the random numbers. The initial weights come from a torch generator
seeded with --seed (plat_torch.init_weights; same distributions, other numbers), and the training
windows from a second torch generator seeded with --seed XOR plat's data-seed constant (the same
distribution: B windows of T + 1 bytes starting uniformly in [0, n_train - T), but not plat's
sequence of windows).

The run directory gets what `plat train` writes, so plat's tools read it:
  config.json       the model and training options, the torch version and thread count
  metrics.csv       plat's columns (step,train_loss,lr,grad_norm,throughput,val_loss,val_bpb,val_acc,elapsed),
                    so `plat plot` draws it next to a plat run
  last.safetensors  the final model as a plat checkpoint (plat_torch.save_plat_checkpoint):
                    `plat eval --checkpoint DIR/last.safetensors` measures it on plat's own windows
  result.json       the final validation over --final-batches (default: the whole split), the
                    first batch's loss alone, training time and tokens/s, the training-loss ends

Validation is plat's evaluate() for the text (datasets/text.h, TextSequentialBatches): the last
10% cut into consecutive windows of `context` bytes, window w = bytes [wT, wT + T], rows filling
batches of --batch in order; the mean loss weighted by targets. So the numbers here and plat
eval's on the written checkpoint must agree (experiments/scripts/compare_torch.sh checks that they do).

    /usr/bin/python3 experiments/pytorch/train_torch.py --run runs/compare-torch/torch \\
        --steps 2000 --lr 4e-3 --min-lr 2e-4 --warmup 50 --threads 2
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# Idle OpenMP threads sleep instead of spinning (read once, when torch loads libgomp): on a shared
# machine spinning threads steal the cores they wait for (notes/07-performance.md, "Measured
# history of the changes"). experiments/scripts/compare_torch.sh sets the same for plat; an explicit
# OMP_WAIT_POLICY in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
    import plat_torch as pt
except ImportError as e:  # the pyenv python3 first on PATH has neither
    sys.exit(f"train_torch: {e}; run with Debian's Python, which has PyTorch 1.13: /usr/bin/python3 {sys.argv[0]}")

# experiments/training/trainer.cpp kDataSeedMix: plat seeds its data generator with seed XOR this. torch's
# generator takes a 64-bit seed too, but the streams are unrelated (plat's Generator is not torch's).
DATA_SEED_MIX = 0x6A09E667F3BCC909

# ---- data (datasets/text.{h,cpp}) ------------------------------------------------------------------


def load_split(path: str, context: int, held_out_fraction: float = 0.1, test_fraction: float = 0.05):
    """(train, val) uint8 tensors: split_text's rule in double arithmetic, the first
    n - floor(n * 0.1) bytes train, then validation up to the test part (the last floor(n * 0.05)
    bytes, which this script never reads)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        sys.exit(f"train_torch: cannot read the text '{path}' ({e.strerror}); run `make data` first, "
                 "or give --data DIR holding kjv.txt")
    if not raw:
        sys.exit(f"train_torch: the text '{path}' is empty; run `make data` again")
    n = len(raw)
    boundary = n - int(math.floor(float(n) * held_out_fraction))
    test_boundary = n - int(math.floor(float(n) * test_fraction))
    data = torch.from_numpy(np.frombuffer(raw, dtype=np.uint8).copy())
    train, val = data[:boundary], data[boundary:test_boundary]
    if len(train) < context + 1 or len(val) < context + 1:
        sys.exit(f"train_torch: '{path}' has {n} bytes; each split must hold one window of --context + 1 = "
                 f"{context + 1} bytes")
    return train, val, boundary


class WindowSampler:
    """TextBatchSampler's distribution: B windows of T + 1 bytes, each starting uniformly in
    [0, n - T - 1]; x = the first T bytes, y = the last T. Drawn by a seeded torch generator."""

    def __init__(self, data: torch.Tensor, B: int, T: int, seed: int):
        self.data, self.B, self.T = data, B, T
        self.gen = torch.Generator().manual_seed(seed)
        self.offsets = torch.arange(T + 1)                               # [T+1]

    def next(self):
        starts = torch.randint(0, len(self.data) - self.T, (self.B,), generator=self.gen)  # [B]
        w = self.data[starts[:, None] + self.offsets].long()              # [B, T+1]
        return w[:, :-1], w[:, 1:]                                         # x, y [B, T]


def sequential_batches(data: torch.Tensor, B: int, T: int):
    """TextSequentialBatches: windows w = 0 .. (n - 1) // T - 1 covering bytes [wT, wT + T], in
    batches of B rows in order (the last batch may be short)."""
    windows = (len(data) - 1) // T
    for first in range(0, windows, B):
        rows = min(B, windows - first)
        starts = torch.arange(first, first + rows) * T                    # [rows]
        w = data[starts[:, None] + torch.arange(T + 1)].long()            # [rows, T+1]
        yield w[:, :-1], w[:, 1:]


@torch.no_grad()
def evaluate(model, val: torch.Tensor, B: int, T: int, max_batches: int) -> dict:
    """plat's evaluate() for the lm task: mean cross-entropy per target over the first
    max_batches batches (0 = all), each batch's mean loss weighted by its targets, in double;
    accuracy = argmax == target. Also the first batch's loss on its own (a quick check against
    `plat eval --batches 1`)."""
    was_training = model.training
    model.eval()
    loss_sum, correct, targets, batches, first = 0.0, 0, 0, 0, float("nan")
    for x, y in sequential_batches(val, B, T):
        if max_batches and batches >= max_batches:
            break
        logits, loss = model(x, y)                                         # [rows, T, V], []
        n = y.numel()
        loss_sum += float(loss) * n
        correct += int((logits.argmax(-1) == y).sum())
        targets += n
        batches += 1
        if batches == 1:
            first = float(loss)
    model.train(was_training)
    return {"loss": loss_sum / targets, "bpb": loss_sum / targets / math.log(2), "accuracy": correct / targets,
            "targets": targets, "batches": batches, "first_batch_loss": first}


# ---- schedule (nn/optim.h CosineSchedule) ------------------------------------------------------------


def lr_at(step: int, max_lr: float, min_lr: float, warmup: int, total: int) -> float:
    """The learning rate of update number `step` (1-based): linear warm-up from 0 over `warmup`
    steps, then a cosine from max_lr down to min_lr at step `total`."""
    if warmup > 0 and step <= warmup:
        return max_lr * step / warmup
    if step >= total:
        return min_lr
    progress = (step - warmup) / (total - warmup)
    return min_lr + (max_lr - min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


# ---- metrics.csv (experiments/training/run_dir.cpp MetricsLog) -------------------------------------------------

METRICS_HEADER = "step,train_loss,lr,grad_norm,throughput,val_loss,val_bpb,val_acc,elapsed"


def metrics_row(step, train_loss, lr, grad_norm, throughput, val=None, elapsed=float("nan")) -> str:
    def f(v, fmt):
        return format(v, fmt) if v is not None and math.isfinite(v) else ""
    v = val or {}
    return ",".join([str(step), f(train_loss, ".9g"), f(lr, ".6g"), f(grad_norm, ".6g"), f(throughput, ".1f"),
                     f(v.get("loss"), ".9g"), f(v.get("bpb"), ".6g"), f(v.get("accuracy"), ".6g"),
                     f(elapsed, ".3f")])


def fmt_duration(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    s = int(round(s))
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


# ---- the run ------------------------------------------------------------------------------------------


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    m = ap.add_argument_group("model options (as plat train)")
    m.add_argument("--dim", type=int, default=128, help="channels C")
    m.add_argument("--layers", type=int, default=4, help="transformer blocks L")
    m.add_argument("--heads", type=int, default=4, help="attention heads H")
    m.add_argument("--context", type=int, default=128, help="longest sequence T")
    m.add_argument("--attn", choices=["softmax", "plap"], default="softmax", help="attention")
    m.add_argument("--p", default="2", help="plap: p, one value or a comma-separated list with one per layer")
    m.add_argument("--self", dest="self_term", choices=["unit", "exclude"], default="unit", help="plap self term")
    m.add_argument("--eps", type=float, default=1e-6, help="plap: eps inside the log")
    m.add_argument("--learn-p", action="store_true", help="plap: learn p, one per head")
    m.add_argument("--seed", type=int, default=0, help="seed of the initialization and (XOR a constant) the data order")
    t = ap.add_argument_group("training options (as plat train)")
    t.add_argument("--steps", type=int, default=2000, help="optimizer steps")
    t.add_argument("--batch", type=int, default=16, help="batch size B")
    t.add_argument("--lr", type=float, default=1e-3, help="peak learning rate")
    t.add_argument("--min-lr", type=float, default=1e-4, help="learning rate at the end of the cosine")
    t.add_argument("--warmup", type=int, default=100, help="linear warm-up steps (min(warmup, steps) are used)")
    t.add_argument("--weight-decay", type=float, default=0.1, help="AdamW decoupled weight decay, Linear weights only")
    t.add_argument("--grad-clip", type=float, default=1.0, help="clip the gradients' total 2-norm; 0 = off")
    t.add_argument("--eval-every", type=int, default=200, help="validate every N steps and at the end; 0 = at the end only")
    t.add_argument("--eval-batches", type=int, default=20, help="validation batches during training")
    t.add_argument("--log-every", type=int, default=10, help="a progress line every N steps")
    t.add_argument("--quiet", action="store_true", help="no progress lines")
    t.add_argument("--run", help="run directory (must not hold a last.safetensors yet); required to train")
    t.add_argument("--data", default=os.environ.get("PLAT_DATA_DIR") or "data",
                   help="data directory holding kjv.txt (default $PLAT_DATA_DIR, else data)")
    o = ap.add_argument_group("this script only")
    o.add_argument("--final-batches", type=int, default=0,
                   help="batches of the final validation written to result.json; 0 = the whole split")
    o.add_argument("--eval-checkpoint", metavar="CKPT",
                   help="train nothing: load a plat checkpoint (plat's or this script's) with load_plat_checkpoint, "
                        "evaluate it here on --final-batches batches of --batch rows, print one JSON line")
    o.add_argument("--threads", type=int, default=int(os.environ.get("PLAT_THREADS") or os.cpu_count()),
                   help="torch.set_num_threads (default $PLAT_THREADS, else all cores)")
    a = ap.parse_args(argv)
    checks = [(a.steps >= 1, "--steps >= 1"), (a.batch >= 1, "--batch >= 1"), (a.lr > 0, "--lr > 0"),
              (0 <= a.min_lr <= a.lr, "0 <= --min-lr <= --lr"), (a.warmup >= 0, "--warmup >= 0"),
              (a.weight_decay >= 0, "--weight-decay >= 0"), (a.grad_clip >= 0, "--grad-clip >= 0"),
              (a.eval_every >= 0, "--eval-every >= 0"), (a.eval_batches >= 1, "--eval-batches >= 1"),
              (a.final_batches >= 0, "--final-batches >= 0"), (a.threads >= 1, "--threads >= 1"),
              (a.log_every >= 1, "--log-every >= 1")]
    for ok, what in checks:
        if not ok:
            ap.error(f"{what} is required")
    if not a.run and not a.eval_checkpoint:
        ap.error("--run DIR is required (or --eval-checkpoint CKPT to evaluate a checkpoint)")
    return a


def eval_checkpoint(a) -> int:
    """The other direction of the conversion check: a checkpoint plat wrote, run by PyTorch on
    the same windows; `plat eval` of the same file must print the same loss."""
    model = pt.load_plat_checkpoint(a.eval_checkpoint)
    if model.cfg.model != "lm":
        sys.exit(f"train_torch: '{a.eval_checkpoint}' holds a {model.cfg.model} model; only lm checkpoints are evaluated")
    _, val_data, _ = load_split(os.path.join(a.data, "kjv.txt"), model.cfg.context)
    t0 = time.perf_counter()
    r = evaluate(model, val_data, a.batch, model.cfg.context, a.final_batches)
    r.update(checkpoint=a.eval_checkpoint, seconds=time.perf_counter() - t0, batch=a.batch)
    print(json.dumps(r))
    return 0


def main(argv=None) -> int:
    a = parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    if a.eval_checkpoint:
        return eval_checkpoint(a)
    cfg = pt.ModelConfig(model="lm", dim=a.dim, layers=a.layers, heads=a.heads, context=a.context, attn=a.attn,
                         p=[float(x) for x in a.p.split(",")], self_term=a.self_term, eps=a.eps,
                         learn_p=a.learn_p, seed=a.seed)
    try:
        cfg.validate()
    except ValueError as e:
        sys.exit(f"train_torch: {e}")
    path = os.path.join(a.data, "kjv.txt")
    train, val_data, boundary = load_split(path, cfg.context)
    os.makedirs(a.run, exist_ok=True)
    last = os.path.join(a.run, "last.safetensors")
    if os.path.exists(last):
        sys.exit(f"train_torch: '{last}' exists; choose another --run or delete the directory")

    model = pt.build_model(cfg)                   # GPT-2 init from torch.Generator(seed)
    model.train()
    # foreach=True: the multi-tensor AdamW, the same arithmetic as the per-parameter loop.
    opt = torch.optim.AdamW(pt.param_groups(model, a.weight_decay), lr=a.lr, betas=(0.9, 0.95), eps=1e-8,
                            foreach=True)
    params = list(model.parameters())
    warmup = min(a.warmup, a.steps)
    B, T = a.batch, cfg.context
    sampler = WindowSampler(train, B, T, (a.seed ^ DATA_SEED_MIX) & (2 ** 64 - 1))
    n_params = sum(w.numel() for w in params)

    options = {k: getattr(a, k) for k in ("steps", "batch", "lr", "min_lr", "warmup", "weight_decay", "grad_clip",
                                          "eval_every", "eval_batches", "final_batches", "log_every", "data")}
    with open(os.path.join(a.run, "config.json"), "w") as f:
        json.dump({"model": json.loads(cfg.to_json()), "train": options, "data": path,
                   "split": {"bytes": len(train) + len(val_data), "train": len(train), "val": len(val_data),
                             "boundary": boundary},
                   "parameters": n_params, "implementation": "pytorch", "torch": torch.__version__,
                   "threads": torch.get_num_threads(), "throughput_unit": "tokens/s"}, f, indent=2)
        f.write("\n")
    metrics = open(os.path.join(a.run, "metrics.csv"), "w")
    metrics.write(METRICS_HEADER + "\n")
    if not a.quiet:
        print(f"lm {cfg.attn} model (PyTorch {torch.__version__}, {torch.get_num_threads()} threads), {n_params} "
              f"parameters, {path}; training lm from step 0 to {a.steps}, batch {B}; run directory {a.run}", flush=True)

    losses, step_seconds = [], []
    interval = [0.0, 0, 0.0]                     # loss sum, steps, seconds since the last progress line
    start = time.perf_counter()
    for step in range(1, a.steps + 1):
        t0 = time.perf_counter()
        x, y = sampler.next()                                              # [B, T] each
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, a.grad_clip if a.grad_clip > 0 else math.inf))
        loss_value = float(loss)
        if not (math.isfinite(loss_value) and math.isfinite(grad_norm)):
            sys.exit(f"train_torch: step {step}: loss {loss_value}, gradient norm {grad_norm}; stopping")
        lr = lr_at(step, a.lr, a.min_lr, warmup, a.steps)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.step()
        pt.clamp_p(model)                                                  # learnable p stays in [1, 4]
        dt = time.perf_counter() - t0
        losses.append(loss_value)
        step_seconds.append(dt)
        interval[0] += loss_value
        interval[1] += 1
        interval[2] += dt

        v = None
        if (a.eval_every > 0 and step % a.eval_every == 0) or step == a.steps:
            v = evaluate(model, val_data, B, T, a.eval_batches)
            if not a.quiet:
                print(f"step {step:>6d} validation: loss {v['loss']:.4f} nats = {v['bpb']:.4f} bits per byte, "
                      f"accuracy {100 * v['accuracy']:.2f}%", flush=True)
        metrics.write(metrics_row(step, loss_value, lr, grad_norm, B * T / dt if dt > 0 else float("nan"), v,
                                  time.perf_counter() - start) + "\n")
        if not a.quiet and (step % a.log_every == 0 or step == a.steps):
            elapsed = time.perf_counter() - start
            left = (a.steps - step) * elapsed / step
            print(f"step {step:>6d}/{a.steps}  loss {interval[0] / interval[1]:.4f}  lr {lr:.2e}  grad {grad_norm:.3f}  "
                  f"{B * T * interval[1] / interval[2]:.0f} tok/s  elapsed {fmt_duration(elapsed)}  "
                  f"left {fmt_duration(left)}", flush=True)
            interval = [0.0, 0, 0.0]
    wall = time.perf_counter() - start
    metrics.close()

    # The final model as a plat checkpoint, then checked: read back, the same logits bitwise.
    pt.save_plat_checkpoint(last, model, {"producer": json.dumps(
        {"program": "experiments/pytorch/train_torch.py", "torch": torch.__version__, "step": a.steps})})
    x0, _ = next(sequential_batches(val_data, min(B, 2), T))
    with torch.no_grad():
        model.eval()
        same = torch.equal(model(x0)[0], pt.load_plat_checkpoint(last).eval()(x0)[0])
        model.train()
    if not same:
        sys.exit(f"train_torch: '{last}' read back with load_plat_checkpoint gives other logits; the writer is wrong")

    t_eval = time.perf_counter()
    final = evaluate(model, val_data, B, T, a.final_batches)
    eval_seconds = time.perf_counter() - t_eval
    train_seconds = sum(step_seconds)
    tail = losses[-min(100, len(losses)):]
    result = {
        "implementation": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""), "config": json.loads(cfg.to_json()),
        "steps": a.steps, "batch": B, "context": T, "parameters": n_params,
        "train_seconds": train_seconds, "wall_seconds": wall, "tokens_per_second": a.steps * B * T / train_seconds,
        "train_loss_first": losses[0], "train_loss_first10_mean": sum(losses[:10]) / len(losses[:10]),
        "train_loss_last": losses[-1], "train_loss_last100_mean": sum(tail) / len(tail),
        "val_loss": final["loss"], "val_bpb": final["bpb"], "val_accuracy": final["accuracy"],
        "val_targets": final["targets"], "val_batches": final["batches"],
        "val_first_batch_loss": final["first_batch_loss"], "val_eval_seconds": eval_seconds,
        "checkpoint": last,
    }
    with open(os.path.join(a.run, "result.json"), "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(f"done: {a.steps} steps in {fmt_duration(wall)} ({result['tokens_per_second']:.0f} tok/s over the training "
          f"steps); training loss {result['train_loss_first']:.4f} at step 1 "
          f"(first 10: {result['train_loss_first10_mean']:.4f}), mean of the last {len(tail)} steps "
          f"{result['train_loss_last100_mean']:.4f}")
    print(f"validation: loss {final['loss']:.6f} nats, {final['bpb']:.6f} bits per byte, accuracy "
          f"{100 * final['accuracy']:.2f}%, over {final['targets']} tokens in {final['batches']} batches of up to {B} "
          f"(first batch alone: {final['first_batch_loss']:.6f}) [{eval_seconds:.1f} s]")
    print(f"checkpoint {last} (plat format: plat eval --checkpoint {last}); result {a.run}/result.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
