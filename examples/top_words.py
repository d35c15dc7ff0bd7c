"""Top words: a two-step job. Step 1 counts words (word count with a sum combiner);
step 2 sends every (word, count) to one key and keeps the ten most frequent,
ties broken by the word, so the answer is one deterministic part file.

    mapreduce run examples/top_words.py --input /books --output /top
    TopWords().run(input="books/", output="top/", runner="inline")
"""
from __future__ import annotations

import heapq

from mapreduce import Job, Step

TOP = 10


class TopWords(Job):
    def steps(self):
        return [Step(mapper=self.count_words, combiner=self.sum, reducer=self.sum, reducers=2),
                Step(mapper=self.to_one_key, reducer=self.top10, reducers=1)]

    def count_words(self, offset, line):
        for word in line.split():
            yield word, 1

    def sum(self, word, counts):
        yield word, sum(counts)

    def to_one_key(self, word, count):
        yield None, (count, word)

    def top10(self, _, count_words):
        # Most frequent first; among equal counts, the word that sorts first.
        for count, word in heapq.nsmallest(TOP, count_words, key=lambda cw: (-cw[0], cw[1])):
            yield word, count
