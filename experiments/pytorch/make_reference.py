#!/usr/bin/python3
"""experiments/pytorch/make_reference.py: writes tests/reference/*.safetensors, the small files
plat's C++ test (tests/test_reference.cpp) compares its models against tensor by tensor, by name,
in the manner of llm.c's test_gpt2.c. The truth is computed in float64 by the PyTorch mirror
(plat_torch.py) from float32-representable parameters and inputs, and stored as float32.

    /usr/bin/python3 experiments/pytorch/make_reference.py            # writes tests/reference/
    /usr/bin/python3 experiments/pytorch/make_reference.py --check    # recompute, compare, write nothing

Each file holds (names are the same as `plat inspect` writes):
    <state_dict name>      every parameter                              F32
    x, y                   lm: bytes [B,T] and next bytes [B,T]          I64
                           vit: images [B,1,28,28] F32, labels [B] I64
    logits                 lm [B,T,256], vit [B,10]                      F32
    loss                   mean cross-entropy, shape [1]                 F32
    grad.<name>            dloss/d<name> for every parameter             F32
    attn.<l>               attention weights of layer l [B,H,T,T]        F32
    adamw_losses           loss before each of 10 AdamW steps on (x, y)  F32 [10]
    __metadata__: config (ModelConfig JSON), adamw (hyperparameters JSON), and provenance.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plat_torch as pt  # noqa: E402  (exits with advice when PyTorch is missing)
import torch  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT_DIR = os.path.join(ROOT, "tests", "reference")

# Tiny models so the files stay small and the C++ test runs in a fraction of a second.
LM = dict(model="lm", dim=32, layers=2, heads=2, context=16, seed=1234)
VIT = dict(model="vit", dim=32, layers=2, heads=2, patch=7, seed=1234)   # 16 patches + cls = 17 tokens
LM_BATCH, VIT_BATCH = (2, 16), 4

CASES = [  # file name -> config
    ("lm_softmax", dict(LM, attn="softmax")),
    ("lm_plap_unit", dict(LM, attn="plap", p=1.5, self="unit")),
    ("lm_plap_exclude_perlayer", dict(LM, attn="plap", p=[1.5, 3.0], self="exclude")),
    ("lm_plap_unit_learnp", dict(LM, attn="plap", p=1.5, self="unit", learn_p=True)),
    ("vit_softmax", dict(VIT, attn="softmax")),
    ("vit_plap_unit", dict(VIT, attn="plap", p=1.5, self="unit")),
    ("vit_plap_exclude_learnp", dict(VIT, attn="plap", p=1.5, self="exclude", learn_p=True)),
]

ADAMW = dict(lr=1e-3, betas=[0.9, 0.95], eps=1e-8, weight_decay=0.1, steps=10, p_clamp=[1.0, 4.0],
             schedule="constant",
             groups="decay: every parameter with ndim >= 2 except wte, wpe, cls_token, pos_embed; "
                    "no decay: biases, norm weights, embeddings, attn.p")

# The start of the KJV (plat's training text): window b is bytes [b*T, b*T + T], x its first T
# bytes, y the same window shifted by one (next-byte targets).
TEXT = b"In the beginning God created the heaven and the earth. And the earth was without form, and void;"

PERTURB_STD = 0.1   # see perturb()
P_HEAD_STEP = 0.25  # learnable p: head h starts at p_l + 0.25 h


@torch.no_grad()
def perturb(model, cfg, seed):
    """The spec's initialization leaves biases at 0, norms at 1 and attention almost uniform
    (q.k / sqrt(D) ~ 0.03): a plat bug that dropped a bias or mixed up q and k would then hardly
    show. So every parameter but p gets N(0, 0.1^2) added, which makes q.k / sqrt(D) of order 1
    and every parameter matter in the forward; and a learnable p gets a different value per head
    (p_l + 0.25 h) so that per-head indexing of p is tested too. Finally every value is rounded to
    float32, since the file stores float32 and plat must start from exactly the same numbers."""
    g = torch.Generator().manual_seed(seed + 1)
    for name, w in model.named_parameters():
        if pt.is_p(name):
            w.add_(P_HEAD_STEP * torch.arange(w.numel(), dtype=w.dtype))
        else:
            w.add_(PERTURB_STD * torch.randn(w.shape, generator=g, dtype=w.dtype))
        w.copy_(w.float().double())


def make_batch(cfg, seed):
    if cfg.model == "lm":
        B, T = LM_BATCH
        assert len(TEXT) >= B * T + 1
        rows = [list(TEXT[b * T: b * T + T + 1]) for b in range(B)]
        data = torch.tensor(rows, dtype=torch.int64)                   # [B, T+1]
        return data[:, :T].contiguous(), data[:, 1:].contiguous()
    g = torch.Generator().manual_seed(seed + 2)
    x = torch.randn(VIT_BATCH, 1, 28, 28, generator=g).double()      # float32 values, held in float64
    y = torch.randint(0, 10, (VIT_BATCH,), generator=g)
    return x, y


def set_capture(model, on):
    for a in model.attentions():
        a.capture = on
        a.weights = None


def forward_backward(model, x, y):
    """logits, loss, {grad.<name>}, {attn.<l>} for one batch (gradients freshly zeroed)."""
    model.zero_grad(set_to_none=True)
    set_capture(model, True)
    logits, loss = model(x, y)
    loss.backward()
    grads = {f"grad.{n}": w.grad.detach().clone() for n, w in model.named_parameters()}
    attns = {f"attn.{l}": a.weights for l, a in enumerate(model.attentions())}
    set_capture(model, False)
    return logits.detach(), loss.detach(), grads, attns


def adamw_losses(model, x, y, steps=ADAMW["steps"]):
    """The loss before each AdamW step on the same batch (the spec's groups, p clamped after each step)."""
    opt = pt.make_adamw(model, lr=ADAMW["lr"], betas=tuple(ADAMW["betas"]), eps=ADAMW["eps"],
                        weight_decay=ADAMW["weight_decay"])
    losses = []
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        _, loss = model(x, y)
        loss.backward()
        opt.step()
        pt.clamp_p(model, *ADAMW["p_clamp"])
        losses.append(loss.item())
    return torch.tensor(losses, dtype=torch.float64)


def compute(cfg_dict):
    """Everything one file holds, in float64, as {name: tensor} plus the model."""
    cfg = pt.ModelConfig.from_dict(cfg_dict)
    model = pt.build_model(cfg, torch.float64)
    perturb(model, cfg, cfg.seed)
    x, y = make_batch(cfg, cfg.seed)
    trained = copy.deepcopy(model)
    logits, loss, grads, attns = forward_backward(model, x, y)
    out = {n: w.detach().clone() for n, w in model.named_parameters()}
    out.update(x=x, y=y, logits=logits, loss=loss.reshape(1))
    out.update(grads)
    out.update(attns)
    out["adamw_losses"] = adamw_losses(trained, x, y)
    return cfg, model, out


def to_file_dtypes(tensors):
    return {n: (t if t.dtype == torch.int64 else t.float()) for n, t in tensors.items()}


def metadata(cfg):
    return {
        "config": cfg.to_json(),
        "adamw": json.dumps(ADAMW),
        "format": "plat reference/inspect: parameters by state_dict name, x, y, logits, loss [1], "
                  "grad.<name>, attn.<layer> [B,H,T,T], adamw_losses [steps]",
        "generator": "experiments/pytorch/make_reference.py (float64 truth stored as float32)",
        "torch": torch.__version__,
        "perturb": f"spec init from seed, then N(0,{PERTURB_STD}^2) added to every parameter but p; "
                   f"learnable p = p_l + {P_HEAD_STEP}*head",
    }


def worst(a, b):
    """Worst |a - b| and that divided by max|b| (the tensor's scale): an elementwise relative error
    would be meaningless for gradient entries that happen to be near 0."""
    d = (a.double() - b.double()).abs().max().item()
    scale = b.double().abs().max().item()
    return d, d / scale if scale > 0 else d


def kind(name):
    for k in ("grad.", "attn."):
        if name.startswith(k):
            return k[:-1]
    return name if name in ("logits", "loss", "adamw_losses") else None


def check_p2_equals_softmax():
    """notes/03, "What is tested": plap with p = 2 and the unit self term is softmax attention. Whole
    models, float64, same parameters: logits, loss and every gradient agree to rounding."""
    for base in (LM, VIT):
        cfg_s, model_s, ref = compute(dict(base, attn="softmax"))
        cfg_p = pt.ModelConfig.from_dict(dict(base, attn="plap", p=2.0, self="unit", learn_p=True))
        model_p = pt.build_model(cfg_p, torch.float64)
        state = {n: ref[n] if n in ref else torch.full((cfg_p.heads,), 2.0, dtype=torch.float64)
                 for n in model_p.state_dict()}
        model_p.load_state_dict(state)
        logits, loss, grads, attns = forward_backward(model_p, ref["x"], ref["y"])
        diffs = [worst(logits, ref["logits"])[0], worst(loss, ref["loss"])[0]]
        diffs += [worst(grads[n], ref[n])[0] for n in ref if n.startswith("grad.")]
        diffs += [worst(attns[n], ref[n])[0] for n in ref if n.startswith("attn.")]
        m = max(diffs)
        print(f"  {base['model']}: plap p=2 unit (learn_p) vs softmax, float64: max |diff| over logits, loss, "
              f"attn, all grads = {m:.1e}")
        assert m < 1e-12, "p = 2 with the unit self term must reproduce softmax attention"
        # With learn_p the gradient wrt p exists; it is not compared to anything here.


def check_float32(name, cfg, ref):
    """Reload the file as plat would (float32 parameters, float32 arithmetic in PyTorch) and
    report how far float32 lands from the float64 truth: the error plat's float32 test must
    tolerate is of this size."""
    path = os.path.join(OUT_DIR, name + ".safetensors")
    stored, meta = pt.load_safetensors(path)
    assert pt.ModelConfig.from_json(meta["config"]) == cfg
    model = pt.load_plat_checkpoint(path, torch.float32)
    assert sorted(n for n, _ in model.named_parameters()) == sorted(
        n for n in stored if kind(n) is None and n not in ("x", "y")), "file parameters == named_parameters()"
    x = stored["x"] if cfg.model == "lm" else stored["x"].float()
    logits, loss, grads, attns = forward_backward(model, x, stored["y"])
    got = dict(logits=logits, loss=loss.reshape(1), **grads, **attns)
    got["adamw_losses"] = adamw_losses(copy.deepcopy(model), x, stored["y"]).float()
    per_kind = {}
    for n, t in got.items():
        a, r = worst(t, stored[n])
        k = kind(n)
        if k not in per_kind or r > per_kind[k][2]:
            per_kind[k] = (n, a, r)
    return per_kind


def main(argv=None):
    ap = argparse.ArgumentParser(description="write tests/reference/*.safetensors")
    ap.add_argument("--check", action="store_true", help="recompute and compare with the committed files; write nothing")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)  # the same sums in the same order on every machine we can make it so
    print(f"torch {torch.__version__}; writing to {os.path.relpath(OUT_DIR, os.getcwd())}/" if not args.check
          else f"torch {torch.__version__}; checking {OUT_DIR}")
    print("sanity: p = 2 with self=unit is softmax attention")
    check_p2_equals_softmax()
    os.makedirs(OUT_DIR, exist_ok=True)
    total = 0
    for name, cfg_dict in CASES:
        cfg, _, ref = compute(cfg_dict)
        path = os.path.join(OUT_DIR, name + ".safetensors")
        stored = to_file_dtypes(ref)
        if args.check:
            old, meta = pt.load_safetensors(path)
            assert set(old) == set(stored), f"{name}: names differ: {set(old) ^ set(stored)}"
            d = max(worst(old[n], stored[n])[0] for n in stored)
            assert meta["config"] == cfg.to_json(), f"{name}: config differs"
            print(f"{name}: recomputed, max |diff| to committed file {d:.1e}")
            continue
        pt.save_safetensors(path, stored, metadata(cfg))
        back, _ = pt.load_safetensors(path)
        assert all(torch.equal(back[n], stored[n]) for n in stored), "safetensors round trip"
        size = os.path.getsize(path)
        total += size
        L = ref["adamw_losses"]
        print(f"{name}: {len(stored)} tensors, {size / 1024:.0f} KiB; config {cfg.to_json()}")
        print(f"    loss {ref['loss'].item():.6f}; AdamW losses {L[0].item():.4f} -> {L[-1].item():.4f}")
        for k, (n, a, r) in sorted(check_float32(name, cfg, ref).items()):
            print(f"    float32 PyTorch vs float64 truth, worst {k:12s}: |diff| {a:.1e}, /max|ref| {r:.1e}  ({n})")
    if not args.check:
        print(f"total {total / 1024:.0f} KiB in {len(CASES)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
