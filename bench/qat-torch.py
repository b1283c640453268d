#!/usr/bin/python3
"""qat-torch.py: the same QAT + distillation step as bnquant --train, in
PyTorch, for bench/qat: austen-llama-6m read from its safetensors,
BitLinear (absmean ternary weights, per-token int8 activations, STE) in
every projection, teacher = the float model, loss = 0.5 CE + 0.5 KL
(tau 1), AdamW, clip 1.  Prints the training tokens/s of steps 2..N.

usage: qat-torch.py MODEL_DIR TOKENS_FILE THREADS STEPS [BATCH CTX]
TOKENS_FILE: int32 token ids (little-endian), as bench/qat writes.
"""
import importlib.util
import json
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "qatref", os.path.join(here, "..", "tests", "peers", "qat-ref.py"))
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)
ref.TRACK = False

HF2 = {v: k for k, v in ref.HF.items()}


def load(d):
    with open(os.path.join(d, "config.json")) as f:
        c = json.load(f)
    with open(os.path.join(d, "model.safetensors"), "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
        base = 8 + n
        data = f.read()
    P = {}
    for name, t in hdr.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        raw = torch.frombuffer(bytearray(data[a:b]), dtype={
            "BF16": torch.bfloat16, "F32": torch.float32,
            "F16": torch.float16}[t["dtype"]]).float().reshape(t["shape"])
        if name == "model.embed_tokens.weight":
            g = "token_embd.weight"
        elif name == "model.norm.weight":
            g = "output_norm.weight"
        elif name == "lm_head.weight":
            g = "output.weight"
        else:
            parts = name.split(".")
            g = "blk.%s.%s.weight" % (parts[2], HF2[".".join(parts[3:-1])])
        P[g] = raw
    cfg = {"arch": c["model_type"], "heads": c["num_attention_heads"],
           "kv_heads": c["num_key_value_heads"],
           "head_dim": c["hidden_size"] // c["num_attention_heads"],
           "layers": c["num_hidden_layers"],
           "theta": c.get("rope_theta", 10000.0),
           "tied": c.get("tie_word_embeddings", False)}
    return P, cfg


def main():
    d, tokfile, threads, steps = sys.argv[1], sys.argv[2], int(
        sys.argv[3]), int(sys.argv[4])
    B = int(sys.argv[5]) if len(sys.argv) > 5 else 16
    T = int(sys.argv[6]) if len(sys.argv) > 6 else 256
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    P, cfg = load(d)
    teacher = {k: v.clone() for k, v in P.items()}
    for v in P.values():
        v.requires_grad_(True)
    with open(tokfile, "rb") as f:
        toks = torch.frombuffer(bytearray(f.read()), dtype=torch.int32)
    params = list(P.values())
    opt = torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.95), eps=1e-8,
                            weight_decay=0.0)
    t0 = None
    for step in range(steps):
        if step == 1:
            t0 = time.time()
        off = torch.randint(0, len(toks) - T - 1, (B,))
        batch = torch.stack([toks[o:o + T + 1] for o in off]).long()
        with torch.no_grad():
            zt = ref.forward(teacher, cfg, batch[:, :-1], "float")
        z = ref.forward(P, cfg, batch[:, :-1], "ternary")
        loss = ref.loss_fn(z, batch[:, 1:], zt.reshape(-1, zt.shape[-1]),
                           0.5, 1.0)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
    dt = time.time() - t0
    print("%.1f" % ((steps - 1) * B * T / dt))


if __name__ == "__main__":
    main()
