#!/usr/bin/python3
"""hf-numpy.py: recompute a Hugging Face directory's logits with NumPy,
as transformers' Llama and BitNet models define them, and compare them
with a reference.

    /usr/bin/python3 hf-numpy.py [--tol X] DIR REF.safetensors

DIR: config.json and model.safetensors (or shards) as bnexport -F hf
writes them: LlamaForCausalLM or BitNetForCausalLM; float projections,
or with quantization_config quant_method=bitnet, quantization_mode
offline, the packed layout of transformers' BitLinear (uint8 [out/4, in],
unpacked row r = packed row r mod (out/4), bits 2 (r div (out/4)), code
value+1) and its forward: activations quantized per token, x_q =
clamp(round(x * 127 / max|x|), -128, 127), y = (x_q @ W^T) / (127 /
max|x| * weight_scale).  RMSNorm, rotate-half RoPE, grouped-query causal
attention, SwiGLU (llama) or squared ReLU with the sub-norms (bitnet).

REF: input_ids.K and logits.K (a fixture's reference.safetensors, or
bnrun's from build/tests/mkonnx --logits).  Prints "logits.K: max_abs X
argmax A/T" per prompt and "max_abs X"; exit 0 when X <= --tol and every
argmax agrees, 1 otherwise, 2 on a bad file.  An independent
implementation (NumPy from Debian, nothing of bntools), f32 throughout.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

DT = {"F32": np.float32, "F16": np.float16, "I32": np.int32, "I64": np.int64,
      "I8": np.int8, "U8": np.uint8}


def read_st(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    head = json.loads(data[8:8 + n])
    out = {}
    for name, t in head.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        raw = data[8 + n + a:8 + n + b]
        if t["dtype"] == "BF16":
            u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = u.view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype=np.dtype(DT[t["dtype"]]).newbyteorder("<"))
        out[name] = arr.reshape(t["shape"])
    return out


def read_dir(d):
    idx = os.path.join(d, "model.safetensors.index.json")
    if not os.path.exists(idx):
        return read_st(os.path.join(d, "model.safetensors"))
    out = {}
    for shard in sorted(set(json.load(open(idx))["weight_map"].values())):
        out.update(read_st(os.path.join(d, shard)))
    return out


class Model:
    def __init__(self, d):
        self.c = json.load(open(os.path.join(d, "config.json")))
        self.w = read_dir(d)
        qc = self.c.get("quantization_config") or {}
        # offline (packed codes) is BitNetQuantConfig's default mode
        self.packed = (qc.get("quant_method") == "bitnet" and
                       qc.get("quantization_mode", "offline") == "offline")
        self.bitnet = self.c["model_type"] == "bitnet"

    def f(self, name):
        return self.w[name].astype(np.float32)

    def linear(self, x, name):
        if not self.packed:
            return x @ self.f(name).T
        p = self.w[name]
        rows = p.shape[0]
        codes = np.concatenate([(p >> (2 * g)) & 3 for g in range(4)])
        wq = codes.astype(np.float32) - 1.0             # [4*rows, in]
        ws = self.f(name + "_scale").reshape(-1)[0]
        amax = np.maximum(np.abs(x).max(axis=-1, keepdims=True),
                          np.float32(1e-5))
        s = np.float32(127.0) / amax
        xq = np.clip(np.rint(x * s), -128, 127)
        return (xq @ wq.T) / (s * ws)

    def norm(self, x, name):
        eps = np.float32(self.c["rms_norm_eps"])
        v = np.mean(x * x, axis=-1, keepdims=True)
        return (x / np.sqrt(v + eps)) * self.f(name)

    def forward(self, ids):
        c = self.c
        T = len(ids)
        H, KV = c["num_attention_heads"], c["num_key_value_heads"]
        D = c.get("head_dim") or c["hidden_size"] // H
        theta = c.get("rope_theta") or c["rope_parameters"]["rope_theta"]
        inv = 1.0 / (theta ** (np.arange(0, D, 2, dtype=np.float32) / D))
        ang = np.arange(T, dtype=np.float32)[:, None] * inv[None, :]
        cos = np.cos(np.concatenate([ang, ang], -1)).astype(np.float32)
        sin = np.sin(np.concatenate([ang, ang], -1)).astype(np.float32)

        def rope(x):                                    # [h, T, D]
            x1, x2 = x[..., :D // 2], x[..., D // 2:]
            return x * cos + np.concatenate([-x2, x1], -1) * sin

        x = self.f("model.embed_tokens.weight")[ids]
        mask = np.triu(np.full((T, T), -np.inf, dtype=np.float32), 1)
        for L in range(c["num_hidden_layers"]):
            p = f"model.layers.{L}."
            h = self.norm(x, p + "input_layernorm.weight")
            q = self.linear(h, p + "self_attn.q_proj.weight")
            k = self.linear(h, p + "self_attn.k_proj.weight")
            v = self.linear(h, p + "self_attn.v_proj.weight")
            q = rope(q.reshape(T, H, D).transpose(1, 0, 2))
            k = rope(k.reshape(T, KV, D).transpose(1, 0, 2))
            v = v.reshape(T, KV, D).transpose(1, 0, 2)
            k = np.repeat(k, H // KV, axis=0)
            v = np.repeat(v, H // KV, axis=0)
            a = q @ k.transpose(0, 2, 1) / np.float32(np.sqrt(D)) + mask
            a = np.exp(a - a.max(-1, keepdims=True))
            a = a / a.sum(-1, keepdims=True)
            o = (a @ v).transpose(1, 0, 2).reshape(T, H * D)
            if self.bitnet:
                o = self.norm(o, p + "self_attn.attn_sub_norm.weight")
            x = x + self.linear(o, p + "self_attn.o_proj.weight")
            h = self.norm(x, p + "post_attention_layernorm.weight")
            g = self.linear(h, p + "mlp.gate_proj.weight")
            u = self.linear(h, p + "mlp.up_proj.weight")
            if c["hidden_act"] == "relu2":
                g = np.square(np.maximum(g, 0))
            else:
                g = g / (1 + np.exp(-g))
            m = g * u
            if self.bitnet:
                m = self.norm(m, p + "mlp.ffn_sub_norm.weight")
            x = x + self.linear(m, p + "mlp.down_proj.weight")
        x = self.norm(x, "model.norm.weight")
        head = ("model.embed_tokens.weight" if c.get("tie_word_embeddings")
                else "lm_head.weight")
        return x @ self.f(head).T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tol", type=float, default=1e-3)
    ap.add_argument("dir")
    ap.add_argument("ref")
    a = ap.parse_args()
    try:
        m = Model(a.dir)
        ref = read_st(a.ref)
    except (OSError, ValueError, KeyError) as e:
        print(f"hf-numpy.py: {e}", file=sys.stderr)
        return 2
    worst, ok = 0.0, True
    with np.errstate(over="ignore"):
        for k in sorted(n.split(".", 1)[1] for n in ref if n.startswith("input_ids.")):
            ids = ref[f"input_ids.{k}"].astype(np.int64)
            want = ref[f"logits.{k}"].astype(np.float32)
            got = m.forward(ids)
            d = float(np.abs(got - want).max())
            agree = int((got.argmax(-1) == want.argmax(-1)).sum())
            print(f"logits.{k}: max_abs {d:.3g} argmax {agree}/{len(ids)}")
            worst = max(worst, d)
            ok &= agree == len(ids)
    print(f"max_abs {worst:.3g}")
    return 0 if ok and worst <= a.tol else 1


if __name__ == "__main__":
    sys.exit(main())
