"""Word count with in-mapper combining: each map task counts in a Counter and emits one
pair per distinct word from mapper_final, so no combiner is needed and far fewer
records are sorted and shuffled.

The map side counts a whole batch of lines (a few hundred, from mapper_batch) with one
Counter.update of the joined text (words never span lines, so joining with a space
splits into the same words): one C call per batch instead of one Python call per line,
whose fixed cost was most of such a map task's time.

    mapreduce run examples/wordcount_inmapper.py --input /books --output /wc2
"""
from collections import Counter

from mapreduce import Job


class InMapperWordCount(Job):
    def mapper_init(self):
        self.counts = Counter()

    def mapper_batch(self, offsets, lines):
        self.counts.update(" ".join(lines).split())

    def mapper_final(self):
        for word, count in self.counts.items():
            yield word, count
        self.increment_counter("wordcount", "distinct_words_per_map", len(self.counts))

    def reducer(self, word, counts):
        yield word, sum(counts)
