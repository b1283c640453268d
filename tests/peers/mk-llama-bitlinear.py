#!/usr/bin/python3
"""mk-llama-bitlinear.py: Llama-shaped ternary checkpoints laid out as two
public families ship them, and their reference logits, from NumPy alone.

    /usr/bin/python3 mk-llama-bitlinear.py --layout falcon3|1bitllm
        [--seed N] TOKENIZER OUTDIR

Writes OUTDIR/config.json, model.safetensors, the tokenizer and
reference.safetensors (input_ids.K, logits.K, hidden.K.L with L 0: the
embeddings, 1: layer 0's output, 2: after the final norm, and greedy.K:
the prompt and 24 argmax tokens; K = 0, 1, the two prompts of the
shared fixtures) and reference.json (each prompt and greedy.K decoded
after BOS, as bitnet-tiny's reference.json has them).

falcon3's TOKENIZER is a tokenizer.json, copied (the ids of the shared
fixtures' prompts).  1bitllm's is LLaMA-2's SentencePiece tokenizer.model
(tests/fixtures/vocab/llama-spm.tokenizer.model), of which OUTDIR gets a
smaller tokenizer.model only, as 1bitLLM ships (no tokenizer.json): the
specials and 256 byte pieces, the first 1500 merged pieces that are
ASCII and the ASCII single characters, in their order and with their
scores; the prompts' ids are that vocabulary's, by SentencePiece BPE
(a dummy-prefix "\u2581", spaces as "\u2581", the adjacent pair whose
join scores highest merged first, byte pieces for what is left).

falcon3: tiiuae/Falcon3-*-1.58bit.  LlamaForCausalLM (model_type llama)
with quantization_config {quant_method: bitnet, modules_to_not_convert:
[lm_head]}, no linear_class (transformers' BitLinear, the default) and
no quantization_mode (offline): every q/k/v/o/gate/up/down_proj.weight
is uint8 [out/4, in] (unpacked row r = packed row r mod (out/4), bits
2 (r div (out/4)), code value+1) with a bf16 weight_scale [1] that
divides, y = (x_q @ codes^T) / (s * weight_scale); lm_head untied and
bf16; no sub-norms; SwiGLU; head_dim 256 = hidden / heads (Falcon3's
"wider head dimension"), GQA, rope_theta 1000042, rms_norm_eps 1e-6.

1bitllm: 1bitLLM/bitnet_b1_58-large and -3B.  architectures
[BitnetForCausalLM] with model_type llama and no quantization_config;
weight_bits 1, input_bits 8; float16 master weights of every
projection, ternarized in the forward pass by the checkpoint's
utils_quant.py BitLinear (per tensor: s = 1 / max(mean|W|, 1e-5),
W_q = clamp(round(W s), -1, 1) / s; activations per token: s_x = 127 /
max(max|x|, 1e-5), x_q = clamp(round(x s_x), -128, 127) / s_x; y = x_q
@ W_q^T); modeling_bitnet.py's two extra RMSNorms: self_attn.inner_attn_ln
(hidden wide) on the attention output before o_proj and mlp.ffn_layernorm
(intermediate wide) on silu(gate) * up before down_proj; SwiGLU; MHA;
rope_theta 10000; eps 1e-5; lm_head untied, float16.

The reference is those equations written again in float64 (the fp16 and
bf16 casts between operations that transformers makes in a half-precision
run are not modelled, as in the other layouts fixtures).  The generator
reruns them in float32 and prints how many int8 activation codes and (for
1bitllm) ternary codes differ between the two, and the nearest approach
of float64's x s (and W s) to a rounding tie.
"""
import argparse
import json
import os
import shutil
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peerlib import bf16, pack_codes, read_varint, write_st  # noqa: E402

NGREEDY = 24
PROMPTS = [[0, 927, 367, 260, 2004, 494, 74, 1175, 553, 3049],
           [0, 1574, 1098, 354, 365, 15, 1052, 285]]
TEXTS = ["It is a truth universally acknowledged",
         "Elizabeth looked at Mr. Darcy and"]
