"""Output commit protocol (Hadoop's FileOutputCommitter, version 1).

Used by the inline runner and, on the cluster, by the JobTracker (job setup, commit,
abort) and the Worker's task children (attempt paths and commit). An attempt writes
`<output>/_temporary/<attempt>/part-...`; only the attempt the JobTracker allows to
commit renames it to `<output>/part-...`, so a failed or duplicate (speculative)
attempt leaves nothing behind. The job commit removes `_temporary` and writes
`_SUCCESS`, the mark of a finished job.
"""
from __future__ import annotations

from mapreduce.fs import FileSystem
from minidfs.errors import FileExists

TEMP_DIR = "_temporary"
SUCCESS = "_SUCCESS"


class OutputCommitter:
    def __init__(self, fs: FileSystem, output: str) -> None:
        self.fs = fs
        self.output = output
        self.temp = fs.join(output, TEMP_DIR)

    def check_output(self) -> None:
        if self.fs.exists(self.output):
            raise FileExists(f"{self.output}: output directory already exists")

    def setup_job(self) -> None:
        self.check_output()
        self.fs.mkdirs(self.temp)

    def attempt_dir(self, attempt: str) -> str:
        return self.fs.join(self.temp, attempt)

    def attempt_file(self, attempt: str, part: str) -> str:
        return self.fs.join(self.temp, attempt, part)

    def setup_attempt(self, attempt: str) -> str:
        # Not mkdirs: once the job is committed or aborted _temporary is gone, and a
        # straggling attempt must fail here rather than bring it back.
        self.fs.mkdir(self.attempt_dir(attempt))
        return self.attempt_dir(attempt)

    def commit_attempt(self, attempt: str, part: str) -> str:
        """Moves the attempt's file into the output. Called only with the JobTracker's
        permission, which is exclusive; a file already there is from an attempt that
        was granted commit and then lost, and holds the same records, so it is replaced."""
        final = self.fs.join(self.output, part)
        if self.fs.exists(final):
            self.fs.delete(final)
        self.fs.rename(self.attempt_file(attempt, part), final)
        self.abort_attempt(attempt)
        return final

    def abort_attempt(self, attempt: str) -> None:
        path = self.attempt_dir(attempt)
        if self.fs.exists(path):
            self.fs.delete(path)

    def commit_job(self) -> None:
        if self.fs.exists(self.temp):
            self.fs.delete(self.temp)
        with self.fs.open_write(self.fs.join(self.output, SUCCESS)):
            pass

    def abort_job(self) -> None:
        if self.fs.exists(self.temp):
            self.fs.delete(self.temp)
