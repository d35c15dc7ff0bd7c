"""Word count, the textbook way: the mapper emits (word, 1), the combiner and the
reducer sum. Words are whitespace-separated tokens, case kept.

    mapreduce run examples/wordcount.py --input /books --output /wc --reducers 2
"""
from mapreduce import Job


class WordCount(Job):
    def mapper(self, offset, line):
        for word in line.split():
            yield word, 1

    def combiner(self, word, counts):
        yield word, sum(counts)

    def reducer(self, word, counts):
        yield word, sum(counts)
