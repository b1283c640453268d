#!/usr/bin/python3
"""plot.py: training curves of examples/scratch as an SVG on stdout: the
training loss (a running mean of 20 steps) and the validation points
against wall-clock minutes, for bnquant's log and, if given, PyTorch's
(bench/scratch-torch.py).  Standard library only.

usage: plot.py BNQUANT.jsonl [TORCH.jsonl] > loss.svg
"""
import json
import sys

W, H, L, R, T, B = 760, 440, 70, 190, 50, 60


def curves(path):
    rows = [json.loads(line) for line in open(path)]
    out, val, win = [], [], []
    for r in rows:
        # bnquant: tokens and their rate since the start; PyTorch: seconds
        sec = r["seconds"] if "seconds" in r else r["tokens"] / r["tok_s"]
        win = (win + [r.get("ce", r["loss"])])[-20:]
        out.append((sec / 60, sum(win) / len(win)))
        if "val" in r:
            val.append((sec / 60, r["val"]))
    return out, val


def main():
    runs = [("bnquant", "#1f5fbf")] + ([("PyTorch", "#c0392b")]
                                       if len(sys.argv) > 2 else [])
    data = [curves(p) for p in sys.argv[1:1 + len(runs)]]
    xs = [x for tr, va in data for x, _ in tr]
    ys = [y for tr, va in data for _, y in tr[20:] + va]
    x1 = max(xs)
    y0, y1 = min(ys) - 0.1, max(ys) + 0.1
    px = lambda x: L + (W - L - R) * x / x1
    py = lambda y: T + (H - T - B) * (y1 - min(max(y, y0), y1)) / (y1 - y0)
    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
         'font-family="sans-serif" font-size="12">' % (W, H),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="%d" y="25" font-size="15">Ternary from zero on austen: '
         'loss (nats/token) against minutes on 2 cores</text>' % L,
         '<rect x="%d" y="%d" width="%d" height="%d" fill="none" '
         'stroke="#888"/>' % (L, T, W - L - R, H - T - B)]
    for i in range(6):
        y = y0 + (y1 - y0) * i / 5
        o.append('<text x="%d" y="%.1f" text-anchor="end">%.2f</text>'
                 % (L - 6, py(y) + 4, y))
        x = x1 * i / 5
        o.append('<text x="%.1f" y="%d" text-anchor="middle">%.0f</text>'
                 % (px(x), H - B + 18, x))
    o.append('<text x="%d" y="%d" text-anchor="middle">minutes</text>'
             % ((L + W - R) // 2, H - 15))
    for k, ((name, col), (tr, va)) in enumerate(zip(runs, data)):
        o.append('<polyline fill="none" stroke="%s" stroke-width="1" '
                 'opacity="0.6" points="%s"/>' % (col, " ".join(
                     "%.1f,%.1f" % (px(x), py(y)) for x, y in tr)))
        o.append('<polyline fill="none" stroke="%s" stroke-width="2" '
                 'points="%s"/>' % (col, " ".join(
                     "%.1f,%.1f" % (px(x), py(y)) for x, y in va)))
        for x, y in va:
            o.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>'
                     % (px(x), py(y), col))
        ly = T + 20 + 40 * k
        o.append('<text x="%d" y="%d" fill="%s">%s: training (thin),</text>'
                 % (W - R + 10, ly, col, name))
        o.append('<text x="%d" y="%d" fill="%s">validation %.3f</text>'
                 % (W - R + 10, ly + 16, col, va[-1][1] if va else 0))
    o.append('</svg>')
    print("\n".join(o))


if __name__ == "__main__":
    main()
