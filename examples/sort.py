"""Total-order sort of text lines: part-00000, part-00001, ... concatenated are sorted.

Before submitting, `run` samples lines from evenly spaced splits of the input
(mapreduce.sampling, Hadoop's InputSampler), picks reducers-1 cut points and ships
them as the file sort_boundaries.json; the partitioner sends each line to the range
it falls in (Hadoop's TotalOrderPartitioner). Lines sort by their str order
(code points); duplicates are kept.

    mapreduce run examples/sort.py --input /data --output /sorted --reducers 4
"""
import json
import os
import tempfile

from mapreduce import Job, keys, sampling

BOUNDARIES_FILE = "sort_boundaries.json"


class TotalOrderSort(Job):
    samples = 2000

    def mapper(self, offset, line):
        yield line, None

    def reducer(self, line, nothing):
        for _ in nothing:
            yield line, None

    def partitioner(self, line, num_reducers):
        if not hasattr(self, "_cuts"):
            with open(self.file_path(BOUNDARIES_FILE), encoding="utf-8") as f:
                self._boundaries = json.load(f)
            self._cuts = [keys.sort_key(b) for b in self._boundaries]
        return sampling.range_partition(line, self._boundaries, num_reducers, self._cuts)

    def run(self, input, output, reducers=1, runner="cluster", conf=None, files=(), **kwargs):
        fs = sampling.filesystem(runner, conf)
        sample = sampling.sample_lines(fs, input, self.samples,
                                       split_size_bytes=_split_size(runner, kwargs))
        boundaries = sampling.range_boundaries(sample, max(1, reducers))
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, BOUNDARIES_FILE)
            with open(path, "w", encoding="utf-8") as f:
                json.dump(boundaries, f)
            return super().run(input, output, reducers=reducers, runner=runner, conf=conf,
                               files=[*files, path], **kwargs)


def _split_size(runner, kwargs):
    from minidfs.sizes import parse_size

    size = kwargs.get("split_size")
    return parse_size(size) if runner == "inline" and size is not None else None
