"""Single-process throughput on the dev texts, beside datatrove's filter stack in the same run.

    python bench/throughput.py [--model DIR] [--limit N] [--no-datatrove]

Scores every text of ../shared/eval (extractions-dev, then wcxb-dev) once, in one process, after a
warm-up (model load, vocabulary and langdetect profiles), and reports docs/s, ms per document, mean
document size and peak RSS. Texts are distinct, so textstat's per-text cache cannot flatter the figure.
"""

from __future__ import annotations

import argparse
import resource
import time

from _common import EXTRACTIONS, WCXB, DatatroveStack, read_gz_jsonl, require


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None)
    ap.add_argument("--limit", type=int, default=None, help="score only the first N texts")
    ap.add_argument("--no-datatrove", action="store_true")
    args = ap.parse_args()
    require(EXTRACTIONS)
    from service.model import DEFAULT_MODEL_DIR, load_model
    from service.scoring import score_text, warm_up

    texts = [r["text"] for r in read_gz_jsonl(EXTRACTIONS)] + [r["text"] for r in read_gz_jsonl(WCXB)]
    texts = [t for t in texts if t.strip()][: args.limit]
    model = load_model(args.model or DEFAULT_MODEL_DIR)
    warm_up(model)  # as the server and the scan do: vocabulary, indexes and language profiles, once

    def thresher(t: str) -> None:
        score_text(t, model=model, explain=False)

    scorers = {"thresher": thresher}
    if not args.no_datatrove:
        stack = DatatroveStack()
        stack.score("Warm-up text. It loads the tokenizer once.")
        scorers["datatrove"] = stack.score  # type: ignore[assignment]
    kb = sum(len(t.encode()) for t in texts) / len(texts) / 1024
    print(f"{len(texts)} texts, mean {kb:.1f} KB; one process")
    print(f"{'scorer':<10} {'docs/s':>8} {'ms/doc':>8}")
    for name, fn in scorers.items():
        t0 = time.perf_counter()
        for t in texts:
            fn(t)
        dt = time.perf_counter() - t0
        print(f"{name:<10} {len(texts) / dt:>8.1f} {1000 * dt / len(texts):>8.2f}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB (both scorers loaded)")


if __name__ == "__main__":
    main()
