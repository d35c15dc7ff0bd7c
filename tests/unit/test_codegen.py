"""The committed protobuf / gRPC code must be exactly what protos/ generates."""
import pathlib

from minidfs.rpc import codegen


def test_generated_code_is_fresh(tmp_path: pathlib.Path) -> None:
    codegen.generate(tmp_path)
    fresh = codegen.generated_files(tmp_path)
    committed = codegen.generated_files(codegen.REPO_ROOT)
    stale = sorted(name for name in fresh if fresh[name] != committed.get(name))
    assert not stale, f"stale generated code, run `./dev protos`: {stale}"
    assert fresh, "no protos found"
