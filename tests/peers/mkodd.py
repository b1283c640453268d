#!/usr/bin/env python3
"""mkodd.py: a small random llama checkpoint whose rows are not a
multiple of 256, for bnexport's per-tensor fallback.

    python3 mkodd.py TOKENIZER.json HIDDEN FFN OUTDIR

Writes OUTDIR/config.json, OUTDIR/model.safetensors (f32, seeded
Gaussian weights, std 0.02; norms 1) and a copy of TOKENIZER.json (its
vocabulary size is the model's).  One layer, head_dim 16, plain Python.
"""
import json
import os
import random
import struct
import sys


def main():
    tok, hidden, ffn, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    with open(tok, "rb") as f:
        tokjson = f.read()
    vocab = len(json.loads(tokjson)["model"]["vocab"])
    heads = hidden // 16
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
           "vocab_size": vocab, "hidden_size": hidden, "intermediate_size": ffn,
           "num_hidden_layers": 1, "num_attention_heads": heads,
           "num_key_value_heads": heads, "head_dim": 16,
           "max_position_embeddings": 128, "rms_norm_eps": 1e-05,
           "rope_theta": 10000.0, "hidden_act": "silu",
           "tie_word_embeddings": False, "bos_token_id": 0, "eos_token_id": 1}
    shapes = {"model.embed_tokens.weight": (vocab, hidden),
              "model.norm.weight": (hidden,),
              "lm_head.weight": (vocab, hidden),
              "model.layers.0.input_layernorm.weight": (hidden,),
              "model.layers.0.post_attention_layernorm.weight": (hidden,),
              "model.layers.0.self_attn.q_proj.weight": (hidden, hidden),
              "model.layers.0.self_attn.k_proj.weight": (hidden, hidden),
              "model.layers.0.self_attn.v_proj.weight": (hidden, hidden),
              "model.layers.0.self_attn.o_proj.weight": (hidden, hidden),
              "model.layers.0.mlp.gate_proj.weight": (ffn, hidden),
              "model.layers.0.mlp.up_proj.weight": (ffn, hidden),
              "model.layers.0.mlp.down_proj.weight": (hidden, ffn)}
    rng = random.Random(1234)
    head, blobs, off = {}, [], 0
    for name, shape in shapes.items():
        n = 1
        for d in shape:
            n *= d
        if len(shape) == 1:
            vals = [1.0] * n
        else:
            vals = [rng.gauss(0.0, 0.02) for _ in range(n)]
        blob = struct.pack("<%df" % n, *vals)
        head[name] = {"dtype": "F32", "shape": list(shape),
                      "data_offsets": [off, off + len(blob)]}
        blobs.append(blob)
        off += len(blob)
    h = json.dumps(head).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    with open(os.path.join(out, "tokenizer.json"), "wb") as f:
        f.write(tokjson)


if __name__ == "__main__":
    main()
