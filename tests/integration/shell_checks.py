"""Checks of a `minidfs` command's result shared by the shell tests (test_shell.py,
test_limits_shell.py, test_permissions.py): success, or exactly one error line and
exit status 1 with no traceback (the shell's contract, docs/shell.md)."""
from __future__ import annotations


def ok(result):
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def one_error(result, cmd):
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"minidfs: {cmd}: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]
