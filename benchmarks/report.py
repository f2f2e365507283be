"""Turn benchmarks/results.json (pytest-benchmark) into the Markdown tables of docs/benchmarks.md."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path


def main(path: str = "benchmarks/results.json") -> None:
    data = json.loads(Path(path).read_text())
    machine = data["machine_info"]
    print(f"Machine: {machine.get('cpu', {}).get('brand_raw', '?')}, "
          f"{machine.get('cpu', {}).get('count', '?')} logical CPUs, Python {machine['python_version']}; "
          f"{data['datetime'][:10]}\n")
    groups = defaultdict(list)
    for bench in data["benchmarks"]:
        groups[bench["group"]].append(bench)
    for group, benches in groups.items():
        print(f"### {group}\n")
        print("| benchmark | min (s) | mean (s) | max (s) | rounds | extra |")
        print("|---|---:|---:|---:|---:|---|")
        for b in benches:
            s = b["stats"]
            extra = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                              for k, v in b.get("extra_info", {}).items()
                              if not isinstance(v, list))
            cold = b.get("extra_info", {}).get("cold_build_seconds")
            if cold:
                extra = "in-process first call: " + ", ".join(f"{t:.3f}" for t in cold) + " s"
            print(f"| {b['name']} | {s['min']:.4f} | {s['mean']:.4f} | {s['max']:.4f} | {s['rounds']} | {extra} |")
        print()


if __name__ == "__main__":
    main(*sys.argv[1:])
