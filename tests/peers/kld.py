#!/usr/bin/python3
"""kld.py: the KL-divergence report of bnrun --perplexity --kl-base,
computed with NumPy from the two models' logits, as a reference.

usage: kld.py BASE.f32 MODEL.f32 IDS CTX VOCAB

BASE.f32 and MODEL.f32 are what bnrun --logits writes for each model:
float32 little-endian, windows x CTX x VOCAB.  IDS is the text's token
ids (bnrun --tokenize), whitespace-separated; window w scores the
targets IDS[w*CTX + 1 .. w*CTX + CTX].  Prints one JSON object with the
keys of bnrun's --json.  Everything in float64; nothing of bntools.
"""
import json
import sys

import numpy as np


def log_softmax(x):
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def mean_err(v):
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(v.size))


def main():
    bfile, mfile, idfile, ctx, vocab = sys.argv[1:6]
    n, v = int(ctx), int(vocab)
    base = np.memmap(bfile, dtype="<f4", mode="r")
    model = np.memmap(mfile, dtype="<f4", mode="r")
    ids = np.array(open(idfile).read().split(), dtype=np.int64)
    nw = (ids.size - 1) // n
    assert base.size == model.size == nw * n * v, "logits of the wrong size"
    base = base.reshape(nw * n, v)
    model = model.reshape(nw * n, v)
    tgt = np.concatenate([ids[w * n + 1:w * n + n + 1] for w in range(nw)])
    # a few thousand rows at a time: the logits may not fit in memory
    kld, dp, same, lpb, lpq = [], [], [], [], []
    for a in range(0, tgt.size, 4096):
        b = base[a:a + 4096].astype(np.float64)
        q = model[a:a + 4096].astype(np.float64)
        t = tgt[a:a + 4096]
        rows = np.arange(t.size)
        lb, lq = log_softmax(b), log_softmax(q)
        kld.append((np.exp(lb) * (lb - lq)).sum(axis=-1))
        dp.append(np.exp(lq[rows, t]) - np.exp(lb[rows, t]))
        same.append(b.argmax(axis=-1) == q.argmax(axis=-1))
        lpb.append(lb[rows, t])
        lpq.append(lq[rows, t])
    kld, dp = np.concatenate(kld), np.concatenate(dp)
    same = np.concatenate(same).astype(np.float64)
    bnll, nll = -np.concatenate(lpb).mean(), -np.concatenate(lpq).mean()
    km, ke = mean_err(kld)
    dm, de = mean_err(dp)
    st = same.mean()
    out = {
        "windows": nw, "ctx": n, "tokens": int(tgt.size),
        "base": {"nll": float(bnll), "ppl": float(np.exp(bnll))},
        "model": {"nll": float(nll), "ppl": float(np.exp(nll))},
        "kld": {"mean": km, "stderr": ke,
                "median": float(np.percentile(kld, 50)),
                "p90": float(np.percentile(kld, 90)),
                "p99": float(np.percentile(kld, 99)),
                "max": float(kld.max())},
        "same_top_pct": {"mean": 100 * st,
                         "stderr": 100 * np.sqrt(st * (1 - st) /
                                                 (tgt.size - 1))},
        "delta_p_pct": {"mean": 100 * dm, "stderr": 100 * de},
    }
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
