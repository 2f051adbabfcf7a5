#!/usr/bin/python3
"""experiments/pytorch/plat_torch.py: the PyTorch mirror of plat's two models (the byte-level
language model `lm`, nanoGPT names, and the vision transformer `vit`, timm names), with softmax or
p-Laplacian attention, the same models as nn/models.h and nn/layers.h, same parameter names and
math (notes/05-transformer.md), plus safetensors I/O.

It exists for three jobs: to write the reference files plat's C++ tests compare against
(make_reference.py), to load a plat checkpoint into PyTorch (load_plat_checkpoint), and to time the
same model in PyTorch. The p-Laplacian attention is notes/03's discrete formula, composed from torch
primitives (PyTorch has no fused op for it), batched over batch and heads.

Run `/usr/bin/python3 experiments/pytorch/plat_torch.py --selftest` to check the mirror's
attention against a direct-differences reference, its gradients with torch.autograd.gradcheck, and
the save/load round trip. `--load CHECKPOINT` loads a plat checkpoint and prints its parameters.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import struct
import sys
from typing import Dict, List, Optional, Tuple, Union

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # the pyenv python3 first on PATH has neither
    sys.exit(f"plat_torch: {e}; run with Debian's Python, which has PyTorch 1.13: /usr/bin/python3 {sys.argv[0]}")

# --------------------------------------------------------------------------------------------
# Configuration: the same fields and JSON keys as plat's ModelConfig (nn/config.h).


@dataclasses.dataclass
class ModelConfig:
    model: str = "lm"            # "lm" or "vit"
    dim: int = 128               # C
    layers: int = 4              # L
    heads: int = 4               # H; D = C / H
    context: int = 128           # lm: longest sequence, rows of transformer.wpe
    patch: int = 4               # vit: patch side P, 28 % P == 0
    attn: str = "softmax"        # "softmax" or "plap"
    p: List[float] = dataclasses.field(default_factory=lambda: [2.0])  # one value, or one per layer
    self_term: str = "unit"      # JSON key "self": "unit" or "exclude" (notes/03, "The self term j = i")
    eps: float = 1e-6
    learn_p: bool = False
    seed: int = 0

    def vocab(self) -> int:
        return 256

    def classes(self) -> int:
        return 10

    def p_for_layer(self, layer: int) -> float:
        return float(self.p[0] if len(self.p) == 1 else self.p[layer])

    def validate(self) -> None:
        def bad(field, value, expected):
            raise ValueError(f"ModelConfig: {field} = {value!r}, expected {expected}")
        if self.model not in ("lm", "vit"):
            bad("model", self.model, '"lm" or "vit"')
        if self.dim < 1 or self.heads < 1 or self.dim % self.heads != 0:
            bad("dim", self.dim, f"a positive multiple of heads = {self.heads}")
        if self.layers < 1:
            bad("layers", self.layers, ">= 1")
        if self.model == "lm" and self.context < 1:
            bad("context", self.context, ">= 1")
        if self.model == "vit" and (self.patch < 1 or 28 % self.patch != 0):
            bad("patch", self.patch, "a divisor of 28")
        if self.attn not in ("softmax", "plap"):
            bad("attn", self.attn, '"softmax" or "plap"')
        if len(self.p) not in (1, self.layers):
            bad("p", self.p, f"one value or {self.layers} (one per layer)")
        if any(not (1.0 <= x <= 4.0) for x in self.p):
            bad("p", self.p, "values in [1, 4]")
        if self.self_term not in ("unit", "exclude"):
            bad("self", self.self_term, '"unit" or "exclude"')
        if not self.eps > 0:
            bad("eps", self.eps, "> 0")
        if self.learn_p and self.attn != "plap":
            bad("learn_p", self.learn_p, 'false unless attn = "plap"')

    def to_dict(self) -> dict:
        d = {"model": self.model, "dim": self.dim, "layers": self.layers, "heads": self.heads}
        if self.model == "lm":
            d["context"] = self.context
        else:
            d["patch"] = self.patch
        d.update({"attn": self.attn, "p": self.p[0] if len(self.p) == 1 else list(self.p),
                  "self": self.self_term, "eps": self.eps, "learn_p": self.learn_p, "seed": self.seed})
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @staticmethod
    def from_dict(d: dict) -> "ModelConfig":
        known = {"model", "dim", "layers", "heads", "context", "patch", "attn", "p", "self", "eps",
                 "learn_p", "seed"}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"ModelConfig: unknown keys {sorted(unknown)}, expected some of {sorted(known)}")
        kw = {k: v for k, v in d.items() if k not in ("self", "p")}
        if "self" in d:
            kw["self_term"] = d["self"]
        if "p" in d:
            kw["p"] = [float(x) for x in d["p"]] if isinstance(d["p"], list) else [float(d["p"])]
        cfg = ModelConfig(**kw)
        cfg.validate()
        return cfg

    @staticmethod
    def from_json(text: str) -> "ModelConfig":
        return ModelConfig.from_dict(json.loads(text))


# --------------------------------------------------------------------------------------------
# Attention (notes/03). q, k, v: [B, H, T, D]. Returns out [B, H, T, D] and the
# attention matrix A [B, H, T, T] (masked entries exactly 0).


def admissible_mask(T: int, causal: bool, exclude_self: bool, device=None) -> torch.Tensor:
    """allowed[i, j] [T, T]: may query i attend to key j. With exclude_self the diagonal is removed
    except in rows where it is the only admissible key (first token under a causal mask, T = 1)."""
    allowed = torch.ones(T, T, dtype=torch.bool, device=device)
    if causal:
        allowed = allowed.tril()
    if exclude_self:
        eye = torch.eye(T, dtype=torch.bool, device=device)
        others = allowed & ~eye
        lonely = ~others.any(dim=1, keepdim=True)  # [T, 1]: rows with no other key
        allowed = others | (eye & lonely)
    return allowed


def softmax_attention(q, k, v, causal: bool) -> Tuple[torch.Tensor, torch.Tensor]:
    T, D = q.shape[-2], q.shape[-1]
    s = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(D))               # [B, H, T, T]
    if causal:
        s = s.masked_fill(~admissible_mask(T, True, False, q.device), float("-inf"))
    A = torch.softmax(s, dim=-1)
    return A @ v, A


def value_distances(v: torch.Tensor) -> torch.Tensor:
    """r_ij = ||v_i - v_j||^2 [B, H, T, T] by direct differences (notes/04, "Numerical traps": never the
    expansion ||v_i||^2 + ||v_j||^2 - 2 v_i.v_j, whose float32 rounding swamps eps). cdist's
    'donot_use_mm' mode sums (v_i - v_j)^2 itself without the [B,H,T,T,D] temporary, so r_ii is
    exactly 0 and near-duplicates keep their tiny distances; its backward is 0 where r = 0,
    which is the true gradient of r there."""
    return torch.cdist(v, v, p=2.0, compute_mode="donot_use_mm_for_euclid_dist").square()


def plap_attention(q, k, v, p: torch.Tensor, causal: bool, self_term: str, eps: float,
                   distances=value_distances) -> Tuple[torch.Tensor, torch.Tensor]:
    """notes/03, "The discrete formula": A_ij = softmax_j(q_i.k_j/sqrt(D) + (p_h - 2)/2 log(r_ij + eps)),
    out_i = sum_j A_ij v_j. p: [H], one exponent per head (a parameter when learnable, then its
    gradient comes through b). Diagonal: "unit" b_ii = 0; "exclude" j = i masked out unless lonely."""
    B, H, T, D = q.shape
    s = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(D))               # [B, H, T, T]
    r = distances(v)                                                   # [B, H, T, T]
    b = (p.view(1, H, 1, 1) - 2.0) * 0.5 * torch.log(r + eps)          # [B, H, T, T]
    eye = torch.eye(T, dtype=torch.bool, device=q.device)
    # b_ii = 0 for both choices: "unit" by definition; under "exclude" the diagonal is either
    # masked below or the row's only entry (A_ii = 1 whatever b_ii is), and 0 keeps log(eps)
    # out of the graph entirely.
    b = b.masked_fill(eye, 0.0)
    allowed = admissible_mask(T, causal, self_term == "exclude", q.device)
    logits = (s + b).masked_fill(~allowed, float("-inf"))
    A = torch.softmax(logits, dim=-1)  # subtracts the row max itself (b can be large for p < 2)
    return A @ v, A


def direct_distances(v: torch.Tensor) -> torch.Tensor:
    """The same r_ij with the [B, H, T, T, D] difference tensor spelled out: the slow, obvious
    reference value_distances is checked against in --selftest."""
    return (v.unsqueeze(-2) - v.unsqueeze(-3)).pow(2).sum(-1)


class Attention(nn.Module):
    """Multi-head self-attention. `in_name`/`out_name` are the Linear names of the layout:
    c_attn/c_proj (nanoGPT) or qkv/proj (timm). The exponent vector lives at `<prefix>.p` [H]:
    a Parameter when cfg.learn_p, otherwise a buffer left out of the state_dict."""

    def __init__(self, cfg: ModelConfig, layer: int, causal: bool, in_name: str, out_name: str):
        super().__init__()
        C, H = cfg.dim, cfg.heads
        self.heads, self.causal, self.kind = H, causal, cfg.attn
        self.self_term, self.eps = cfg.self_term, cfg.eps
        self.in_name, self.out_name = in_name, out_name
        setattr(self, in_name, nn.Linear(C, 3 * C))
        setattr(self, out_name, nn.Linear(C, C))
        if cfg.attn == "plap":
            p0 = torch.full((H,), cfg.p_for_layer(layer))
            if cfg.learn_p:
                self.p = nn.Parameter(p0)
            else:
                self.register_buffer("p", p0, persistent=False)
        self.capture = False          # when True, forward keeps A [B, H, T, T] in self.weights
        self.weights: Optional[torch.Tensor] = None

    def forward(self, x):                                              # x [B, T, C]
        B, T, C = x.shape
        H = self.heads
        qkv = getattr(self, self.in_name)(x)                           # [B, T, 3C]
        q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in qkv.split(C, dim=2))  # [B, H, T, D]
        if self.kind == "softmax":
            y, A = softmax_attention(q, k, v, self.causal)
        else:
            y, A = plap_attention(q, k, v, self.p, self.causal, self.self_term, self.eps)
        if self.capture:
            self.weights = A.detach()
        y = y.transpose(1, 2).reshape(B, T, C)                         # heads side by side
        return getattr(self, self.out_name)(y)


class MLP(nn.Module):
    def __init__(self, C: int, fc_name: str, proj_name: str):
        super().__init__()
        self.fc_name, self.proj_name = fc_name, proj_name
        setattr(self, fc_name, nn.Linear(C, 4 * C))
        setattr(self, proj_name, nn.Linear(4 * C, C))
        self.gelu = nn.GELU(approximate="tanh")

    def forward(self, x):
        return getattr(self, self.proj_name)(self.gelu(getattr(self, self.fc_name)(x)))


class Block(nn.Module):
    """x = x + attn(norm_a(x)); x = x + mlp(norm_b(x)), with either naming scheme."""

    def __init__(self, cfg: ModelConfig, layer: int, causal: bool, names: dict):
        super().__init__()
        C = cfg.dim
        self.na, self.nb = names["norm_a"], names["norm_b"]
        setattr(self, self.na, nn.LayerNorm(C, eps=1e-5))
        self.attn = Attention(cfg, layer, causal, names["qkv"], names["attn_proj"])
        setattr(self, self.nb, nn.LayerNorm(C, eps=1e-5))
        self.mlp = MLP(C, names["fc"], names["mlp_proj"])

    def forward(self, x):
        x = x + self.attn(getattr(self, self.na)(x))
        return x + self.mlp(getattr(self, self.nb)(x))


LM_NAMES = dict(norm_a="ln_1", norm_b="ln_2", qkv="c_attn", attn_proj="c_proj", fc="c_fc", mlp_proj="c_proj")
VIT_NAMES = dict(norm_a="norm1", norm_b="norm2", qkv="qkv", attn_proj="proj", fc="fc1", mlp_proj="fc2")


class LM(nn.Module):
    """Byte-level GPT-2 (nanoGPT layout, bias everywhere, causal, head tied to wte)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        C = cfg.dim
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(cfg.vocab(), C),
            wpe=nn.Embedding(cfg.context, C),
            h=nn.ModuleList([Block(cfg, l, True, LM_NAMES) for l in range(cfg.layers)]),
            ln_f=nn.LayerNorm(C, eps=1e-5),
        ))

    def forward(self, idx, targets=None):                              # idx [B, T] int64
        B, T = idx.shape
        if T > self.cfg.context:
            raise ValueError(f"LM: sequence of {T} tokens, context is {self.cfg.context}")
        tr = self.transformer
        x = tr.wte(idx) + tr.wpe(torch.arange(T, device=idx.device))  # [B, T, C]
        for block in tr.h:
            x = block(x)
        logits = tr.ln_f(x) @ tr.wte.weight.t()                        # [B, T, V]
        loss = None if targets is None else F.cross_entropy(logits.reshape(B * T, -1), targets.reshape(B * T))
        return logits, loss

    def attentions(self):
        return [b.attn for b in self.transformer.h]


