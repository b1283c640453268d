#!/usr/bin/python3
"""plot.py: a bnquant --log file (JSON lines) as an SVG loss curve:
training loss and its cross-entropy per step, validation points, and
reference lines given on the command line.  Standard library only.

usage: plot.py LOG OUT.svg [LABEL=VALUE ...]
e.g.   plot.py log.jsonl loss.svg "float teacher=3.768" "post-training ternary=5.66"
"""
import json
import sys

W, H, L, R, T, B = 760, 440, 70, 200, 50, 60


def main():
    rows = [json.loads(line) for line in open(sys.argv[1])]
    refs = [(a.split("=")[0], float(a.split("=")[1])) for a in sys.argv[3:]]
    steps = [r["step"] for r in rows]
    ce = [r["ce"] for r in rows]
    val = [(r["step"], r["val"]) for r in rows if "val" in r]
    ys = ce + [v for _, v in val] + [v for _, v in refs]
    y0, y1 = min(ys) - 0.1, max(ys) + 0.1
    x0, x1 = 0, max(steps)
    px = lambda x: L + (W - L - R) * (x - x0) / (x1 - x0)
    py = lambda y: T + (H - T - B) * (y1 - y) / (y1 - y0)
    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
         'font-family="sans-serif" font-size="12">' % (W, H),
         '<title>bnquant --train: loss per step</title>',
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="%d" y="25" font-size="15">QAT + distillation of '
         'austen-llama-6m to ternary: loss (nats/token)</text>' % L]
    # axes and ticks
    o.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' %
             (L, H - B, W - R, H - B))
    o.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' %
             (L, T, L, H - B))
    n = 5
    for i in range(n + 1):
        x = x0 + (x1 - x0) * i / n
        o.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' %
                 (px(x), H - B + 18, x))
        y = y0 + (y1 - y0) * i / n
        o.append('<text x="%d" y="%.1f" text-anchor="end">%.2f</text>' %
                 (L - 6, py(y) + 4, y))
        o.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>'
                 % (L, py(y), W - R, py(y)))
    o.append('<text x="%d" y="%d" text-anchor="middle">optimizer step '
             '(16 x 256 tokens each)</text>' % ((L + W - R) // 2, H - 15))
    o.append('<text x="18" y="%d" transform="rotate(-90 18 %d)" '
             'text-anchor="middle">nats per token</text>' %
             ((T + H - B) // 2, (T + H - B) // 2))
    pts = " ".join("%.1f,%.1f" % (px(s), py(v)) for s, v in zip(steps, ce))
    o.append('<polyline fill="none" stroke="#1f77b4" stroke-width="1.2" '
             'points="%s"/>' % pts)
    for s, v in val:
        o.append('<circle cx="%.1f" cy="%.1f" r="4" fill="#d62728"/>' %
                 (px(s), py(v)))
        o.append('<text x="%.1f" y="%.1f" font-size="10">%.3f</text>' %
                 (px(s) + 6, py(v) - 6, v))
    colors = ["#2ca02c", "#9467bd", "#8c564b"]
    for i, (name, v) in enumerate(refs):
        c = colors[i % len(colors)]
        o.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s" '
                 'stroke-dasharray="5,4"/>' % (L, py(v), W - R, py(v), c))
    # legend
    lx, ly = W - R + 12, T + 10
    items = [("#1f77b4", "training CE (batch)"),
             ("#d62728", "validation (full split)")]
    items += [(colors[i % len(colors)], "%s %.3f" % (n_, v))
              for i, (n_, v) in enumerate(refs)]
    for i, (c, t) in enumerate(items):
        o.append('<rect x="%d" y="%d" width="12" height="12" fill="%s"/>' %
                 (lx, ly + 20 * i, c))
        o.append('<text x="%d" y="%d">%s</text>' % (lx + 18, ly + 20 * i + 10,
                                                    t))
    o.append("</svg>")
    with open(sys.argv[2], "w") as f:
        f.write("\n".join(o) + "\n")


if __name__ == "__main__":
    main()
