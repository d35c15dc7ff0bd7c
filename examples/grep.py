"""Distributed grep (the MapReduce paper's example): map emits every matching line,
no reducers needed. Output lines are `path:byte_offset:line`.

The pattern (a Python regular expression) is, in order of precedence:
  - the class attribute `pattern` of a subclass (shipped with the job's source), or
  - the environment variable GREP_PATTERN of the process that submits the job
    (`pass_env` ships it to the tasks, so it works on the cluster too).

    GREP_PATTERN='ka+lo' mapreduce run examples/grep.py --input /books --output /g --reducers 0
"""
import os
import re

from mapreduce import Job


class Grep(Job):
    pattern = None
    pass_env = ("GREP_PATTERN",)

    def mapper_init(self):
        pattern = self.pattern if self.pattern is not None else os.environ.get("GREP_PATTERN")
        if not pattern:
            raise ValueError("grep: set the GREP_PATTERN environment variable or a pattern attribute")
        self.regex = re.compile(pattern)

    def mapper(self, offset, line):
        if self.regex.search(line):
            self.increment_counter("grep", "matching_lines")
            yield (self.input_path, offset), line

    def format_output(self, key, line):
        path, offset = key
        return f"{path}:{offset}:{line}"