NMERGES = 1500
LAYOUTS = {
    "falcon3": dict(hidden=512, ffn=1024, layers=2, heads=2, kv=1, hd=256,
                    theta=1000042.0, eps=1e-6, packed=True, subnorm=False),
    "1bitllm": dict(hidden=256, ffn=640, layers=2, heads=4, kv=4, hd=64,
                    theta=10000.0, eps=1e-5, packed=False, subnorm=True),
}


def pb_read(d):
    """A protobuf message's fields: [(number, wire type, value, raw)]."""
    o, out = 0, []
    while o < len(d):
        s = o
        k, o = read_varint(d, o)
        n, wt = k >> 3, k & 7
        if wt == 0:
            v, o = read_varint(d, o)
        elif wt == 2:
            ln, o = read_varint(d, o)
            v = d[o:o + ln]
            o += ln
        elif wt == 5:
            v, o = d[o:o + 4], o + 4
        elif wt == 1:
            v, o = d[o:o + 8], o + 8
        else:
            raise ValueError("protobuf wire type %d" % wt)
        out.append((n, wt, v, d[s:o]))
    return out


def small_spm(src, dst):
    """LLaMA-2's tokenizer.model cut down (see the docstring); writes
    dst and returns [(piece, score, type)]."""
    top = pb_read(open(src, "rb").read())
    pieces = []
    for n, wt, v, raw in top:
        if n == 1:
            f = {a: c for a, _, c, _ in pb_read(v)}
            pieces.append((f[1].decode(), struct.unpack("<f", f[2])[0],
                           f.get(3, 1), raw))

    def ascii(p):
        return all(c == "\u2581" or 32 < ord(c) < 127 for c in p)

    keep, merges = [], 0
    for i, (p, sc, ty, raw) in enumerate(pieces):
        if ty != 1:
            keep.append(i)              # unk, control, byte pieces
        elif len(p) == 1:
            if ascii(p):
                keep.append(i)
        elif ascii(p) and merges < NMERGES:
            keep.append(i)
            merges += 1
    out = b"".join(pieces[i][3] for i in keep)
    out += b"".join(raw for n, _, _, raw in top if n != 1)
    open(dst, "wb").write(out)
    return [pieces[i][:3] for i in keep]


def spm_decode(vocab, ids):
    """Pieces to text: byte pieces as bytes, "\u2581" as a space, the
    dummy prefix's space dropped."""
    b = b""
    for i in ids:
        p, _, ty = vocab[i]
        b += bytes([int(p[3:5], 16)]) if ty == 6 else \
            p.replace("\u2581", " ").encode()
    t = b.decode("utf-8", "backslashreplace")
    return t[1:] if t.startswith(" ") else t


def bpe_decode(tokenizer, ids):
    """Byte-level BPE pieces to text (GPT-2's byte alphabet)."""
    vocab = {v: k for k, v in
             json.load(open(tokenizer))["model"]["vocab"].items()}
    byte, k = {}, 0
    for b in range(256):
        if 33 <= b <= 126 or 161 <= b <= 172 or 174 <= b <= 255:
            byte[chr(b)] = b
        else:
            byte[chr(256 + k)] = b
            k += 1
    return bytes(byte[c] for i in ids for c in vocab[i]).decode(
        "utf-8", "backslashreplace")


def spm_encode(vocab, text):
    """SentencePiece BPE as llama.cpp's llm_tokenizer_spm: BOS, then the
    highest-scoring adjacent join first (the leftmost on equal scores),
    unknown symbols as byte pieces."""
    ids = {p: i for i, (p, sc, ty) in enumerate(vocab) if ty in (1, 6)}
    score = {p: sc for p, sc, ty in vocab if ty == 1}
    sym = list("\u2581" + text.replace(" ", "\u2581"))
    while True:
        best = None
        for i in range(len(sym) - 1):
            j = sym[i] + sym[i + 1]
            if j in score and (best is None or score[j] > best[0]):
                best = (score[j], i)
        if best is None:
            break
        i = best[1]
        sym[i:i + 2] = [sym[i] + sym[i + 1]]
    out = [1]
    for s in sym:
        if s in score:
            out.append(ids[s])
        else:
            out += [ids["<0x%02X>" % b] for b in s.encode()]
    return out


