#!/usr/bin/python3
"""mk-bitlinear-odd.py: a BitNet checkpoint whose BitLinear widths are
not a multiple of 128, and its reference logits, from NumPy alone.

    /usr/bin/python3 mk-bitlinear-odd.py [--seed N] TOKENIZER.json OUTDIR

Writes OUTDIR/config.json, model.safetensors, tokenizer.json (a copy)
and reference.safetensors.  The model is BitNetForCausalLM laid out as
bitnet-tiny is (transformers' BitLinear, quantization_mode offline:
uint8 codes [out/4, in], unpacked row r = packed row r mod (out/4) at
bits 2 (r div (out/4)), code value+1; a bf16 weight_scale [1] that
divides), tied, 2 layers, hidden 320, ffn 864, 5 heads of 64 on 1 KV
head: the inputs of q/k/v/gate/up (320) and of down (864) end inside
a 128-element block; o's (320) too.  Weights: seeded Gaussian masters
(std 0.02) ternarized per tensor by absmean (s = 1 / mean|W|), as
BitNet trains them; embeddings and norms bf16.

The reference is transformers' BitNet forward (modeling_bitnet.py,
integrations/bitnet.py BitLinear) written here again in float64:
RMSNorm, rotate-half RoPE (theta 500000), grouped-query causal
attention, attn_sub_norm before o_proj, squared ReLU and ffn_sub_norm
before down_proj; every projection quantizes its input per token over
its whole width, s = 127 / max(max|x|, 1e-5), x_q = clamp(round_half_
even(x s), -128, 127), y = (x_q @ codes^T) / (s * weight_scale).
reference.safetensors holds input_ids.K, logits.K, hidden.K.L (L 0: the
embeddings, 1: layer 0's output, 2: after the final norm) and greedy.K
(24 argmax tokens), K = 0, 1, the prompts of the shared fixtures.

It also reruns the same equations in float32 and prints how many int8
activation codes differ between the two (rounding ties) and the
nearest approach of float64's x s to a tie, so the README can say why a
float32 implementation may differ from the reference in the last bits.
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peerlib import bf16, pack_codes, write_st  # noqa: E402

HIDDEN, FFN, LAYERS, HEADS, KV, HD = 320, 864, 2, 5, 1, 64
THETA, EPS, NGREEDY = 500000.0, 1e-5, 24
PROMPTS = [[0, 927, 367, 260, 2004, 494, 74, 1175, 553, 3049],
           [0, 1574, 1098, 354, 365, 15, 1052, 285]]
PROJ = [("self_attn.q_proj", HEADS * HD, HIDDEN),
        ("self_attn.k_proj", KV * HD, HIDDEN),
        ("self_attn.v_proj", KV * HD, HIDDEN),
        ("self_attn.o_proj", HIDDEN, HEADS * HD),
        ("mlp.gate_proj", FFN, HIDDEN),
        ("mlp.up_proj", FFN, HIDDEN),
        ("mlp.down_proj", HIDDEN, FFN)]


class Net:
    """The weights as the reference reads them back."""

    def __init__(self, rng, vocab):
        self.vocab = vocab
        self.st = {}
        self.embd = self.vec("model.embed_tokens.weight",
                             rng.normal(0, 0.02, (vocab, HIDDEN)))
        self.layers = []
        for L in range(LAYERS):
            p = f"model.layers.{L}."
            ly = {}
            for n, d in (("input_layernorm", HIDDEN),
                         ("post_attention_layernorm", HIDDEN),
                         ("self_attn.attn_sub_norm", HEADS * HD),
                         ("mlp.ffn_sub_norm", FFN)):
                ly[n] = self.vec(p + n + ".weight",
                                 1 + 0.1 * rng.normal(0, 1, d))
            for n, rows, cols in PROJ:
                w = rng.normal(0, 0.02, (rows, cols)).astype(np.float32)
                s = np.float32(1) / max(np.float32(np.abs(w).mean()),
                                        np.float32(1e-5))
                t = np.clip(np.rint(w * s), -1, 1).astype(np.int8)
                sb, sv = bf16(np.array([s], dtype=np.float32))
                self.st[p + n + ".weight"] = (
                    "U8", (rows // 4, cols), pack_codes(t).tobytes())
                self.st[p + n + ".weight_scale"] = (
                    "BF16", (1,), sb.astype("<u2").tobytes())
                ly[n] = (t.astype(np.float64), float(sv[0]))
            self.layers.append(ly)
        self.norm = self.vec("model.norm.weight",
                             1 + 0.1 * rng.normal(0, 1, HIDDEN))

    def vec(self, name, v):
        bits, val = bf16(np.asarray(v, dtype=np.float32))
        self.st[name] = ("BF16", bits.shape, bits.astype("<u2").tobytes())
        return val.astype(np.float64)


class Forward:
    """transformers' BitNet equations in dtype ft (float64 or float32);
    records every BitLinear input's x s for the tie report."""

    def __init__(self, net, ft):
        self.n, self.ft = net, ft
        self.xs = []

    def c(self, a):
        return np.asarray(a, dtype=self.ft)

    def rms(self, x, g):
        v = np.mean(x * x, axis=-1, keepdims=True)
        return self.c(g) * (x / np.sqrt(v + self.c(EPS)))

    def bitlinear(self, x, w):
        t, ws = w
        m = np.maximum(np.abs(x).max(axis=-1, keepdims=True), self.c(1e-5))
        s = self.c(127) / m
        self.xs.append(x * s)
        xq = np.clip(np.rint(x * s), -128, 127)
        return (xq @ self.c(t).T) / (s * self.c(ws))

    def run(self, ids):
        T = len(ids)
        inv = 1.0 / THETA ** (np.arange(0, HD, 2, dtype=np.float64) / HD)
        ang = np.arange(T, dtype=np.float64)[:, None] * inv[None, :]
        cos = self.c(np.cos(np.concatenate([ang, ang], -1)))
        sin = self.c(np.sin(np.concatenate([ang, ang], -1)))

        def rope(x):                                    # [h, T, HD]
            a, b = x[..., :HD // 2], x[..., HD // 2:]
            return x * cos + np.concatenate([-b, a], -1) * sin

        x = self.c(self.n.embd[ids])
        hidden = [x]
        mask = np.triu(np.full((T, T), -np.inf), 1)
        for L, ly in enumerate(self.n.layers):
            h = self.rms(x, ly["input_layernorm"])
            q = self.bitlinear(h, ly["self_attn.q_proj"])
            k = self.bitlinear(h, ly["self_attn.k_proj"])
            v = self.bitlinear(h, ly["self_attn.v_proj"])
            q = rope(q.reshape(T, HEADS, HD).transpose(1, 0, 2))
            k = rope(k.reshape(T, KV, HD).transpose(1, 0, 2))
            v = v.reshape(T, KV, HD).transpose(1, 0, 2)
            k = np.repeat(k, HEADS // KV, axis=0)
            v = np.repeat(v, HEADS // KV, axis=0)
            a = q @ k.transpose(0, 2, 1) / self.c(np.sqrt(HD)) + self.c(mask)
            a = np.exp(a - a.max(-1, keepdims=True))
            a = a / a.sum(-1, keepdims=True)
            o = (a @ v).transpose(1, 0, 2).reshape(T, HEADS * HD)
            o = self.rms(o, ly["self_attn.attn_sub_norm"])
            x = x + self.bitlinear(o, ly["self_attn.o_proj"])
            h = self.rms(x, ly["post_attention_layernorm"])
            g = self.bitlinear(h, ly["mlp.gate_proj"])
            u = self.bitlinear(h, ly["mlp.up_proj"])
            m = self.rms(np.square(np.maximum(g, 0)) * u,
                         ly["mlp.ffn_sub_norm"])
            x = x + self.bitlinear(m, ly["mlp.down_proj"])
            if L < LAYERS - 1:
                hidden.append(x)
        x = self.rms(x, self.n.norm)
        hidden.append(x)
        return x @ self.c(self.n.embd).T, hidden


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("tokenizer")
    ap.add_argument("out")
    a = ap.parse_args()
    vocab = len(json.load(open(a.tokenizer))["model"]["vocab"])
    net = Net(np.random.default_rng(a.seed), vocab)
    ref, ties, margin, dev = {}, 0, 1.0, 0.0
    for K, ids in enumerate(PROMPTS):
        seq = list(ids)
        for _ in range(NGREEDY):
            lg, _ = Forward(net, np.float64).run(np.array(seq))
            seq.append(int(lg[-1].argmax()))
        f64, f32 = Forward(net, np.float64), Forward(net, np.float32)
        lg, hid = f64.run(np.array(ids))
        f64.run(np.array(seq))
        f32.run(np.array(seq))
        for x64, x32 in zip(f64.xs[-len(f32.xs):], f32.xs):
            c64 = np.clip(np.rint(x64), -128, 127)
            c32 = np.clip(np.rint(x32.astype(np.float64)), -128, 127)
            ties += int((c64 != c32).sum())
            inner = np.abs(x64) < 127
            margin = min(margin, float(np.abs(
                np.abs(x64 - np.floor(x64)) - 0.5)[inner].min()))
            dev = max(dev, float(np.abs(x64 - x32).max()))
        T = len(ids)
        ref[f"input_ids.{K}"] = ("I32", (T,),
                                 np.array(ids, "<i4").tobytes())
        ref[f"logits.{K}"] = ("F32", lg.shape,
                              lg.astype("<f4").tobytes())
        for L, h in enumerate(hid):
            ref[f"hidden.{K}.{L}"] = ("F32", h.shape,
                                      h.astype("<f4").tobytes())
        ref[f"greedy.{K}"] = ("I32", (len(seq),),
                              np.array(seq, "<i4").tobytes())
    cfg = {"architectures": ["BitNetForCausalLM"], "model_type": "bitnet",
           "vocab_size": vocab, "hidden_size": HIDDEN,
           "intermediate_size": FFN, "num_hidden_layers": LAYERS,
           "num_attention_heads": HEADS, "num_key_value_heads": KV,
           "head_dim": HD, "hidden_act": "relu2",
           "max_position_embeddings": 4096, "rms_norm_eps": EPS,
           "rope_theta": THETA, "tie_word_embeddings": True,
           "bos_token_id": 0, "eos_token_id": 1,
           "torch_dtype": "bfloat16", "attention_bias": False,
           "quantization_config": {"quant_method": "bitnet",
                                   "linear_class": "bitlinear",
                                   "quantization_mode": "offline"}}
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
        f.write("\n")
    write_st(os.path.join(a.out, "model.safetensors"), net.st)
    write_st(os.path.join(a.out, "reference.safetensors"), ref)
    shutil.copyfile(a.tokenizer, os.path.join(a.out, "tokenizer.json"))
    print(f"seed {a.seed}: int8 codes differing float64/float32 {ties}, "
          f"nearest tie {margin:.3g}, x s differs by up to {dev:.3g}")


if __name__ == "__main__":
    main()
