"""Print the tables of docs/experiment.md from a results.csv written by `alsel run`.

    python docs/experiment/tables.py docs/experiment/results.csv
"""

import csv
import sys
from collections import defaultdict

import numpy as np

rows = list(csv.DictReader(open(sys.argv[1] if len(sys.argv) > 1 else "docs/experiment/results.csv")))
by = defaultdict(lambda: defaultdict(list))
for r in rows:
    by[r["strategy"]][int(r["iteration"])].append(r)
iterations = sorted({int(r["iteration"]) for r in rows})
last = iterations[-1]

print("| strategy | kind | " + " | ".join(f"it {i}" for i in iterations) + " |")
print("|---|---|" + "---:|" * len(iterations))
for s, its in by.items():
    cells = []
    for i in iterations:
        m = np.array([float(r["miou"]) for r in its[i]])
        cells.append(f"{m.mean():.1f} ± {m.std():.1f}" if len(m) > 1 else f"{m.mean():.1f}")
    print(f"| {s} | {its[last][0]['kind']} | " + " | ".join(cells) + " |")

print()
print("| strategy | final mIoU | per-seed | answers | images labelled | hours flickr | hours cityscapes | hours pascal |")
print("|---|---:|---|---:|---:|---:|---:|---:|")
for s, its in by.items():
    fin = its[last]
    m = np.array([float(r["miou"]) for r in fin])
    print(f"| {s} | {m.mean():.1f} ± {m.std():.1f} | {', '.join(f'{x:.1f}' for x in m)} | "
          f"{int(float(fin[0]['cum_queries']))} | {int(float(fin[0]['cum_pixel_images']))} | "
          + " | ".join(f"{np.mean([float(r['hours_' + p]) for r in fin]):.2f}" for p in ("flickr", "cityscapes", "pascal"))
          + " |")
