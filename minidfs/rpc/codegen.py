"""Regenerates the protobuf / gRPC Python code from protos/.

The .proto files under protos/<package>/rpc/ are compiled into <package>/rpc/ of
this repository (never a top-level module), so `import minidfs.rpc.common_pb2`
works wherever the project is installed. Run it with `./dev protos` (or
`python -m minidfs.rpc.codegen`). tests/unit/test_codegen.py regenerates into a
temporary folder and fails when the committed code is stale.
"""
from __future__ import annotations

import argparse
import pathlib
import sys

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
PROTO_ROOT = REPO_ROOT / "protos"


def proto_files() -> list[pathlib.Path]:
    return sorted(PROTO_ROOT.glob("*/rpc/*.proto"))


def generate(out_dir: pathlib.Path) -> None:
    """Compiles every proto into out_dir/<package>/rpc/."""
    import grpc_tools
    from grpc_tools import protoc

    well_known = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    files = [str(p.relative_to(PROTO_ROOT)) for p in proto_files()]
    for rel in files:
        (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


def generated_files(root: pathlib.Path) -> dict[str, bytes]:
    """Relative path -> content of every generated module under root."""
    found = {}
    for proto in proto_files():
        rel = proto.relative_to(PROTO_ROOT).with_suffix("")
        for suffix in ("_pb2.py", "_pb2_grpc.py"):
            path = root / rel.parent / (rel.name + suffix)
            found[str(path.relative_to(root))] = path.read_bytes() if path.exists() else b""
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    generate(REPO_ROOT)
    print(f"generated {len(proto_files())} protos into their packages", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
