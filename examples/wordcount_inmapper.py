"""Word count with in-mapper combining: each map task counts in a dict and emits one
pair per distinct word from mapper_final, so no combiner is needed and far fewer
records are sorted and shuffled.

    mapreduce run examples/wordcount_inmapper.py --input /books --output /wc2
"""
from collections import Counter

from mapreduce import Job


class InMapperWordCount(Job):
    def mapper_init(self):
        self.counts = Counter()

    def mapper(self, offset, line):
        self.counts.update(line.split())

    def mapper_final(self):
        for word, count in self.counts.items():
            yield word, count
        self.increment_counter("wordcount", "distinct_words_per_map", len(self.counts))

    def reducer(self, word, counts):
        yield word, sum(counts)
