#!/usr/bin/python3
"""experiments/pytorch/check_plap_backward.py: derive, then check against autograd.

notes/04-p-laplacian-backward.md derives the backward of p-Laplacian attention by hand. This
script writes the forward of notes/04 section 1 from torch primitives, lets PyTorch's autograd
differentiate it, writes the closed-form backward of notes/04 ("Simplified, all together") in
plain torch, and compares the two for causal and not, both self terms, p in {1, 1.5, 3}.
One head, one batch entry, double precision: every difference should be ~1e-15.

Run:  /usr/bin/python3 experiments/pytorch/check_plap_backward.py      (Debian's python3-torch)
Exits non-zero when any gradient differs by more than the tolerance. Poke at it: drop the
key-side term of dv below and watch the table fail.
"""
import itertools
import math
import sys

import torch

torch.set_default_dtype(torch.float64)
TOL = 1e-10  # double precision; both sides do the same arithmetic in a different order


def admissible(T, causal, self_term):
    """adm[i, j]: may query i attend to key j? (notes/04 section 1)"""
    adm = torch.ones(T, T, dtype=torch.bool)
    if causal:
        adm = torch.tril(adm)
    if self_term == "exclude":
        # j != i too, unless i has no other key (token 0 under a causal mask)
        has_other = adm.sum(1) > 1
        adm[torch.arange(T), torch.arange(T)] = ~has_other
    return adm


def forward(q, k, v, p, causal, self_term, eps):
    """out [T, D] and what the backward needs, from torch primitives (notes/04 section 1)."""
    T, D = q.shape
    adm = admissible(T, causal, self_term)
    offdiag = ~torch.eye(T, dtype=torch.bool)
    s = q @ k.T / math.sqrt(D)                                 # s_ij    (pass 1)
    r = ((v[:, None, :] - v[None, :, :]) ** 2).sum(-1)         # r_ij    (pass 2)
    c = (p - 2) / 2
    b = torch.where(offdiag, c * torch.log(r + eps), torch.zeros(()))  # b_ii = 0
    z = (s + b).masked_fill(~adm, -math.inf)                   # logits
    A = torch.softmax(z, dim=1)                                # A_ij    (pass 3)
    out = A @ v                                                # out_i   (pass 4)
    return out, A, r, adm & offdiag


def closed_form_backward(q, k, v, p, dout, A, r, pairs, eps):
    """notes/04, "Simplified, all together", line by line. pairs = admissible j != i."""
    T, D = q.shape
    c = (p - 2) / 2
    dA = dout @ v.T                                            # section 2
    dv = A.T @ dout
    dZ = A * (dA - (A * dA).sum(1, keepdim=True))              # section 3
    dR = torch.where(pairs, dZ * c / (r + eps), torch.zeros(()))  # section 5
    W = 2 * dR                                                 # w_ij = 2 dr_ij
    diff = v[:, None, :] - v[None, :, :]                       # v_i - v_j  [T, T, D]
    dv = dv + (W[:, :, None] * diff).sum(1)                    # query side: dv_i += w_ij (v_i - v_j)
    dv = dv - (W[:, :, None] * diff).sum(0)                    # key side:   dv_j -= w_ij (v_i - v_j)
    logr = torch.log(r + eps)
    dp = 0.5 * torch.where(pairs, dZ * logr, torch.zeros(())).sum()
    dq = dZ @ k / math.sqrt(D)                                 # section 4
    dk = dZ.T @ q / math.sqrt(D)
    return dq, dk, dv, dp


def check(causal, self_term, p_value, T=6, D=3, eps=1e-6, seed=0):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(T, D, generator=g) for _ in range(3))
    v[3] = v[1] + 1e-3  # one near-duplicate pair: a large weight when p < 2
    p = torch.tensor(p_value)
    dout = torch.randn(T, D, generator=g)
    leaves = [t.requires_grad_() for t in (q, k, v, p)]

    out, A, r, pairs = forward(q, k, v, p, causal, self_term, eps)
    auto = torch.autograd.grad((out * dout).sum(), leaves)     # dL/d(q, k, v, p) with L = out . dout
    with torch.no_grad():
        mine = closed_form_backward(q, k, v, p, dout, A, r, pairs, eps)
    return [float((a - m).abs().max()) for a, m in zip(auto, mine)]


def main():
    print(f"{'mask':7} {'self':8} {'p':>4}  {'|dq|max':>9} {'|dk|max':>9} {'|dv|max':>9} {'|dp|':>9}  (closed form - autograd)")
    failures = 0
    for causal, self_term, p in itertools.product([False, True], ["unit", "exclude"], [1.0, 1.5, 3.0]):
        errs = check(causal, self_term, p)
        ok = max(errs) <= TOL
        failures += not ok
        print(f"{'causal' if causal else 'full':7} {self_term:8} {p:4}  " + " ".join(f"{e:9.1e}" for e in errs)
              + ("" if ok else "   MISMATCH"))
    print(f"{12 - failures} of 12 agree within {TOL:g}" if failures == 0 else f"{failures} of 12 MISMATCH")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
