"""The general vocabulary's near-word search: the piece index finds what a scan of every common word finds."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from training.vocabulary import general_vocabulary


@pytest.fixture(scope="module")
def vocab():
    return general_vocabulary("en")


def _scan(vocab, w: str):
    """The reference: every common word of len(w) ± 2 letters, compared one by one."""
    window = [c for n in range(len(w) - 2, len(w) + 3) for c in vocab.by_length.get(n, ())]
    hits = [h for h in process.extract(w, window, scorer=Levenshtein.distance, score_cutoff=2, limit=None) if h[1] > 0]
    if not hits:
        return None
    c, dist, _ = min(hits, key=lambda h: (h[1], -vocab.zipf[h[0]]))
    return (c, int(dist))


def _garbled(rng: random.Random, word: str, edits: int) -> str:
    w = list(word)
    for _ in range(edits):
        i = rng.randrange(len(w))
        op = rng.choice("isdt")
        if op == "i":
            w.insert(i, rng.choice("abcdefghijklmnopqrstuvwxyz'-"))
        elif op == "d" and len(w) > 5:
            del w[i]
        elif op == "s":
            w[i] = rng.choice("abcdefghijklmnopqrstuvwxyz")
        elif op == "t" and i + 1 < len(w):
            w[i], w[i + 1] = w[i + 1], w[i]
    return "".join(w)


def test_distance_two_search_equals_a_full_scan(vocab):
    rng = random.Random(0)
    common = sorted(c for n, ws in vocab.by_length.items() if n >= 7 for c in ws)
    tokens = [_garbled(rng, rng.choice(common), rng.choice((1, 2, 2, 3))) for _ in range(400)]
    tokens += ["atterition", "tomowawks", "jemenskyy", "qqqqqqqqqq", "internationally"]
    for w in tokens:
        vocab._memo.clear()
        hits = vocab._within_two(w)
        got = min(hits, key=lambda h: (h[1], -vocab.zipf[h[0]], h[2]))[:2] if hits else None
        assert got == _scan(vocab, w), w


def test_nearest_common_prefers_one_edit_then_frequency(vocab):
    assert vocab.nearest_common("atterition", max_distance=2) == ("attrition", 1)
    assert vocab.nearest_common("governmnet", max_distance=2) == ("government", 1)  # a transposition is one edit
    assert vocab.nearest_common("govxrnmemt", max_distance=2) == ("government", 2)
    assert vocab.nearest_common("govxrnmemt", max_distance=1) is None
    assert vocab.nearest_common("qqqqqqqqqq", max_distance=2) is None


def test_ties_are_broken_the_same_way_in_every_process():
    # "aurl" is one edit from "aura" and from "curl", both at zipf 3.52: a set's order used to decide.
    script = ("from training.vocabulary import general_vocabulary; "
              "print(general_vocabulary('en').nearest_common('aurl', max_distance=1))")
    root = Path(__file__).resolve().parents[2]
    answers = {
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=root,
                       env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout.strip()
        for seed in range(6)
    }
    assert answers == {"('aura', 1)"}


def test_a_names_file_is_read_in_its_encoding_and_a_binary_one_is_refused(tmp_path):
    """train --names: a Latin-1 or UTF-16 file is read as a crawl file is; NUL bytes or a control character
    in a name are refused with the file and line, not read as names."""
    from training.vocabulary import EntityLexicon, LexiconError

    names = ["Ólafur Ragnarsson", "José Núñez", "Zoë Brønner"]
    for encoding in ("utf-8", "latin-1", "utf-16"):
        f = tmp_path / f"names-{encoding}.txt"
        f.write_bytes(("# our reporters\n" + "\n".join(names) + "\n").encode(encoding))
        assert EntityLexicon.read_user_names(f) == names, encoding
    binary = tmp_path / "names.bin"
    binary.write_bytes(b"\x00\x01\x02")
    with pytest.raises(LexiconError, match="binary"):
        EntityLexicon.read_user_names(binary)
    control = tmp_path / "names-control.txt"
    control.write_bytes(b"Ann Lee\n\x01bad\n")
    with pytest.raises(LexiconError, match="line 2: a control character"):
        EntityLexicon.read_user_names(control)