class ViT(nn.Module):
    """Vision transformer for 28x28 single-channel images (timm names, class token, no causality)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        C, P = cfg.dim, cfg.patch
        self.grid = 28 // P
        N = self.grid * self.grid
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Linear(P * P, C)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, C))
        self.pos_embed = nn.Parameter(torch.zeros(1, N + 1, C))
        self.blocks = nn.ModuleList([Block(cfg, l, False, VIT_NAMES) for l in range(cfg.layers)])
        self.norm = nn.LayerNorm(C, eps=1e-5)
        self.head = nn.Linear(C, cfg.classes())

    def patchify(self, images):                                        # [B, 1, 28, 28] -> [B, N, P*P]
        B, P, G = images.shape[0], self.cfg.patch, self.grid
        x = images.reshape(B, G, P, G, P).permute(0, 1, 3, 2, 4)      # [B, gy, gx, py, px]
        return x.reshape(B, G * G, P * P)                              # patches row-major, pixels row-major

    def forward(self, images, targets=None):
        if tuple(images.shape[1:]) != (1, 28, 28):
            raise ValueError(f"ViT: input shape {tuple(images.shape)}, expected [B, 1, 28, 28]")
        B = images.shape[0]
        x = self.patch_embed.proj(self.patchify(images))              # [B, N, C]
        x = torch.cat([self.cls_token.expand(B, -1, -1), x], dim=1) + self.pos_embed  # [B, N+1, C]
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.norm(x)[:, 0])                        # [B, 10]
        loss = None if targets is None else F.cross_entropy(logits, targets)
        return logits, loss

    def attentions(self):
        return [b.attn for b in self.blocks]


EMBEDDING_SUFFIXES = ("wte.weight", "wpe.weight", "cls_token", "pos_embed")
RESIDUAL_PROJ_SUFFIXES = ("attn.c_proj.weight", "mlp.c_proj.weight", "attn.proj.weight", "mlp.fc2.weight")


def is_embedding(name: str) -> bool:
    return name.endswith(EMBEDDING_SUFFIXES)


def is_p(name: str) -> bool:
    return name.endswith("attn.p")


@torch.no_grad()
def init_weights(model: nn.Module, cfg: ModelConfig) -> None:
    """GPT-2 initialization (model spec, "Common"), drawn from a torch generator seeded with
    cfg.seed in named_parameters() order. plat's own init uses plat's generator, so the numbers
    differ: comparisons always load one side's parameters into the other."""
    g = torch.Generator().manual_seed(cfg.seed)
    res_std = 0.02 / math.sqrt(2 * cfg.layers)
    for name, w in model.named_parameters():
        if is_p(name):
            w.fill_(cfg.p_for_layer(int(name.split(".")[-3])))
        elif name.endswith(RESIDUAL_PROJ_SUFFIXES):
            w.copy_(torch.randn(w.shape, generator=g, dtype=w.dtype) * res_std)
        elif w.ndim >= 2 or is_embedding(name):
            w.copy_(torch.randn(w.shape, generator=g, dtype=w.dtype) * 0.02)
        elif name.endswith(".bias"):
            w.zero_()
        else:  # LayerNorm weights
            w.fill_(1.0)


