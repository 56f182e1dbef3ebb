"""Quality on the shared dev sets: does the score rank texts by how much of them is the article?

    python bench/quality.py [--model DIR] [--limit-pages N] [--no-datatrove]

extractions-dev: per page, texts from 16 extractors plus the gold body, each with `precision`
(share of its tokens that belong to the article). Reports the mean per-page Spearman between score
and precision, the pooled AUC of texts with precision >= 0.95 over texts with precision < 0.7, and
the share of pages where gold outscores the full-page dump `html-text`.
wcxb-dev: per page a gold main text and the page's full dump: pooled AUC gold over dump and the
share of pages where gold outscores dump. datatrove's filter stack is run on the same texts.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Callable

import numpy as np
from _common import EXTRACTIONS, WCXB, DatatroveStack, read_gz_jsonl, require
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score


def _wins(a: float, b: float) -> float:
    return 1.0 if a > b else 0.5 if a == b else 0.0


def extraction_metrics(rows: list[dict], scores: np.ndarray) -> dict[str, float]:
    by_page: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by_page[r["page"]].append(i)
    rhos = []
    wins = []
    for idx in by_page.values():
        prec = np.array([rows[i]["precision"] for i in idx])
        sc = scores[idx]
        if len(idx) >= 3 and prec.std() > 0 and sc.std() > 0:
            rhos.append(spearmanr(sc, prec).statistic)
        elif len(idx) >= 3 and prec.std() > 0:
            rhos.append(0.0)
        gold = [i for i in idx if rows[i]["extractor"] == "gold"]
        dump = [i for i in idx if rows[i]["extractor"] == "html-text"]
        if gold and dump:
            wins.append(_wins(scores[gold[0]], scores[dump[0]]))
    prec_all = np.array([r["precision"] for r in rows])
    pos, neg = prec_all >= 0.95, prec_all < 0.7
    y = np.r_[np.ones(pos.sum()), np.zeros(neg.sum())]
    auc = roc_auc_score(y, np.r_[scores[pos], scores[neg]])
    return {"spearman_mean": float(np.mean(rhos)), "pooled_auc": float(auc), "gold_beats_dump": float(np.mean(wins))}


def wcxb_metrics(rows: list[dict], scores: np.ndarray) -> dict[str, float]:
    pages: dict[str, dict[str, float]] = defaultdict(dict)
    for r, s in zip(rows, scores, strict=True):
        pages[r["page"]][r["kind"]] = s
    y = np.array([1 if r["kind"] == "gold" else 0 for r in rows])
    wins = [_wins(p["gold"], p["dump"]) for p in pages.values() if "gold" in p and "dump" in p]
    return {"pooled_auc": float(roc_auc_score(y, scores)), "gold_beats_dump": float(np.mean(wins))}


def run(name: str, fn: Callable[[str], float], texts: list[str]) -> tuple[np.ndarray, float]:
    t = time.perf_counter()
    out = np.array([fn(x) for x in texts])
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model folder (default: models/default)")
    ap.add_argument("--limit-pages", type=int, default=None, help="only the first N pages of each set")
    ap.add_argument("--no-datatrove", action="store_true", help="skip the datatrove comparison")
    args = ap.parse_args()
    require(EXTRACTIONS)
    require(WCXB)

    from service.model import DEFAULT_MODEL_DIR, load_model
    from service.scoring import score_text

    model = load_model(args.model or DEFAULT_MODEL_DIR)

    def thresher(text: str) -> float:
        try:
            return float(score_text(text, model=model, explain=False)["score"])
        except ValueError:
            return 0.0  # empty text: the least reliable

    scorers: dict[str, Callable[[str], float]] = {"thresher": thresher}
    if not args.no_datatrove:
        scorers["datatrove"] = DatatroveStack().score

    ext = list(read_gz_jsonl(EXTRACTIONS))
    wc = list(read_gz_jsonl(WCXB))
    if args.limit_pages:
        keep_e = sorted({r["page"] for r in ext})[: args.limit_pages]
        keep_w = sorted({r["page"] for r in wc})[: args.limit_pages]
        ext = [r for r in ext if r["page"] in keep_e]
        wc = [r for r in wc if r["page"] in keep_w]
    print(f"model {model.name} {model.version}; extractions-dev: {len(ext)} texts, wcxb-dev: {len(wc)} texts")
    header = f"{'scorer':<10} {'ext spearman':>12} {'ext AUC':>8} {'gold>dump':>9} | {'wcxb AUC':>8} {'gold>dump':>9} | {'docs/s':>7}"
    print(header)
    print("-" * len(header))
    for name, fn in scorers.items():
        s_ext, t1 = run(name, fn, [r["text"] for r in ext])
        s_wc, t2 = run(name, fn, [r["text"] for r in wc])
        m1 = extraction_metrics(ext, s_ext)
        m2 = wcxb_metrics(wc, s_wc)
        rate = (len(ext) + len(wc)) / (t1 + t2)
        print(
            f"{name:<10} {m1['spearman_mean']:>12.3f} {m1['pooled_auc']:>8.3f} {m1['gold_beats_dump']:>9.3f} | "
            f"{m2['pooled_auc']:>8.3f} {m2['gold_beats_dump']:>9.3f} | {rate:>7.1f}"
        )
    print("targets    spearman >= 0.88, ext AUC >= 0.97, gold>dump >= 0.99 | wcxb AUC >= 0.97, gold>dump >= 0.995")


if __name__ == "__main__":
    main()
