"""Compare two folders of eval JSONs: are ``summary`` and ``records`` identical file by file?

Used to check that a refactoring leaves the demo's results unchanged:
``python benchmarks/compare_evals.py runs_before/demo/eval runs_after/demo/eval``. Other fields
(paths, git hash, versions) are listed when they differ but do not count.
"""

import json
import pathlib
import sys

a, b = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
ok = True
files = sorted(p.relative_to(a) for p in a.rglob("*.json"))
for rel in files:
    x = json.loads((a / rel).read_text())
    if not (b / rel).is_file():
        print("MISSING", rel)
        ok = False
        continue
    y = json.loads((b / rel).read_text())
    for key in ("summary", "records"):
        if x[key] != y[key]:
            ok = False
            print("DIFF", rel, key)
    same = sorted(k for k in x if k in y and x[k] == y[k])
    diff = sorted(k for k in x if k not in y or x[k] != y[k])
    print(
        rel, "identical:", "summary" in same and "records" in same, "other differing fields:", diff
    )
extra = sorted(p.relative_to(b) for p in b.rglob("*.json") if not (a / p.relative_to(b)).exists())
print("extra in new:", extra)
print("ALL IDENTICAL" if ok else "DIFFERENCES")
