#!/usr/bin/python3
"""experiments/scripts/figures/attention_maps.py OUT_DIR INSPECT_FILE...: the attention weights
of each `plat inspect` file (safetensors; attn.<layer> is [B, H, T, T]) as gnuplot matrices:
OUT_DIR/<n>_l<layer>_h<head>.txt, rows = query i, columns = key j, batch entry 0.
Reads safetensors with the standard library only: an 8-byte little-endian header length, a
JSON header (name -> dtype, shape, data_offsets), then the raw little-endian values."""
import json
import struct
import sys


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack_from("<Q", blob, 0)
    header = json.loads(blob[8:8 + n])
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        fmt = {"F32": "f", "F64": "d"}.get(info["dtype"])
        if fmt is None:
            continue
        begin, end = info["data_offsets"]
        count = (end - begin) // struct.calcsize(fmt)
        tensors[name] = (info["shape"], struct.unpack_from("<%d%s" % (count, fmt), blob, 8 + n + begin))
    return tensors


def main():
    out_dir, files = sys.argv[1], sys.argv[2:]
    for n, path in enumerate(files):
        tensors = read_safetensors(path)
        layer = 0
        while "attn.%d" % layer in tensors:
            (B, H, T, _), values = tensors["attn.%d" % layer]
            for h in range(H):
                with open("%s/%d_l%d_h%d.txt" % (out_dir, n, layer, h), "w") as f:
                    for i in range(T):
                        row = values[(h * T + i) * T:(h * T + i + 1) * T]
                        f.write(" ".join("%.6g" % a for a in row) + "\n")
            layer += 1


if __name__ == "__main__":
    main()