def build_model(cfg: ModelConfig, dtype=torch.float32) -> nn.Module:
    cfg.validate()
    model = LM(cfg) if cfg.model == "lm" else ViT(cfg)
    model = model.to(dtype)
    init_weights(model, cfg)
    return model


# --------------------------------------------------------------------------------------------
# AdamW as the spec has it: two groups, decoupled weight decay, p clamped after each step.


def param_groups(model: nn.Module, weight_decay: float):
    decay, no_decay = [], []
    for name, w in model.named_parameters():
        if w.ndim >= 2 and not is_embedding(name):
            decay.append((name, w))
        else:  # biases, norm weights, embeddings, p
            no_decay.append((name, w))
    names = [n for n, _ in decay] + [n for n, _ in no_decay]
    assert sorted(names) == sorted(n for n, _ in model.named_parameters()) and len(set(names)) == len(names), \
        "param_groups: every parameter must be in exactly one group"
    return [{"params": [w for _, w in decay], "weight_decay": weight_decay, "names": [n for n, _ in decay]},
            {"params": [w for _, w in no_decay], "weight_decay": 0.0, "names": [n for n, _ in no_decay]}]


def make_adamw(model: nn.Module, lr=1e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1):
    return torch.optim.AdamW(param_groups(model, weight_decay), lr=lr, betas=betas, eps=eps)