class Net:
    """The weights as the reference reads them back."""

    def __init__(self, rng, vocab, L):
        self.L, self.vocab, self.st = L, vocab, {}
        H, F, Q, KV = L["hidden"], L["ffn"], L["heads"] * L["hd"], \
            L["kv"] * L["hd"]
        proj = [("self_attn.q_proj", Q, H), ("self_attn.k_proj", KV, H),
                ("self_attn.v_proj", KV, H), ("self_attn.o_proj", H, Q),
                ("mlp.gate_proj", F, H), ("mlp.up_proj", F, H),
                ("mlp.down_proj", H, F)]
        norms = [("input_layernorm", H), ("post_attention_layernorm", H)]
        if L["subnorm"]:
            norms += [("self_attn.inner_attn_ln", Q),
                      ("mlp.ffn_layernorm", F)]
        self.embd = self.vec("model.embed_tokens.weight",
                             rng.normal(0, 0.02, (vocab, H)))
        self.layers = []
        for i in range(L["layers"]):
            p = f"model.layers.{i}."
            ly = {}
            for n, d in norms:
                ly[n] = self.vec(p + n + ".weight",
                                 1 + 0.1 * rng.normal(0, 1, d))
            for n, rows, cols in proj:
                w = rng.normal(0, 0.02, (rows, cols)).astype(np.float32)
                if L["packed"]:
                    ly[n] = self.packed(p + n, w)
                else:
                    ly[n] = self.vec(p + n + ".weight", w)
            self.layers.append(ly)
        self.norm = self.vec("model.norm.weight",
                             1 + 0.1 * rng.normal(0, 1, H))
        self.head = self.vec("lm_head.weight",
                             rng.normal(0, 0.02, (vocab, H)))

    def vec(self, name, v):
        """A float tensor: bf16 (falcon3) or fp16 (1bitllm)."""
        v = np.asarray(v, dtype=np.float32)
        if self.L["packed"]:
            bits, val = bf16(v)
            self.st[name] = ("BF16", bits.shape,
                             bits.astype("<u2").tobytes())
        else:
            h = v.astype(np.float16)
            val = h.astype(np.float32)
            self.st[name] = ("F16", h.shape, h.astype("<f2").tobytes())
        return val.astype(np.float64)

    def packed(self, name, w):
        """transformers' BitLinear: codes and a weight_scale that divides."""
        rows, cols = w.shape
        s = np.float32(1) / max(np.float32(np.abs(w).mean()),
                                np.float32(1e-5))
        t = np.clip(np.rint(w * s), -1, 1).astype(np.int8)
        sb, sv = bf16(np.array([s], dtype=np.float32))
        self.st[name + ".weight"] = ("U8", (rows // 4, cols),
                                     pack_codes(t).tobytes())
        self.st[name + ".weight_scale"] = ("BF16", (1,),
                                           sb.astype("<u2").tobytes())
        return (t.astype(np.float64), float(sv[0]))


class Forward:
    """The layout's equations in dtype ft (float64 or float32); records
    every BitLinear input's x s (and online weights' W s) for the tie
    report."""

    def __init__(self, net, ft):
        self.n, self.L, self.ft = net, net.L, ft
        self.xs, self.ws = [], []

    def c(self, a):
        return np.asarray(a, dtype=self.ft)

    def rms(self, x, g):
        v = np.mean(x * x, axis=-1, keepdims=True)
        return self.c(g) * (x / np.sqrt(v + self.c(self.L["eps"])))

    def bitlinear(self, x, w):
        m = np.maximum(np.abs(x).max(axis=-1, keepdims=True), self.c(1e-5))
        s = self.c(127) / m
        self.xs.append(x * s)
        xq = np.clip(np.rint(x * s), -128, 127)
        if self.L["packed"]:
            t, ws = w
            return (xq @ self.c(t).T) / (s * self.c(ws))
        # utils_quant.py: weight_quant and activation_quant, then linear
        w = self.c(w)
        sw = self.c(1) / np.maximum(np.abs(w).mean(), self.c(1e-5))
        self.ws.append(w * sw)
        wq = np.clip(np.rint(w * sw), -1, 1) / sw
        return (xq / s) @ wq.T

    def run(self, ids):
        L = self.L
        T, HD, NH, KV = len(ids), L["hd"], L["heads"], L["kv"]
        inv = 1.0 / L["theta"] ** (np.arange(0, HD, 2, dtype=np.float64)
                                   / HD)
        ang = np.arange(T, dtype=np.float64)[:, None] * inv[None, :]
        cos = self.c(np.cos(np.concatenate([ang, ang], -1)))
        sin = self.c(np.sin(np.concatenate([ang, ang], -1)))

        def rope(x):                                    # [h, T, HD]
            a, b = x[..., :HD // 2], x[..., HD // 2:]
            return x * cos + np.concatenate([-b, a], -1) * sin

        x = self.c(self.n.embd[ids])
        hidden = [x]
        mask = np.triu(np.full((T, T), -np.inf), 1)
        for i, ly in enumerate(self.n.layers):
            h = self.rms(x, ly["input_layernorm"])
            q = self.bitlinear(h, ly["self_attn.q_proj"])
            k = self.bitlinear(h, ly["self_attn.k_proj"])
            v = self.bitlinear(h, ly["self_attn.v_proj"])
            q = rope(q.reshape(T, NH, HD).transpose(1, 0, 2))
            k = rope(k.reshape(T, KV, HD).transpose(1, 0, 2))
            v = v.reshape(T, KV, HD).transpose(1, 0, 2)
            k = np.repeat(k, NH // KV, axis=0)
            v = np.repeat(v, NH // KV, axis=0)
            a = q @ k.transpose(0, 2, 1) / self.c(np.sqrt(HD)) + self.c(mask)
            a = np.exp(a - a.max(-1, keepdims=True))
            a = a / a.sum(-1, keepdims=True)
            o = (a @ v).transpose(1, 0, 2).reshape(T, NH * HD)
            if L["subnorm"]:
                o = self.rms(o, ly["self_attn.inner_attn_ln"])
            x = x + self.bitlinear(o, ly["self_attn.o_proj"])
            h = self.rms(x, ly["post_attention_layernorm"])
            g = self.bitlinear(h, ly["mlp.gate_proj"])
            u = self.bitlinear(h, ly["mlp.up_proj"])
            m = g / (1 + np.exp(-g)) * u
            if L["subnorm"]:
                m = self.rms(m, ly["mlp.ffn_layernorm"])
            x = x + self.bitlinear(m, ly["mlp.down_proj"])
            if i < L["layers"] - 1:
                hidden.append(x)
        x = self.rms(x, self.n.norm)
        hidden.append(x)
        return x @ self.c(self.n.head).T, hidden


def config(layout, L, vocab):
    base = {"attention_bias": False, "attention_dropout": 0.0,
            "hidden_act": "silu", "hidden_size": L["hidden"],
            "initializer_range": 0.02, "intermediate_size": L["ffn"],
            "model_type": "llama", "num_attention_heads": L["heads"],
            "num_hidden_layers": L["layers"],
            "num_key_value_heads": L["kv"], "pretraining_tp": 1,
            "rms_norm_eps": L["eps"], "rope_scaling": None,
            "rope_theta": L["theta"], "tie_word_embeddings": False,
            "use_cache": True, "vocab_size": vocab,
            "bos_token_id": 0, "eos_token_id": 1}
    if layout == "falcon3":
        base.update({"architectures": ["LlamaForCausalLM"],
                     "head_dim": L["hd"], "mlp_bias": False,
                     "max_position_embeddings": 32768,
                     "torch_dtype": "bfloat16",
                     "transformers_version": "4.46.1",
                     "quantization_config": {
                         "modules_to_not_convert": ["lm_head"],
                         "quant_method": "bitnet"}})
    else:
        base.update({"architectures": ["BitnetForCausalLM"],
                     "input_bits": 8, "weight_bits": 1,
                     "bos_token_id": 1, "eos_token_id": 2,
                     "max_position_embeddings": 2048,
                     "torch_dtype": "float16",
                     "transformers_version": "4.39.0"})
    return base


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layout", choices=sorted(LAYOUTS), required=True)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("tokenizer")
    ap.add_argument("out")
    a = ap.parse_args()
    L = LAYOUTS[a.layout]
    os.makedirs(a.out, exist_ok=True)
    prompts = PROMPTS
    if a.layout == "1bitllm":
        spm = small_spm(a.tokenizer,
                        os.path.join(a.out, "tokenizer.model"))
        vocab = len(spm)
        prompts = [spm_encode(spm, t) for t in TEXTS]

        def decode(ids):
            return spm_decode(spm, ids)
    else:
        vocab = len(json.load(open(a.tokenizer))["model"]["vocab"])
        shutil.copyfile(a.tokenizer, os.path.join(a.out, "tokenizer.json"))

        def decode(ids):
            return bpe_decode(a.tokenizer, ids)
    net = Net(np.random.default_rng(a.seed), vocab, L)
    ref, text, ties, margin, dev = {}, [], 0, 1.0, 0.0
    wties, wmargin = 0, 1.0
    for K, ids in enumerate(prompts):
        seq = list(ids)
        for _ in range(NGREEDY):
            lg, _ = Forward(net, np.float64).run(np.array(seq))
            seq.append(int(lg[-1].argmax()))
        f64, f32 = Forward(net, np.float64), Forward(net, np.float32)
        lg, hid = f64.run(np.array(ids))
        n0 = len(f64.xs)
        f64.run(np.array(seq))
        f32.run(np.array(seq))
        for x64, x32 in zip(f64.xs[n0:], f32.xs):
            c64 = np.clip(np.rint(x64), -128, 127)
            c32 = np.clip(np.rint(x32.astype(np.float64)), -128, 127)
            ties += int((c64 != c32).sum())
            inner = np.abs(x64) < 127
            margin = min(margin, float(np.abs(
                np.abs(x64 - np.floor(x64)) - 0.5)[inner].min()))
            dev = max(dev, float(np.abs(x64 - x32).max()))
        for w64, w32 in zip(f64.ws[n0:], f32.ws):
            wties += int((np.clip(np.rint(w64), -1, 1) !=
                          np.clip(np.rint(w32.astype(np.float64)), -1,
                                  1)).sum())
            inner = np.abs(w64) < 1.5
            wmargin = min(wmargin, float(np.abs(
                np.abs(w64 - np.floor(w64)) - 0.5)[inner].min()))
        text.append({"prompt": TEXTS[K], "greedy_text": decode(seq[1:])})
        T = len(ids)
        ref[f"input_ids.{K}"] = ("I32", (T,),
                                 np.array(ids, "<i4").tobytes())
        ref[f"logits.{K}"] = ("F32", lg.shape,
                              lg.astype("<f4").tobytes())
        for i, h in enumerate(hid):
            ref[f"hidden.{K}.{i}"] = ("F32", h.shape,
                                      h.astype("<f4").tobytes())
        ref[f"greedy.{K}"] = ("I32", (len(seq),),
                              np.array(seq, "<i4").tobytes())
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config(a.layout, L, vocab), f, indent=1)
        f.write("\n")
    write_st(os.path.join(a.out, "model.safetensors"), net.st)
    write_st(os.path.join(a.out, "reference.safetensors"), ref)
    with open(os.path.join(a.out, "reference.json"), "w") as f:
        json.dump(text, f, indent=1)
        f.write("\n")
    msg = (f"{a.layout} seed {a.seed}: int8 codes differing float64/float32"
           f" {ties}, nearest tie {margin:.3g}, x s differs by up to "
           f"{dev:.3g}")
    if not L["packed"]:
        msg += (f"; ternary codes differing {wties}, nearest weight tie "
                f"{wmargin:.3g}")
    print(msg)


if __name__ == "__main__":
    main()
