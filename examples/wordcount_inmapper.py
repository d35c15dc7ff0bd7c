"""Word count with in-mapper combining: each map task counts in a Counter and emits one
pair per distinct word from mapper_final, so no combiner is needed and far fewer
records are sorted and shuffled.

The map side counts a whole batch of lines (a few hundred, from mapper_batch) with one
Counter.update of the joined text (words never span lines, so joining with a space
splits into the same words): one C call per batch instead of one Python call per line,
whose fixed cost was most of such a map task's time.

The lines come as bytes (`input_bytes`, like the Text a Hadoop mapper gets): CPython
splits bytes about twice as fast as decoded text and hashes them as fast, and only
the distinct words, a few thousand per task, are decoded at the end. So a word here is
a run of bytes between ASCII whitespace (what `bytes.split()` splits on), where
`str.split()` in examples/wordcount.py also splits on Unicode spaces such as U+00A0.

    mapreduce run examples/wordcount_inmapper.py --input /books --output /wc2
"""
from collections import Counter

from mapreduce import Job


class InMapperWordCount(Job):
    input_bytes = True

    def mapper_init(self):
        self.counts = Counter()

    def mapper_batch(self, offsets, lines):
        self.counts.update(b" ".join(lines).split())

    def mapper_final(self):
        # Bytes that are not UTF-8 become U+FFFD; two such words may then meet as one
        # key, which the reducer sums.
        for word, count in self.counts.items():
            yield word.decode("utf-8", "replace"), count
        self.increment_counter("wordcount", "distinct_words_per_map", len(self.counts))

    def reducer(self, word, counts):
        yield word, sum(counts)
