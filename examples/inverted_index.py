"""Inverted index: each word -> the sorted list of documents (file base names) that
contain it, written as `word<TAB>["doc-0000.txt","doc-0003.txt"]`.

    mapreduce run examples/inverted_index.py --input /books --output /index
"""
import posixpath

from mapreduce import Job


class InvertedIndex(Job):
    def mapper(self, offset, line):
        document = posixpath.basename(self.input_path.replace("\\", "/"))
        for word in set(line.split()):
            yield word, document

    def combiner(self, word, documents):
        for document in sorted(set(documents)):
            yield word, document

    def reducer(self, word, documents):
        yield word, sorted(set(documents))
