#!/usr/bin/env python3
"""Imagic's per-η rates over a range of cases of one or more `imagic bench` folders.

Usage: python3 scripts/eta_rates.py FIRST LAST FOLDER...
Reads FOLDER/cases/NNN-*/imagic.json for NNN in FIRST..LAST and prints, per folder: the kept rate and mean 1 − SSIM to the
input at η = 0, the best *both* rate, *both* at η 0.8…1.2, and the best edit success among the η whose mean 1 − SSIM to
the input is at most 0.10 / 0.13 / 0.16 (the frontier at three budgets). Used for docs/imagic-tuning.md.
"""
import glob
import json
import os
import sys


def load(folder, first, last):
    cases = {}
    for path in sorted(glob.glob(os.path.join(folder, "cases", "*", "imagic.json"))):
        number = int(os.path.basename(os.path.dirname(path))[:3])
        if first <= number <= last:
            with open(path) as f:
                cases[number] = json.load(f)
    return cases


def main():
    first, last, folders = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    for folder in folders:
        cases = load(folder, first, last)
        if not cases:
            sys.exit(f"{folder}: no imagic.json for cases {first}..{last}")
        rows = []
        for i in range(len(next(iter(cases.values()))["Points"])):
            points = [c["Points"][i] for c in cases.values()]
            rate = lambda key: 100 * sum(p["Score"][key] for p in points) / len(points)
            distance = sum(p["Score"]["InputDistance"] for p in points) / len(points)
            rows.append((points[0]["Value"], rate("EditSuccess"), rate("AllPreserved"), rate("SuccessAndPreserved"), distance))
        best = max(rows, key=lambda r: (r[3], -r[0]))
        at = lambda budget: max([r[1] for r in rows if r[4] <= budget] or [0])
        both = " / ".join(f"{r[3]:.0f}" for r in rows if round(r[0], 1) in (0.8, 0.9, 1.0, 1.1, 1.2))
        print(f"| {folder} | {len(cases)} | {rows[0][2]:.0f} %, {rows[0][4]:.3f} | {best[3]:.0f} % (η {best[0]:.1f}, {best[4]:.3f}) "
              f"| {both} | {at(0.10):.0f} / {at(0.13):.0f} / {at(0.16):.0f} |")


if __name__ == "__main__":
    main()
