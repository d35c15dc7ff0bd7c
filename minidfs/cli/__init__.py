"""The `minidfs` shell: file commands, `cluster ...` and `daemon ...` (see docs/shell.md).
The console script runs minidfs.cli.main:main."""
