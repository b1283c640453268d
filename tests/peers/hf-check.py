#!/usr/bin/env python3
"""hf-check.py: transformers loads a bnexport -F hf directory and
reproduces a reference's logits.

    python3 hf-check.py [--tol X] [--device cpu|cuda] DIR REF.safetensors

REF holds input_ids.K (int32 [T]) and logits.K (f32 [T, vocab]), and
optionally greedy.K (int32, the prompt and its greedy continuation):
a fixture's reference.safetensors (transformers' own numbers for the
checkpoint bnpack read), or bnrun's numbers written by
build/tests/mkonnx --logits MODEL.bnt FIXTURE/reference.safetensors OUT.

For each K: the largest |logit difference| and how many positions have
the same argmax, then the greedy continuation (as many tokens as REF's
greedy.K has past the prompt) compared token by token.  The tokenizer
(tokenizer.json) must give input_ids.K for the prompts of DIR's
reference.json if one sits beside REF.  Loads the model in float32 (so a
weight_scale keeps its own precision); one thread on the CPU.

Prints one line per check and "max_abs X"; exit status 0 when every max
difference is within --tol (default 1e-3) and every argmax and greedy
token agrees, else 1.
"""
import argparse
import json
import os
import sys

import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tol", type=float, default=1e-3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("dir")
    ap.add_argument("ref")
    a = ap.parse_args()
    torch.set_num_threads(1)
    ref = load_file(a.ref)
    try:        # transformers 5 (and late 4.x) call it dtype
        model = AutoModelForCausalLM.from_pretrained(a.dir, dtype=torch.float32)
    except TypeError:
        model = AutoModelForCausalLM.from_pretrained(a.dir,
                                                     torch_dtype=torch.float32)
    model.to(a.device).eval()
    ok = True
    worst = 0.0
    print(f"model: {type(model).__name__}, "
          f"quantization: {getattr(model.config, 'quantization_config', None)}")
    keys = sorted(k.split(".", 1)[1] for k in ref if k.startswith("input_ids."))
    for k in keys:
        ids = ref[f"input_ids.{k}"].to(torch.long)
        want = ref[f"logits.{k}"].to(torch.float32)
        with torch.no_grad():
            got = model(ids[None].to(a.device)).logits[0].float().cpu()
        d = (got - want).abs().max().item()
        agree = int((got.argmax(-1) == want.argmax(-1)).sum())
        worst = max(worst, d)
        print(f"logits.{k}: max_abs {d:.3g} argmax {agree}/{len(ids)}")
        ok &= d <= a.tol and agree == len(ids)
        g = ref.get(f"greedy.{k}")
        if g is not None:
            n = len(g) - len(ids)
            with torch.no_grad():
                out = model.generate(ids[None].to(a.device), max_new_tokens=n,
                                     min_new_tokens=n, do_sample=False)[0].cpu()
            same = 0
            for x, y in zip(out[len(ids):].tolist(), g[len(ids):].tolist()):
                if x != y:
                    break
                same += 1
            print(f"greedy.{k}: {same}/{n} tokens agree")
            ok &= same == n
    tj = os.path.join(a.dir, "tokenizer.json")
    rj = os.path.join(os.path.dirname(a.ref), "reference.json")
    if os.path.exists(tj) and os.path.exists(rj):
        tok = PreTrainedTokenizerFast(tokenizer_file=tj)
        for k, c in enumerate(json.load(open(rj))):
            if f"input_ids.{k}" not in ref:
                continue
            ids = tok(c["prompt"], add_special_tokens=False)["input_ids"]
            want = ref[f"input_ids.{k}"].tolist()[1:]
            same = ids == want
            print(f"tokenize.{k}: {'equal' if same else 'DIFFERENT'}")
            ok &= same
    print(f"max_abs {worst:.3g}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