@torch.no_grad()
def clamp_p(model: nn.Module, lo=1.0, hi=4.0) -> None:
    for name, w in model.named_parameters():
        if is_p(name):
            w.clamp_(lo, hi)


# --------------------------------------------------------------------------------------------
# safetensors: 8-byte little-endian header length N, N bytes of JSON (padded with spaces to a
# multiple of 8), then the raw little-endian data; offsets in the header are relative to the
# start of the data. Written to a temporary file and renamed.

_DTYPES = {  # safetensors name -> (numpy dtype, torch dtype)
    "F64": (np.dtype("<f8"), torch.float64), "F32": (np.dtype("<f4"), torch.float32),
    "I64": (np.dtype("<i8"), torch.int64), "I32": (np.dtype("<i4"), torch.int32),
    "U8": (np.dtype("u1"), torch.uint8),
}
_BY_TORCH = {t: name for name, (_, t) in _DTYPES.items()}


def save_safetensors(path: str, tensors: Dict[str, torch.Tensor], metadata: Optional[Dict[str, str]] = None) -> None:
    header, blobs, offset = {}, [], 0
    if metadata:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise TypeError("save_safetensors: __metadata__ must map str to str")
        header["__metadata__"] = dict(metadata)
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        if t.dtype not in _BY_TORCH:
            raise TypeError(f"save_safetensors: {name} has dtype {t.dtype}, expected one of {list(_BY_TORCH)}")
        dt = _BY_TORCH[t.dtype]
        data = t.numpy().astype(_DTYPES[dt][0], copy=False).tobytes()
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def load_safetensors(path: str) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    """Returns ({name: tensor}, metadata). Tensors keep the file's dtype, in the file's order."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"load_safetensors: {path} has {len(raw)} bytes, shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise ValueError(f"load_safetensors: {path}: header length {n} runs past the end of the file ({len(raw)} bytes)")
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    metadata = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, info in header.items():
        npdt, _ = _DTYPES[info["dtype"]]
        a, b = info["data_offsets"]
        shape = tuple(info["shape"])
        if b - a != npdt.itemsize * int(np.prod(shape, dtype=np.int64)):
            raise ValueError(f"load_safetensors: {path}: {name} spans {b - a} bytes, shape {shape} needs "
                             f"{npdt.itemsize * int(np.prod(shape, dtype=np.int64))}")
        arr = np.frombuffer(data[a:b], dtype=npdt).reshape(shape)
        tensors[name] = torch.from_numpy(arr.astype(npdt.newbyteorder("="), copy=True))
    return tensors, metadata


def load_plat_checkpoint(path: str, dtype=torch.float32) -> nn.Module:
    """A plat checkpoint (or reference file) -> the PyTorch model: config from
    __metadata__["config"], every state_dict tensor by name. Other tensors in the file (inputs,
    gradients, optimizer state) are ignored; a missing parameter or a wrong shape is an error."""
    tensors, meta = load_safetensors(path)
    if "config" not in meta:
        raise ValueError(f"load_plat_checkpoint: {path} has no __metadata__['config'], so it is not a plat checkpoint")
    cfg = ModelConfig.from_json(meta["config"])
    model = build_model(cfg, dtype)
    state = model.state_dict()
    missing = [n for n in state if n not in tensors]
    if missing:
        raise ValueError(f"load_plat_checkpoint: {path} lacks {missing} for config {cfg.to_json()}")
    for n in state:
        if tuple(tensors[n].shape) != tuple(state[n].shape):
            raise ValueError(f"load_plat_checkpoint: {path}: {n} has shape {tuple(tensors[n].shape)}, "
                             f"the model expects {tuple(state[n].shape)}")
    model.load_state_dict({n: tensors[n].to(dtype) for n in state}, strict=True)
    return model


PLAT_CHECKPOINT_FORMAT = "plat-checkpoint-1"  # nn/checkpoint.h kCheckpointFormat


def save_plat_checkpoint(path: str, model: nn.Module, extra: Optional[Dict[str, str]] = None) -> None:
    """The inverse of load_plat_checkpoint: a file that `plat eval --checkpoint` and `plat sample`
    accept (nn/checkpoint.cpp read_checkpoint): __metadata__ "format" = PLAT_CHECKPOINT_FORMAT,
    "config" = the model's configuration JSON, and exactly the state_dict tensors as float32
    under their names (plat's names are the same). `extra` adds other metadata strings; "train"
    is left out on purpose (plat reads it as its own resumable training progress)."""
    extra = dict(extra or {})
    for key in ("format", "config", "train"):
        if key in extra:
            raise ValueError(f"save_plat_checkpoint: metadata key {key!r} is reserved")
    meta = {"format": PLAT_CHECKPOINT_FORMAT, "config": model.cfg.to_json(), **extra}
    save_safetensors(path, {n: t.detach().to(torch.float32) for n, t in model.state_dict().items()}, meta)


# --------------------------------------------------------------------------------------------
# Self-test.


def selftest() -> None:
    torch.manual_seed(0)
    dd = torch.float64
    B, H, T, D = 2, 3, 7, 4
    q, k, v = (torch.randn(B, H, T, D, dtype=dd) for _ in range(3))
    v[0, 0, 3] = v[0, 0, 1]                       # exact duplicate value vectors: r_13 = 0
    v[1, 2, 5] = v[1, 2, 2] + 1e-5                # near duplicate: r = 1.6e-9 * ..., far below eps
    p = torch.tensor([1.0, 1.5, 3.7], dtype=dd)
    worst = 0.0
    for causal in (False, True):
        for st in ("unit", "exclude"):
            out, A = plap_attention(q, k, v, p, causal, st, 1e-6)
            out2, A2 = plap_attention(q, k, v, p, causal, st, 1e-6, distances=direct_distances)
            worst = max(worst, (out - out2).abs().max().item(), (A - A2).abs().max().item())
            assert torch.allclose(A.sum(-1), torch.ones((), dtype=dd), atol=1e-12, rtol=0), "rows of A sum to 1"
            assert torch.isfinite(out).all()
            allowed = admissible_mask(T, causal, st == "exclude")
            assert (A.masked_select(~allowed.expand_as(A)) == 0).all(), "masked entries exactly 0"
            if st == "exclude":  # invariant to rescaling v (notes/03, "What is tested")
                _, A3 = plap_attention(q, k, 7.5 * v, p, causal, st, 1e-6 * 7.5 ** 2)
                assert torch.allclose(A, A3, atol=1e-12), "exclude: A invariant under v -> c v (eps -> c^2 eps)"
            # p = 2, unit: exactly softmax attention.
            o2, A2u = plap_attention(q, k, v, torch.full((H,), 2.0, dtype=dd), causal, "unit", 1e-6)
            o1, A1 = softmax_attention(q, k, v, causal)
            assert (o2 - o1).abs().max() < 1e-14 and (A2u - A1).abs().max() < 1e-14
    assert worst < 1e-12, f"cdist distances disagree with direct differences by {worst}"
    # Backward through exact duplicates (r_13 = 0 off the diagonal) stays finite.
    vd = v.clone().requires_grad_(True)
    plap_attention(q, k, vd, p, True, "unit", 1e-6)[0].sum().backward()
    assert torch.isfinite(vd.grad).all(), "gradient through duplicate value vectors must be finite"
    print(f"plap attention: cdist vs direct differences max |diff| {worst:.2e}; rows sum to 1; masks exact; "
          f"exclude scale-invariant; p=2 unit == softmax")

    # Gradients of the composed attention against finite differences (q, k, v and p).
    qg, kg, vg = (torch.randn(1, 2, 5, 3, dtype=dd, requires_grad=True) for _ in range(3))
    pg = torch.tensor([1.3, 2.6], dtype=dd, requires_grad=True)
    for causal in (False, True):
        for st in ("unit", "exclude"):
            f = lambda q_, k_, v_, p_: plap_attention(q_, k_, v_, p_, causal, st, 1e-6)[0]
            assert torch.autograd.gradcheck(f, (qg, kg, vg, pg), eps=1e-6, atol=1e-7, rtol=1e-5)
    print("plap attention: torch.autograd.gradcheck passes for q, k, v, p (causal and not, unit and exclude)")

    # Models: forward shapes, learnable p present in the state_dict, save/load round trip.
    import tempfile
    for cfg in (ModelConfig(model="lm", dim=16, layers=2, heads=2, context=8, attn="plap", p=[1.5, 3.0],
                            self_term="exclude", learn_p=True, seed=3),
                ModelConfig(model="vit", dim=16, layers=1, heads=4, patch=7, attn="softmax", seed=4)):
        m = build_model(cfg)
        x = torch.randint(0, 256, (2, 8)) if cfg.model == "lm" else torch.randn(2, 1, 28, 28)
        y = torch.randint(0, 256, (2, 8)) if cfg.model == "lm" else torch.randint(0, 10, (2,))
        logits, loss = m(x, y)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "ckpt.safetensors")
            save_safetensors(path, dict(m.state_dict()), {"config": cfg.to_json()})
            m2 = load_plat_checkpoint(path)
            assert m2.cfg == cfg, (m2.cfg, cfg)
            logits2, loss2 = m2(x, y)
            assert torch.equal(logits, logits2) and torch.equal(loss, loss2)
            with open(path, "rb") as fh:
                n = struct.unpack("<Q", fh.read(8))[0]
            assert n % 8 == 0
        names = [n for n, _ in m.named_parameters()]
        if cfg.learn_p:
            assert "transformer.h.1.attn.p" in names and m.transformer.h[1].attn.p.tolist() == [3.0, 3.0]
        print(f"{cfg.model}: {len(names)} parameters, {sum(w.numel() for w in m.parameters())} numbers, "
              f"loss {loss.item():.4f}; save/load round trip exact")
    print("selftest: OK")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--selftest", action="store_true", help="check attention, gradients and checkpoint round trip")
    ap.add_argument("--load", metavar="CHECKPOINT", help="load a plat checkpoint and list its parameters")
    args = ap.parse_args(argv)
    if args.load:
        m = load_plat_checkpoint(args.load)
        print(m.cfg.to_json())
        for n, w in m.named_parameters():
            print(f"  {n:40s} {list(w.shape)}")
    if args.selftest or not args.load:
        selftest()
    return 0


if __name__ == "__main__":
    sys.exit(main())
