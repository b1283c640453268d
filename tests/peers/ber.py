#!/usr/bin/env python3
"""ber.py: an independent check of bnstat --ber, in plain Python.

usage: ber.py HF_DIR ID...

Reads a BitNet b1.58 (model_type bitnet) Hugging Face directory with
float master weights (config.json, model.safetensors in bf16/f16/f32),
runs the token ids twice -- once as BitLinear (absmean ternary weights
over each whole tensor, per-token int8 absmax activations), once in float
with the quantizers off -- and prints, for each site bnstat reports, the
sign bit-error rate, the int8 code error rate, the bit-level error rate,
the cosine similarity and the relative MSE of the first against the
second, as "site ber_sign cer_int8 ber_bit cosine rel_mse".

Only the standard library: nothing here shares code with bntools (not
the bnt reader, the tokenizer or the model core), so agreement means the
C code computes what bnstat(1) says it does.
"""
import json
import math
import operator
import struct
import sys


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def load(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for name, info in head.items():
            if name == "__metadata__":
                continue
            lo, hi = info["data_offsets"]
            f.seek(base + lo)
            raw = f.read(hi - lo)
            dt = info["dtype"]
            if dt == "BF16":
                h = struct.unpack("<%dH" % (len(raw) // 2), raw)
                v = list(struct.unpack("<%dI" % len(h), b"".join(
                    struct.pack("<I", x << 16) for x in h)))
                v = list(struct.unpack("<%df" % len(v),
                                       struct.pack("<%dI" % len(v), *v)))
            elif dt == "F16":
                v = list(struct.unpack("<%de" % (len(raw) // 2), raw))
            elif dt == "F32":
                v = list(struct.unpack("<%df" % (len(raw) // 4), raw))
            else:
                sys.exit("ber.py: %s: dtype %s" % (name, dt))
            shape = info["shape"]
            if len(shape) == 2:
                r, c = shape
                v = [v[i * c:(i + 1) * c] for i in range(r)]
            out[name] = v
    return out


def rmsnorm(x, w, eps):
    ss = sum(a * a for a in x)
    r = 1.0 / math.sqrt(ss / len(x) + eps)
    return [a * r * b for a, b in zip(x, w)]


def quant_i8(x):
    m = max(abs(a) for a in x)
    s = f32(127.0 / max(m, 1e-5))
    return [max(-128, min(127, round(f32(a * s)))) for a in x], s


def ternarize(w):
    n = sum(len(r) for r in w)
    mean = f32(sum(abs(a) for r in w for a in r) / n)
    s = f32(1.0 / max(mean, 1e-5))
    return [[max(-1, min(1, round(f32(a * s)))) for a in r] for r in w], s


def linear(w, x):
    return [sum(map(operator.mul, r, x)) for r in w]


def bitlinear(wq, ws, x):
    xq, xs = quant_i8(x)
    return [v / (xs * ws) for v in linear(wq, xq)]


def forward(W, cfg, ids, quant):
    H = cfg["hidden_size"]
    L = cfg["num_hidden_layers"]
    nh = cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads", nh)
    hd = H // nh
    eps = cfg["rms_norm_eps"]
    rp = cfg.get("rope_parameters") or {}
    theta = rp.get("rope_theta", cfg.get("rope_theta", 10000.0))
    half = hd // 2
    inv = [1.0 / theta ** (2 * i / hd) for i in range(half)]

    def lin(name, x):
        if quant:
            wq, ws = W[name + "#q"]
            return bitlinear(wq, ws, x)
        return linear(W[name], x)

    def rope(v, pos, heads):
        out = list(v)
        for h in range(heads):
            o = h * hd
            for i in range(half):
                c, s = math.cos(pos * inv[i]), math.sin(pos * inv[i])
                a, b = v[o + i], v[o + i + half]
                out[o + i] = a * c - b * s
                out[o + i + half] = b * c + a * s
        return out

    sites = {}
    emb = W["model.embed_tokens.weight"]
    xs = [list(emb[t]) for t in ids]
    sites["embed"] = [list(x) for x in xs]
    for l in range(L):
        p = "model.layers.%d." % l
        kc, vc = [], []
        s_qkv, s_o, s_up, s_down = [], [], [], []
        for t, x in enumerate(xs):
            xn = rmsnorm(x, W[p + "input_layernorm.weight"], eps)
            s_qkv.append(xn)
            q = rope(lin(p + "self_attn.q_proj.weight", xn), t, nh)
            k = rope(lin(p + "self_attn.k_proj.weight", xn), t, nkv)
            v = lin(p + "self_attn.v_proj.weight", xn)
            kc.append(k)
            vc.append(v)
            att = []
            for h in range(nh):
                g = h // (nh // nkv)
                qh = q[h * hd:(h + 1) * hd]
                sc = [sum(map(operator.mul, qh, kk[g * hd:(g + 1) * hd]))
                      / math.sqrt(hd) for kk in kc]
                mx = max(sc)
                e = [math.exp(a - mx) for a in sc]
                z = sum(e)
                o = [0.0] * hd
                for wgt, vv in zip(e, vc):
                    for i in range(hd):
                        o[i] += wgt / z * vv[g * hd + i]
                att.extend(o)
            att = rmsnorm(att, W[p + "self_attn.attn_sub_norm.weight"], eps)
            s_o.append(att)
            y = lin(p + "self_attn.o_proj.weight", att)
            x = [a + b for a, b in zip(x, y)]
            xn = rmsnorm(x, W[p + "post_attention_layernorm.weight"], eps)
            s_up.append(xn)
            gt = lin(p + "mlp.gate_proj.weight", xn)
            up = lin(p + "mlp.up_proj.weight", xn)
            hcat = [max(a, 0.0) ** 2 * b for a, b in zip(gt, up)]
            hcat = rmsnorm(hcat, W[p + "mlp.ffn_sub_norm.weight"], eps)
            s_down.append(hcat)
            y = lin(p + "mlp.down_proj.weight", hcat)
            xs[t] = [a + b for a, b in zip(x, y)]
        sites["blk.%d.qkv_in" % l] = s_qkv
        sites["blk.%d.o_in" % l] = s_o
        sites["blk.%d.up_in" % l] = s_up
        sites["blk.%d.down_in" % l] = s_down
        sites["blk.%d.out" % l] = [list(x) for x in xs]
    sites["final"] = [rmsnorm(x, W["model.norm.weight"], eps) for x in xs]
    return sites


def compare(S, R):
    n = sgn = code = bits = 0
    dot = ss = rr = dd = 0.0
    for a, r in zip(S, R):
        qa, _ = quant_i8(a)
        qr, _ = quant_i8(r)
        for x, y, u, v in zip(a, r, qa, qr):
            n += 1
            sgn += (x >= 0) != (y >= 0)
            code += u != v
            bits += bin((u ^ v) & 0xff).count("1")
            dot += x * y
            ss += x * x
            rr += y * y
            dd += (x - y) ** 2
    cos = dot / math.sqrt(ss * rr) if ss > 0 and rr > 0 else 1.0
    return sgn / n, code / n, bits / (8 * n), cos, dd / rr if rr else 0.0


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: ber.py HF_DIR ID...")
    d = sys.argv[1]
    ids = [int(a) for a in sys.argv[2:]]
    with open(d + "/config.json") as f:
        cfg = json.load(f)
    W = load(d + "/model.safetensors")
    for name in list(W):
        if name.endswith("_proj.weight"):
            W[name + "#q"] = ternarize(W[name])
    S = forward(W, cfg, ids, True)
    R = forward(W, cfg, ids, False)
    order = ["embed"]
    for l in range(cfg["num_hidden_layers"]):
        order += ["blk.%d.%s" % (l, s) for s in
                  ("qkv_in", "o_in", "up_in", "down_in", "out")]
    order.append("final")
    for site in order:
        print(site, " ".join("%.9g" % v for v in compare(S[site], R[site])))


if __name__ == "__main__":
    main()
