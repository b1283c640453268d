#!/usr/bin/python3
"""qat-ref.py: the independent reference for bnquant's training.

Writes, for three small models (llama + ternary with distillation,
bitnet + ternary, llama + binary), a Hugging Face style directory
(config.json, model.safetensors in f32) and ref.safetensors holding
  tokens     int32 [10, B, T + 1]   one batch per step
  teacher    f32   [B * T, V]       teacher logits (distillation case)
  loss       f32   [10]             the loss at each of 10 AdamW steps
  grad.NAME  f32                    every parameter's gradient at step 0
  hparams    f32   [7]              lr, warm-up, weight decay, clip, Adam
                                    eps, distillation alpha and tau
and, for hidden-state distillation (the -hid- cases),
  teacher_hidden f32 [nl, B * T, C] the teacher's outputs of layers
  hid_layers     int32 [nl]         those layers (from 0)
  hid_params     f32 [2]            1 for cosine (0: MSE), the weight
and, for attention-relation distillation (the -attn case),
  teacher_attn.q, .k, .v f32 [B, T, width]  the teacher's q, k (after
                                    RoPE) and v at the layer
  attn_params    f32 [3]            the layer, the weight, the
                                    temperature (relation heads: the
                                    student's heads)
computed with PyTorch in float64 (from the f32 values stored) from the
published formulas
(BitNet b1.58, Ma et al. 2024, arXiv:2402.17764; AdamW, Loshchilov and
Hutter 2019; distillation, Hinton et al. 2015), written from the papers,
not from bntools' C code.  Run with Debian's python3-torch:
  /usr/bin/python3 tests/peers/qat-ref.py tests/fixtures/qat
"""
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

B, T, STEPS = 2, 16, 10
LR, WARMUP, WD, CLIP = 1e-3, 3, 0.1, 1.0
BETAS, EPS = (0.9, 0.95), 1e-6


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        dt = {torch.float32: "F32", torch.int32: "I32"}[t.dtype]
        raw = t.numpy().tobytes()
        header[name] = {"dtype": dt, "shape": list(t.shape),
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# The smallest distance of a quantizer's input from a rounding edge, per
# kind, in the step-0 forward: two correct float implementations may
# round a value on such an edge differently, so make() draws models until
# every value is clear of the edges by more than float32 noise.
MARGIN = {"act": math.inf, "weight": math.inf}
TRACK = True   # bench/qat-torch.py turns the margin bookkeeping off


def act_quant(x):
    s = 127.0 / x.abs().max(dim=-1, keepdim=True).values.clamp(min=1e-5)
    if TRACK:
        v = (x * s).detach()
        MARGIN["act"] = min(MARGIN["act"],
                            ((v - v.floor()) - 0.5).abs().min().item())
    return (x * s).round().clamp(-128, 127) / s


def weight_quant(w, mode):
    if mode == "ternary":
        s = 1.0 / w.abs().mean().clamp(min=1e-5)
        if TRACK:
            v = (w * s).detach().abs()
            MARGIN["weight"] = min(MARGIN["weight"],
                                   (v - 0.5).abs().min().item(),
                                   (v - 1.5).abs().min().item())
        return (w * s).round().clamp(-1, 1) / s
    alpha, beta = w.mean(), w.abs().mean()
    if TRACK:
        MARGIN["weight"] = min(MARGIN["weight"],
                               (w - alpha).detach().abs().min().item())
    return torch.where(w - alpha > 0, beta, -beta)


def bitlinear(x, w, mode):
    if mode == "float":
        return x @ w.t()
    xq = x + (act_quant(x) - x).detach()
    wq = w + (weight_quant(w, mode) - w).detach()
    return xq @ wq.t()


def rms(x, g, eps):
    return g * (x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps))


def rope(x, theta):  # x [B, T, H, D], rotate-half convention
    d = x.shape[-1]
    # the tables in f32, as transformers and bntools compute them
    inv = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
    ang = torch.arange(x.shape[1], dtype=torch.float32)[:, None] * inv
    cos = torch.cat([ang.cos(), ang.cos()], -1)[None, :, None, :]
    sin = torch.cat([ang.sin(), ang.sin()], -1)[None, :, None, :]
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


