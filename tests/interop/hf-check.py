#!/usr/bin/env python3
"""hf-check.py: transformers loads bnexport -F hf directories and
reproduces references' logits.

    python3 hf-check.py [--device cpu|cuda] DIR REF.safetensors TOL ...

Each triple is one check, all in one process (importing transformers is
most of the time).  REF holds input_ids.K (int32 [T]) and logits.K (f32
[T, vocab]), and optionally greedy.K (int32, the prompt and its greedy
continuation): a fixture's reference.safetensors (transformers' own
numbers for the checkpoint bnpack read), or bnrun's numbers written by
build/tests/mkonnx --logits MODEL.bnt FIXTURE/reference.safetensors OUT.

For each K: the largest |logit difference| and how many positions have
the same argmax, then the greedy continuation (as many tokens as REF's
greedy.K has past the prompt) compared token by token.  Where the two
continuations part, transformers' own logits at that step give the gap
between its token and REF's: a gap within TOL is a near-tie flipped by
differences the tolerance allows (reported, not a failure); a larger
one fails.  The tokenizer (AutoTokenizer on DIR) must give input_ids.K
for the prompts of reference.json beside REF, if there is one, and
decode them back.  Loads the model in float32 (so a weight_scale keeps
its own precision); one thread on the CPU.

Prints one line per result and "max_abs X" per check; exit status 0 when
every check passed, else 1.
"""
import argparse
import json
import os
import sys

import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer


def greedy(model, ids, g, tol, dev):
    """Compare the continuation of ids with REF's g; True if it passes."""
    n = len(g) - len(ids)
    with torch.no_grad():
        out = model.generate(ids[None].to(dev), max_new_tokens=n,
                             min_new_tokens=n, do_sample=False)[0].cpu()
    same = 0
    for x, y in zip(out[len(ids):].tolist(), g[len(ids):].tolist()):
        if x != y:
            break
        same += 1
    if same == n:
        return f"{n}/{n} tokens agree", True
    at = len(ids) + same
    with torch.no_grad():
        last = model(g[None, :at].to(torch.long).to(dev)).logits[0, -1]
    mine, theirs = int(out[at]), int(g[at])
    gap = (last[mine] - last[theirs]).item()
    near = gap <= tol
    return (f"{same}/{n} tokens agree, then {mine} (here) vs {theirs} "
            f"(ref), gap {gap:.3g}: {'near-tie' if near else 'FAIL'}"), near


def check(d, r, tol, dev):
    print(f"== {d} vs {r} (tol {tol:g})")
    ref = load_file(r)
    try:        # transformers 5 (and late 4.x) call it dtype
        model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32)
    except TypeError:
        model = AutoModelForCausalLM.from_pretrained(d,
                                                     torch_dtype=torch.float32)
    model.to(dev).eval()
    ok = True
    worst = 0.0
    print(f"model: {type(model).__name__}, "
          f"quantization: {getattr(model.config, 'quantization_config', None)}")
    keys = sorted(k.split(".", 1)[1] for k in ref if k.startswith("input_ids."))
    for k in keys:
        ids = ref[f"input_ids.{k}"].to(torch.long)
        want = ref[f"logits.{k}"].to(torch.float32)
        with torch.no_grad():
            got = model(ids[None].to(dev)).logits[0].float().cpu()
        diff = (got - want).abs().max().item()
        agree = int((got.argmax(-1) == want.argmax(-1)).sum())
        worst = max(worst, diff)
        print(f"logits.{k}: max_abs {diff:.3g} argmax {agree}/{len(ids)}")
        ok &= diff <= tol and agree == len(ids)
        g = ref.get(f"greedy.{k}")
        if g is not None:
            line, good = greedy(model, ids, g, tol, dev)
            print(f"greedy.{k}: {line}")
            ok &= good
    rj = os.path.join(os.path.dirname(r), "reference.json")
    if os.path.exists(os.path.join(d, "tokenizer.json")) and \
            os.path.exists(rj):
        tok = AutoTokenizer.from_pretrained(d)
        print(f"tokenizer: {type(tok).__name__}, bos {tok.bos_token_id}, "
              f"eos {tok.eos_token_id}")
        for k, c in enumerate(json.load(open(rj))):
            if f"input_ids.{k}" not in ref:
                continue
            ids = tok(c["prompt"], add_special_tokens=False)["input_ids"]
            want = ref[f"input_ids.{k}"].tolist()[1:]
            back = tok.decode(ids)
            print(f"tokenize.{k}: {'equal' if ids == want else 'DIFFERENT'}"
                  f", decode {'equal' if back == c['prompt'] else 'DIFFERENT'}")
            ok &= ids == want and back == c["prompt"]
    print(f"max_abs {worst:.3g}: {'ok' if ok else 'FAILED'}")
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("checks", nargs="+", metavar="DIR REF TOL")
    a = ap.parse_args()
    if len(a.checks) % 3:
        ap.error("checks come in threes: DIR REF TOL")
    torch.set_num_threads(1)
    ok = True
    for i in range(0, len(a.checks), 3):
        d, r, tol = a.checks[i:i + 3]
        ok &= check(d, r, float(tol), a.device)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
