#!/usr/bin/env python3
"""Writes tests/golden/results-reversed.json from tests/golden/results.json: the results of the
conditional-text chapter (ids cond-*) with every speedup reversed (value v with interval [lo, hi]
becomes 1/v with [1/hi, 1/lo]): packed slower than OpenBLAS where it was faster, int8 slower
than fp32, CSR faster than dense at 50% sparsity and slower at 90%.  Every other metric (the
accuracy drop) is kept, so what the measurements do not reverse must read the same.
Re-run only to change the fixture on purpose: python3 tests/golden/make-reversed.py
"""
import copy, json, os

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "results.json")) as f:
    doc = json.load(f)
results = []
for r in doc["results"]:
    if not r["id"].startswith("cond-"):
        continue
    r = copy.deepcopy(r)
    for name, m in r["metrics"].items():
        if name.startswith("speedup."):
            lo, hi = m["ci95"]
            m["value"] = round(1 / m["value"], 6)
            m["ci95"] = [round(1 / hi, 6), round(1 / lo, 6)]
    results.append(r)
doc["results"] = results
with open(os.path.join(here, "results-reversed.json"), "w") as f:
    f.write(json.dumps(doc, indent=1))