def forward(P, cfg, tok, mode, hs=None, qkv=None):
    H, KV, D = cfg["heads"], cfg["kv_heads"], cfg["head_dim"]
    eps, bitnet = 1e-5, cfg["arch"] == "bitnet"
    x = P["token_embd.weight"][tok]
    nb, nt = tok.shape
    mask = torch.full((nt, nt), float("-inf"), dtype=x.dtype).triu(1)
    for l in range(cfg["layers"]):
        p = lambda s: P["blk.%d.%s.weight" % (l, s)]
        h = rms(x, p("attn_norm"), eps)
        q = bitlinear(h, p("attn_q"), mode).view(nb, nt, H, D)
        k = bitlinear(h, p("attn_k"), mode).view(nb, nt, KV, D)
        v = bitlinear(h, p("attn_v"), mode).view(nb, nt, KV, D)
        q, k = rope(q, cfg["theta"]), rope(k, cfg["theta"])
        if qkv is not None and l == qkv["layer"]:
            qkv["out"] = [x_.reshape(nb, nt, -1) for x_ in (q, k, v)]
        k = k.repeat_interleave(H // KV, dim=2)
        v = v.repeat_interleave(H // KV, dim=2)
        s = torch.einsum("bthd,bshd->bhts", q, k) / math.sqrt(D) + mask
        a = torch.einsum("bhts,bshd->bthd", s.softmax(-1), v)
        a = a.reshape(nb, nt, H * D)
        if bitnet:
            a = rms(a, p("attn_sub_norm"), eps)
        x = x + bitlinear(a, p("attn_output"), mode)
        h = rms(x, p("ffn_norm"), eps)
        g = bitlinear(h, p("ffn_gate"), mode)
        u = bitlinear(h, p("ffn_up"), mode)
        g = F.relu(g) ** 2 if bitnet else F.silu(g)
        m = g * u
        if bitnet:
            m = rms(m, p("ffn_sub_norm"), eps)
        x = x + bitlinear(m, p("ffn_down"), mode)
        if hs is not None:  # the layer's output, for hidden distillation
            hs.append(x.reshape(nb * nt, -1))
    x = rms(x, P["output_norm.weight"], eps)
    head = P["token_embd.weight"] if cfg["tied"] else P["output.weight"]
    return x @ head.t()


def loss_fn(z, tgt, zt, alpha, tau):
    z = z.reshape(-1, z.shape[-1])
    ce = F.cross_entropy(z, tgt.reshape(-1))
    if zt is None:
        return ce
    lps = F.log_softmax(z / tau, -1)
    lpt = F.log_softmax(zt / tau, -1)
    kl = (lpt.exp() * (lpt - lps)).sum(-1).mean()
    return alpha * ce + (1 - alpha) * tau * tau * kl


def hid_loss(hs, th, hid):
    """Hidden-state distillation (bnquant --distill-hidden): the mean
    over the layers of the mean over positions of mean((h - t)^2) or of
    1 - h.t / max(|h| |t|, 1e-8), times the weight."""
    terms = []
    for j, l in enumerate(hid["layers"]):
        h, t = hs[l], th[j]
        if hid["cos"]:
            d = (h.norm(dim=-1) * t.norm(dim=-1)).clamp(min=1e-8)
            terms.append((1 - (h * t).sum(-1) / d).mean())
        else:
            terms.append(((h - t) ** 2).mean())
    return hid["weight"] * sum(terms) / len(terms)


def rel_loss(sv, tv, heads, temp):
    """Attention-relation distillation (bnquant --distill-attn;
    MiniLM-v2, BitDistill eqs. 10-12): for q, k and v, split each
    position's values into heads relation heads, normalise them,
    R = softmax(a a^T / temp) over all positions, and sum over q, k, v
    the mean over rows of KL(R_teacher || R_student)."""
    total = 0
    for s, t in zip(sv, tv):
        rel = []
        for a in (s, t):
            nb, nt, d = a.shape
            a = a.reshape(nb, nt, heads, d // heads).transpose(1, 2)
            a = a / a.norm(dim=-1, keepdim=True).clamp(min=1e-12)
            rel.append(F.log_softmax(a @ a.transpose(-1, -2) / temp, -1))
        lps, lpt = rel
        total = total + (lpt.exp() * (lpt - lps)).sum(-1).mean()
    return total


def lr_at(step, steps, lr):
    if step < WARMUP:
        return lr * (step + 1) / WARMUP
    prog = (step - WARMUP) / (steps - WARMUP)
    return 0.5 * lr * (1 + math.cos(math.pi * prog))


HF = {"attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
      "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
      "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj",
      "attn_sub_norm": "self_attn.attn_sub_norm",
      "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
      "ffn_down": "mlp.down_proj", "ffn_sub_norm": "mlp.ffn_sub_norm"}


def hf_name(n):
    if n == "token_embd.weight":
        return "model.embed_tokens.weight"
    if n == "output_norm.weight":
        return "model.norm.weight"
    if n == "output.weight":
        return "lm_head.weight"
    _, l, s, _ = n.split(".")
    return "model.layers.%s.%s.weight" % (l, HF[s])


def make(outdir, cfg, mode, kd, seed, lr=LR, hid=None, attn=None):
    """Draw with seed, seed + 1, ... until the step-0 forward has no
    quantizer input within ACT_EDGE (activations, in int8 units) or
    W_EDGE (weights) of a rounding edge; then write the fixture."""
    while True:
        torch.manual_seed(seed)
        MARGIN["act"] = MARGIN["weight"] = math.inf
        if make1(outdir, cfg, mode, kd, seed, lr, probe=True, hid=hid,
                 attn=attn):
            break
        seed += 1
    torch.manual_seed(seed)
    make1(outdir, cfg, mode, kd, seed, lr, probe=False, hid=hid, attn=attn)


ACT_EDGE, W_EDGE = 2e-4, 1e-6


def make1(outdir, cfg, mode, kd, seed, lr, probe, hid=None, attn=None):
    C, Fd, V = cfg["hidden"], cfg["ffn"], cfg["vocab"]
    qd, kvd = cfg["heads"] * cfg["head_dim"], cfg["kv_heads"] * cfg["head_dim"]
    shapes = {"token_embd.weight": (V, C)}
    for l in range(cfg["layers"]):
        b = "blk.%d." % l
        shapes.update({b + "attn_norm.weight": (C,),
                       b + "attn_q.weight": (qd, C),
                       b + "attn_k.weight": (kvd, C),
                       b + "attn_v.weight": (kvd, C),
                       b + "attn_output.weight": (C, qd),
                       b + "ffn_norm.weight": (C,),
                       b + "ffn_gate.weight": (Fd, C),
                       b + "ffn_up.weight": (Fd, C),
                       b + "ffn_down.weight": (C, Fd)})
        if cfg["arch"] == "bitnet":
            shapes[b + "attn_sub_norm.weight"] = (qd,)
            shapes[b + "ffn_sub_norm.weight"] = (Fd,)
    shapes["output_norm.weight"] = (C,)
    if not cfg["tied"]:
        shapes["output.weight"] = (V, C)
    P = {}
    for n, s in shapes.items():
        if len(s) == 1:
            P[n] = 1.0 + 0.1 * torch.randn(s)
        else:
            P[n] = 0.05 * torch.randn(s)
        P[n].requires_grad_(True)
    tokens = torch.randint(0, V, (STEPS, B, T + 1), dtype=torch.int32)
    teacher = 2.0 * torch.randn(B * T, V) if kd else None
    th = (0.1 * torch.randn(len(hid["layers"]), B * T, C)
          if hid is not None else None)
    ta = ([torch.randn(B, T, w) for w in attn["widths"]]
          if attn is not None else None)
    if probe:
        with torch.no_grad():
            Pd = {n: p.detach().double() for n, p in P.items()}
            forward(Pd, cfg, tokens[0].long()[:, :-1], mode)
        ok = MARGIN["act"] > ACT_EDGE and MARGIN["weight"] > W_EDGE
        print("seed %d: margins act %.2e weight %.2e%s" % (
            seed, MARGIN["act"], MARGIN["weight"], "" if ok else ", again"))
        return ok
    os.makedirs(outdir, exist_ok=True)
    write_safetensors(os.path.join(outdir, "model.safetensors"),
                      {hf_name(n): P[n] for n in shapes})
    conf = {"architectures": ["BitNetForCausalLM" if cfg["arch"] == "bitnet"
                              else "LlamaForCausalLM"],
            "model_type": cfg["arch"], "vocab_size": V, "hidden_size": C,
            "intermediate_size": Fd, "num_hidden_layers": cfg["layers"],
            "num_attention_heads": cfg["heads"],
            "num_key_value_heads": cfg["kv_heads"],
            "hidden_act": "relu2" if cfg["arch"] == "bitnet" else "silu",
            "max_position_embeddings": 64, "rms_norm_eps": 1e-5,
            "rope_theta": cfg["theta"], "tie_word_embeddings": cfg["tied"],
            "bos_token_id": 0, "eos_token_id": 1, "torch_dtype": "float32"}
    with open(os.path.join(outdir, "config.json"), "w") as f:
        json.dump(conf, f, indent=1)
    for n in shapes:  # the stored f32 values, computed in float64
        P[n] = P[n].detach().double().requires_grad_(True)
    if teacher is not None:
        teacher64 = teacher.double()
    if th is not None:
        th64 = th.double()
    if ta is not None:
        ta64 = [a.double() for a in ta]
    params = [P[n] for n in shapes]
    opt = torch.optim.AdamW(
        [{"params": [P[n] for n in shapes if len(shapes[n]) == 2],
          "weight_decay": WD},
         {"params": [P[n] for n in shapes if len(shapes[n]) == 1],
          "weight_decay": 0.0}], lr=lr, betas=BETAS, eps=EPS)
    losses, grads = [], {}
    for step in range(STEPS):
        tok = tokens[step].long()
        hs = [] if hid is not None else None
        qkv = {"layer": attn["layer"]} if attn is not None else None
        z = forward(P, cfg, tok[:, :-1], mode, hs, qkv)
        loss = loss_fn(z, tok[:, 1:], teacher64 if kd else None, 0.5, 2.0)
        if hid is not None:
            loss = loss + hid_loss(hs, th64, hid)
        if attn is not None:
            loss = loss + attn["weight"] * rel_loss(
                qkv["out"], ta64, cfg["heads"], attn["temp"])
        opt.zero_grad()
        loss.backward()
        losses.append(loss.item())
        if step == 0:
            grads = {"grad." + n: P[n].grad.float() for n in shapes}
        torch.nn.utils.clip_grad_norm_(params, CLIP)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, STEPS, lr)
        opt.step()
    out = {"tokens": tokens, "loss": torch.tensor(losses, dtype=torch.float32),
           "hparams": torch.tensor([lr, WARMUP, WD, CLIP, EPS, 0.5, 2.0],
                                   dtype=torch.float32)}
    if kd:
        out["teacher"] = teacher
    if hid is not None:
        out["teacher_hidden"] = th
        out["hid_layers"] = torch.tensor(hid["layers"], dtype=torch.int32)
        out["hid_params"] = torch.tensor(
            [1.0 if hid["cos"] else 0.0, hid["weight"]], dtype=torch.float32)
    if attn is not None:
        for j, a in zip("qkv", ta):
            out["teacher_attn." + j] = a
        out["attn_params"] = torch.tensor(
            [attn["layer"], attn["weight"], attn["temp"]],
            dtype=torch.float32)
    out.update(grads)
    write_safetensors(os.path.join(outdir, "ref.safetensors"), out)
    print("%s: losses %s" % (outdir, " ".join("%.5f" % v for v in losses)))


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/qat"
    torch.set_num_threads(1)
    small = {"hidden": 64, "ffn": 128, "layers": 2, "heads": 4,
             "kv_heads": 2, "head_dim": 16, "vocab": 256}
    make(os.path.join(root, "llama-ternary-kd"),
         dict(small, arch="llama", theta=10000.0, tied=False),
         "ternary", True, 1)
    make(os.path.join(root, "bitnet-ternary"),
         dict(small, arch="bitnet", theta=500000.0, tied=True),
         "ternary", False, 2)
    # binary codes flip wherever a weight crosses the tensor's mean, so
    # float noise changes the trajectory sooner: a smaller step keeps
    # 10 of them comparable
    make(os.path.join(root, "llama-binary"),
         dict(small, arch="llama", theta=10000.0, tied=False),
         "binary", False, 3, lr=3e-4)
    # hidden-state distillation on top of logit distillation
    make(os.path.join(root, "llama-ternary-hid-mse"),
         dict(small, arch="llama", theta=10000.0, tied=False),
         "ternary", True, 4, hid={"cos": False, "weight": 0.7,
                                  "layers": [1, 0]})
    make(os.path.join(root, "bitnet-ternary-hid-cos"),
         dict(small, arch="bitnet", theta=500000.0, tied=True),
         "ternary", True, 5, hid={"cos": True, "weight": 0.7,
                                  "layers": [1]})
    # attention-relation distillation, a teacher of other widths
    make(os.path.join(root, "llama-ternary-attn"),
         dict(small, arch="llama", theta=10000.0, tied=False),
         "ternary", True, 6, attn={"layer": 1, "weight": 0.7, "temp": 0.5,
                                   "widths": [48, 32, 32]})


if __name__ == "__main__":
    main()
