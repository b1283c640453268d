#!/usr/bin/python3
"""scratch-torch.py: examples/scratch's training in PyTorch, for the
comparison in its README: a model from bnquant --init, exported by
bnexport -F hf, trained from zero as bnquant --train trains it without a
teacher (every projection a BitLinear: absmean ternary weights, per-token
int8 activations, STE; loss CE; AdamW (0.9, 0.95), no weight decay,
clip 1; warm-up STEPS/10 steps, then cosine to 0; windows at random
offsets), the model of tests/peers/qat-ref.py.  Validation as bnrun
--perplexity: non-overlapping windows of CTX input tokens, each with the
next token as target.  Writes one JSON object per step on stdout (step,
loss, lr, tokens, seconds; val at every EVAL_EVERY steps and the last).

usage: scratch-torch.py MODEL_DIR TRAIN_TOK VAL_TOK THREADS STEPS
           [BATCH CTX LR EVAL_EVERY SEED]
TRAIN_TOK, VAL_TOK: int32 token ids (little-endian), as bnrun --tokenize
prints them.
"""
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
qt = __import__("qat-torch")
ref = qt.ref


def tokens(path):
    with open(path, "rb") as f:
        return torch.frombuffer(bytearray(f.read()), dtype=torch.int32)


def lr_at(s, steps, warmup, lr):
    """bn_train_lr with min_lr 0."""
    if s < warmup:
        return lr * (s + 1) / warmup
    if steps <= warmup:
        return lr
    prog = (s - warmup) / (steps - warmup)
    return 0.5 * lr * (1.0 + math.cos(math.pi * prog))


@torch.no_grad()
def val_nll(P, cfg, val, T):
    n = (len(val) - 1) // T
    if n == 0:
        raise SystemExit("scratch-torch.py: the validation text has fewer "
                         "than %d tokens" % (T + 1))
    tot = 0.0
    for i in range(0, n, 16):
        w = torch.stack([val[j * T:j * T + T + 1]
                         for j in range(i, min(n, i + 16))]).long()
        z = ref.forward(P, cfg, w[:, :-1], "ternary")
        tot += F.cross_entropy(z.reshape(-1, z.shape[-1]),
                               w[:, 1:].reshape(-1), reduction="sum").item()
    return tot / (n * T)


def main():
    a = sys.argv
    d, train, val = a[1], tokens(a[2]), tokens(a[3])
    threads, steps = int(a[4]), int(a[5])
    B = int(a[6]) if len(a) > 6 else 16
    T = int(a[7]) if len(a) > 7 else 256
    lr = float(a[8]) if len(a) > 8 else 1e-3
    every = int(a[9]) if len(a) > 9 else 0
    torch.set_num_threads(threads)
    torch.manual_seed(int(a[10]) if len(a) > 10 else 1)
    P, cfg = qt.load(d)
    for v in P.values():
        v.requires_grad_(True)
    params = list(P.values())
    opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.95), eps=1e-8,
                            weight_decay=0.0)
    warmup = steps // 10
    t0 = time.time()
    for s in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(s, steps, warmup, lr)
        off = torch.randint(0, len(train) - T - 1, (B,))
        batch = torch.stack([train[o:o + T + 1] for o in off]).long()
        z = ref.forward(P, cfg, batch[:, :-1], "ternary")
        loss = ref.loss_fn(z, batch[:, 1:], None, 1.0, 1.0)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        r = {"step": s + 1, "loss": round(loss.item(), 6),
             "lr": lr_at(s, steps, warmup, lr), "tokens": (s + 1) * B * T,
             "seconds": round(time.time() - t0, 3)}
        if (every and (s + 1) % every == 0) or s + 1 == steps:
            r["val"] = round(val_nll(P, cfg, val, T), 6)
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
