"""Print the two summary tables of docs/experiment.md from a report's stats.csv (``alsel report``).

    python docs/experiment/summary.py docs/experiment/paper/stats.csv [--profile cityscapes]

The first table: each method's final mIoU and AUC (one cost profile) with their intervals; the
second: the reference against each method, paired by seed, with the Holm-adjusted p and the
verdict. Methods appear in the order of the report (reference first, then binary, region, pixel).
"""

import argparse
import csv


def cell(mean, low, high, signed=False):
    fmt = "{:+.1f}" if signed else "{:.1f}"
    ci = f" [{fmt.format(float(low))}, {fmt.format(float(high))}]" if low else ""
    return fmt.format(float(mean)) + ci


def verdict(row):
    if not row["p_t_holm"]:
        return cell(row["mean"], "", "", signed=True) + " (no test)"
    word = ("**proposed better**" if "better" in row["verdict"] else
            "**proposed worse**" if "worse" in row["verdict"] else "not resolved")
    word = word.replace("proposed", row["reference"])
    return (cell(row["mean"], row["ci_low"], row["ci_high"], signed=True)
            + f", {float(row['p_t_holm']):.2g} — {word}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stats", help="stats.csv written by alsel report")
    parser.add_argument("--profile", default="cityscapes", help="cost profile of the AUC columns")
    args = parser.parse_args()
    rows = list(csv.DictReader(open(args.stats, encoding="utf-8")))

    def pick(section, metric, strategy):
        profile = args.profile if metric == "auc" else ""
        found = [r for r in rows if (r["section"], r["metric"], r["profile"], r["strategy"])
                 == (section, metric, profile, strategy)]
        if not found:
            raise SystemExit(f"{args.stats}: no {section} row for {strategy} ({metric} {profile}); "
                             f"--profile must be one the report has.")
        return found[0]

    methods = list(dict.fromkeys(r["strategy"] for r in rows if r["section"] == "method"))
    print(f"| method | kind | seeds | final mIoU [95% CI] | AUC, {args.profile.capitalize()} hours [95% CI] |")
    print("|---|---|---:|---|---|")
    for m in methods:
        f, a = pick("method", "final_miou", m), pick("method", "auc", m)
        print(f"| {m} | {f['kind']} | {f['n']} | {cell(f['mean'], f['ci_low'], f['ci_high'])} | "
              f"{cell(a['mean'], a['ci_low'], a['ci_high'])} |")
    print()
    others = list(dict.fromkeys(r["strategy"] for r in rows if r["section"] == "paired"))
    print(f"| method | n | final mIoU: difference [95% CI], Holm p | AUC ({args.profile.capitalize()}): "
          "difference [95% CI], Holm p |")
    print("|---|---:|---|---|")
    for m in others:
        f, a = pick("paired", "final_miou", m), pick("paired", "auc", m)
        print(f"| {m} | {f['n']} | {verdict(f)} | {verdict(a)} |")


if __name__ == "__main__":
    main()
