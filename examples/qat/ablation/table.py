#!/usr/bin/python3
"""table.py: the ablation's results.  Standard library only.

usage: table.py RUNS CONFIG...          a Markdown table on stdout
       table.py --svg RUNS CONFIG...    the validation curves as SVG

Each RUNS/CONFIG-sSEED/ that has a kld.json (bnrun --perplexity
--kl-base --json) counts: the mean over its seeds and, with two or
more, the sample standard deviation.
"""
import glob
import json
import math
import os
import sys

COLORS = ["#1f5fbf", "#c0392b", "#27ae60", "#8e44ad", "#d35400"]


def runs(root, config):
    out = []
    for d in sorted(glob.glob(os.path.join(root, config + "-s*"))):
        k = os.path.join(d, "kld.json")
        if os.path.exists(k):
            log = [json.loads(line) for line in open(os.path.join(d,
                                                                  "log.jsonl"))]
            out.append((os.path.basename(d), json.load(open(k)), log))
    return out


def stat(xs):
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return "%.4f" % m, m
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))
    return "%.4f ± %.4f" % (m, sd), m


def table(root, configs):
    print("| configuration | seeds | val nll | KLD mean | KLD median | "
          "KLD p99 | same top % | Δp % | nll vs the row above |")
    print("|---|---|---|---|---|---|---|---|---|")
    prev = None
    for c in configs:
        r = runs(root, c)
        if not r:
            print("| %s | 0 | (not run) | | | | | | |" % c)
            prev = None
            continue
        nll, m = stat([k["model"]["nll"] for _, k, _ in r])
        cells = [stat([k["kld"][f] for _, k, _ in r])[0]
                 for f in ("mean", "median", "p99")]
        top = stat([k["same_top_pct"]["mean"] for _, k, _ in r])[0]
        dp = stat([k["delta_p_pct"]["mean"] for _, k, _ in r])[0]
        d = "%+.4f" % (m - prev) if prev is not None else ""
        print("| %s | %s | %s | %s | %s | %s |" % (
            c, ",".join(n.split("-s")[-1] for n, _, _ in r), nll,
            " | ".join(cells), top + " | " + dp, d))
        prev = m
    base = [k["base"]["nll"] for c in configs for _, k, _ in runs(root, c)]
    if base:
        print("\nThe float teacher's val nll on the same windows: %.4f."
              % base[0])


def svg(root, configs):
    W, H, L, R, T, B = 760, 440, 70, 170, 50, 60
    series = []
    for i, c in enumerate(configs):
        for name, _, log in runs(root, c):
            pts = [(r["step"], r["val"]) for r in log if "val" in r]
            series.append((c, COLORS[i % len(COLORS)], pts))
    xs = [x for _, _, p in series for x, _ in p]
    ys = [y for _, _, p in series for _, y in p]
    x1, y0, y1 = max(xs), min(ys) - 0.02, max(ys) + 0.02
    px = lambda x: L + (W - L - R) * x / x1
    py = lambda y: T + (H - T - B) * (y1 - y) / (y1 - y0)
    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
         'font-family="sans-serif" font-size="12">' % (W, H),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="%d" y="25" font-size="15">Distillation ablation: '
         'validation nll per step (one line a seed)</text>' % L,
         '<rect x="%d" y="%d" width="%d" height="%d" fill="none" '
         'stroke="#888"/>' % (L, T, W - L - R, H - T - B)]
    for i in range(6):
        y = y0 + (y1 - y0) * i / 5
        o.append('<text x="%d" y="%.1f" text-anchor="end">%.3f</text>'
                 % (L - 6, py(y) + 4, y))
        x = x1 * i / 5
        o.append('<text x="%.1f" y="%d" text-anchor="middle">%.0f</text>'
                 % (px(x), H - B + 18, x))
    o.append('<text x="%d" y="%d" text-anchor="middle">step</text>'
             % ((L + W - R) // 2, H - 15))
    for c, col, pts in series:
        o.append('<polyline fill="none" stroke="%s" stroke-width="1.5" '
                 'points="%s"/>' % (col, " ".join(
                     "%.1f,%.1f" % (px(x), py(y)) for x, y in pts)))
    for i, c in enumerate(configs):
        o.append('<text x="%d" y="%d" fill="%s">%s</text>' % (
            W - R + 10, T + 20 + 18 * i, COLORS[i % len(COLORS)], c))
    o.append("</svg>")
    print("\n".join(o))


def main():
    a = sys.argv[1:]
    if a and a[0] == "--svg":
        svg(a[1], a[2:])
    else:
        table(a[0], a[1:])


if __name__ == "__main__":
    main()
