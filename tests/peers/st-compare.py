#!/usr/bin/env python3
"""st-compare.py: compare the tensors of two Hugging Face checkpoints.

    python3 st-compare.py A B

A and B are .safetensors files or directories (model.safetensors, or
the shards named by model.safetensors.index.json).  Every tensor of A
must be in B with the same dtype, shape and bytes, and B must hold no
other tensor.  Prints one line per difference and a closing
"N tensors identical, M different"; exit status 0 when all are
identical, 1 otherwise, 2 on a bad file.

An independent reader (plain Python, no safetensors or torch package):
the format is an 8-byte little-endian header length, a JSON header
{name: {dtype, shape, data_offsets}}, then the data.
"""
import json
import os
import struct
import sys

SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4,
         "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def read_file(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: shorter than a header")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError(f"{path}: header past the end")
    head = json.loads(data[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, t in head.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        count = 1
        for d in t["shape"]:
            count *= d
        if t["dtype"] not in SIZES or b - a != count * SIZES[t["dtype"]]:
            raise ValueError(f"{path}: tensor '{name}': {t['dtype']} "
                             f"{t['shape']} in {b - a} bytes")
        if base + b > len(data):
            raise ValueError(f"{path}: tensor '{name}': past the end")
        out[name] = (t["dtype"], tuple(t["shape"]), data[base + a:base + b])
    return out


def read(path):
    if not os.path.isdir(path):
        return read_file(path)
    idx = os.path.join(path, "model.safetensors.index.json")
    if not os.path.exists(idx):
        return read_file(os.path.join(path, "model.safetensors"))
    with open(idx) as f:
        wm = json.load(f)["weight_map"]
    out = {}
    for shard in sorted(set(wm.values())):
        part = read_file(os.path.join(path, shard))
        for name, t in part.items():
            if wm.get(name) != shard:
                raise ValueError(f"{shard}: tensor '{name}' not in the index")
            out[name] = t
    if set(out) != set(wm):
        raise ValueError(f"{idx}: names tensors the shards lack")
    return out


def main():
    if len(sys.argv) != 3:
        print("usage: st-compare.py A B", file=sys.stderr)
        return 2
    try:
        a, b = read(sys.argv[1]), read(sys.argv[2])
    except (OSError, ValueError, KeyError) as e:
        print(f"st-compare.py: {e}", file=sys.stderr)
        return 2
    same = diff = 0
    for name in sorted(set(a) | set(b)):
        if name not in b:
            print(f"{name}: only in A")
        elif name not in a:
            print(f"{name}: only in B")
        elif a[name][:2] != b[name][:2]:
            print(f"{name}: {a[name][0]} {list(a[name][1])} vs "
                  f"{b[name][0]} {list(b[name][1])}")
        elif a[name][2] != b[name][2]:
            n = sum(x != y for x, y in zip(a[name][2], b[name][2]))
            print(f"{name}: {n} of {len(a[name][2])} bytes differ")
        else:
            same += 1
            continue
        diff += 1
    print(f"{same} tensors identical, {diff} different")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
