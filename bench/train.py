"""Retraining time on N labeled documents (default 2,000), the quick way beside the alternatives, in one run.

    python bench/train.py [--docs 2000] [--skip-fit] [--keep DIR]

1. Writes N labeled documents as one JSONL file, as a user keeps them: the project's own fixtures and
   the seeded generator's variants of its articles under several seeds (distinct texts only), shuffled
   with a fixed seed. Nothing from ../shared.
2. Times whole `thresher train` commands (wall clock, a fresh process each, so start-up and the report
   count), all with `--no-builtin --base models/default --force` (the gate scores the base on the same
   documents, as a user's retrain does):
   - `quick`: `--line-model-from models/default` on all cores (the README's retrain),
   - `quick-1`: the same on one process,
   - `fit`: fitting the line model in every fold as `make model` does (skipped with --skip-fit: it
     takes several minutes).
3. Checks that `quick` and `quick-1` wrote byte-identical metrics.json (results do not depend on the
   number of processes) and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT


def write_fixtures(path: Path, n: int) -> dict[str, int]:
    from training.dataset import builtin_examples

    seen: set[str] = set()
    rows: list[dict[str, object]] = []
    seed = 0
    while len(rows) < n and seed < 20:
        for ex in builtin_examples(seed=seed):
            if ex.text not in seen:
                seen.add(ex.text)
                rows.append({"id": f"s{seed}-{ex.id}", "text": ex.text, "label": ex.label, "tags": list(ex.tags)})
        seed += 1
    random.Random(0).shuffle(rows)
    rows = rows[:n]
    with path.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    return {"documents": len(rows), "reliable": sum(r["label"] == "reliable" for r in rows)}


def run(name: str, fixtures: Path, out: Path, extra: list[str]) -> dict[str, object]:
    cmd = [str(Path(sys.executable).parent / "thresher"), "train", "--fixtures", str(fixtures), "--no-builtin",
           "--base", str(ROOT / "models" / "default"), "--force", "--out", str(out), *extra]
    print(f"{name}: {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"{name} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    metrics = json.loads((out / "metrics.json").read_text())
    return {
        "name": name,
        "wall_s": wall,
        "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "peak_rss_mib": after.ru_maxrss / 1024,  # the largest child so far
        "documents": metrics["documents"],
        "roc_auc": metrics["roc_auc"],
        "brier": metrics["brier"],
        "line_macro_f1": metrics["line_model"]["macro_f1"],
        "gate": next((ln[:200] for ln in proc.stderr.splitlines() if ln.startswith("gate against")), ""),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--skip-fit", action="store_true", help="leave out the slow run that fits the line model")
    ap.add_argument("--keep", type=Path, default=None, help="keep the fixtures and models in this folder")
    args = ap.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="thresher-bench-train-"))
    base.mkdir(parents=True, exist_ok=True)
    fixtures = base / "fixtures.jsonl"
    counts = write_fixtures(fixtures, args.docs)
    print(f"{counts['documents']} labeled documents ({counts['reliable']} reliable) in {fixtures}", file=sys.stderr)
    runs = [
        run("quick", fixtures, base / "quick", ["--line-model-from", str(ROOT / "models" / "default")]),
        run("quick-1", fixtures, base / "quick-1", ["--line-model-from", str(ROOT / "models" / "default"),
                                                    "--workers", "1"]),
    ]
    if not args.skip_fit:
        runs.append(run("fit", fixtures, base / "fit", []))
    same = (base / "quick" / "metrics.json").read_bytes() == (base / "quick-1" / "metrics.json").read_bytes()
    print(f"\n{counts['documents']} labeled documents, {os.cpu_count()} cores; "
          f"quick and quick-1 metrics.json byte-identical: {same}\n")
    print("| run | wall s | CPU s | peak RSS MiB | documents | CV ROC AUC | CV Brier | line macro F1 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in runs:
        print(f"| {r['name']} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['peak_rss_mib']:.0f} | {r['documents']} | "
              f"{r['roc_auc']} | {r['brier']} | {r['line_macro_f1']} |")
    for r in runs:
        if r["gate"]:
            print(f"\n{r['name']}: {r['gate']}")
    if not same:
        sys.exit("metrics.json differs between 2 processes and 1: results must not depend on --workers")


if __name__ == "__main__":
    main()
