"""A deterministic text corpus: Zipf-distributed pseudo-words in N files of a target size.

Used by tests, benchmarks and the demo. The same (files, size, seed) always gives the
same bytes, so a result can be compared run to run:

    python -m examples.gen_corpus OUT_DIR --files 4 --size 1MiB --seed 1
"""
from __future__ import annotations

import argparse
import itertools
import os
import random
import sys

from minidfs.sizes import parse_size

_SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "qu", "xe",
              "bri", "dor", "fen", "gal", "hy", "jo", "wu", "yst", "é", "ön"]
ZIPF_EXPONENT = 1.1
WORDS_PER_LINE = (3, 14)


def vocabulary(size: int, seed: int) -> list[str]:
    """`size` distinct pseudo-words (a few with non-ASCII letters), most common first."""
    rng = random.Random(seed)
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < size:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def lines(total_bytes: int, seed: int, vocab_size: int = 5000):
    """Text lines (without newlines) until about total_bytes of UTF-8 have been made."""
    rng = random.Random(seed)
    words = vocabulary(vocab_size, seed)
    cum_weights = list(itertools.accumulate(1.0 / (rank ** ZIPF_EXPONENT)
                                            for rank in range(1, vocab_size + 1)))
    made = 0
    while made < total_bytes:
        count = rng.randint(*WORDS_PER_LINE)
        line = " ".join(rng.choices(words, cum_weights=cum_weights, k=count))
        made += len(line.encode()) + 1
        yield line


def generate(out_dir: str, files: int = 4, total_bytes: int = 1024 * 1024, seed: int = 0,
             vocab_size: int = 5000) -> list[str]:
    """Writes part-XXXX.txt files into out_dir; returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    per_file = max(1, total_bytes // max(1, files))
    for i in range(files):
        path = os.path.join(out_dir, f"doc-{i:04d}.txt")
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            for line in lines(per_file, seed * 1_000_003 + i, vocab_size):
                f.write(line + "\n")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--size", default="1MiB", help="total size, e.g. 1MiB")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vocab", type=int, default=5000)
    args = parser.parse_args(argv)
    for path in generate(args.out_dir, args.files, parse_size(args.size), args.seed, args.vocab):
        print(path, file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
