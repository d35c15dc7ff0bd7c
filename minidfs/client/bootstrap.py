"""`minidfs admin ha bootstrap-standby`: a new or wiped NameNode copies the active's image.

HDFS's `hdfs namenode -bootstrapStandby`, run on the host of the NameNode to set up
(it writes into that node's data_dir from cluster.toml) while that NameNode is
stopped: fetch the active's newest checkpoint image over its HTTP face
(web/image_transfer.py), check it (magic, checksum, txid), check that the
JournalNodes still hold every edit after it (else the new standby would find a gap
and could never catch up), then install it in <data_dir>/current/ durably (tmp,
fsync, rename, directory fsync). Started afterwards, the NameNode loads that image
and tails the journal from the next txid as any standby does.

Refuses, with one clear line: not an HA cluster; no active NameNode; the target is
running (its data dir lock is held); the target already has an image (unless
force, which replaces its images); the journal no longer reaches back to the image.
"""
from __future__ import annotations

import fcntl
import os
import pathlib
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import grpc

from minidfs import durable, errors, identity
from minidfs.client.ha_admin import ha_statuses
from minidfs.config import ClusterConfig
from minidfs.namenode import checkpoint
from minidfs.qjournal.segment import DEFAULT_JOURNAL_ID
from minidfs.rpc import channels, journal_pb2, journal_pb2_grpc
from minidfs.web import image_transfer

FETCH_TIMEOUT_S = 120.0
JOURNAL_DEADLINE_S = 5.0
LOCK_NAME = "in_use.lock"   # namenode/server.py's data dir lock


def _running(data_dir: pathlib.Path) -> bool:
    lock = data_dir / LOCK_NAME
    if not lock.exists():
        return False
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _target(conf: ClusterConfig, name: str | None, statuses: list[dict]) -> str:
    names = [n.name for n in conf.namenodes]
    if name is not None:
        if name not in names:
            raise errors.InvalidArgument(f"{name}: not a NameNode of this cluster "
                                         f"({', '.join(names)})")
        return name
    down = [s["name"] for s in statuses if s["role"] == "unreachable"]
    if len(down) != 1:
        raise errors.InvalidArgument("name the NameNode to bootstrap with --id NAME "
                                     f"(stopped NameNodes: {', '.join(down) or 'none'})")
    return down[0]


def fetch_image(http_address: str, user: str) -> tuple[int, bytes]:
    """(txid, image bytes) of the NameNode's newest image; (0, b"") when it has none."""
    query = urllib.parse.urlencode({"getimage": "1", "user.name": user})
    url = f"http://{http_address}{image_transfer.PATH}?{query}"
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_S) as reply:
            txid = int(reply.headers.get(image_transfer.TXID_HEADER, "0"))
            return txid, reply.read()
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return 0, b""
        reason = e.read().decode(errors="replace").strip()
        if e.code == 403:
            raise errors.PermissionDeniedError(reason) from None
        raise errors.Unavailable(f"{http_address}: image transfer failed: {e.code} {reason}") \
            from None
    except (urllib.error.URLError, OSError) as e:
        raise errors.Unavailable(f"{http_address}: image transfer failed: {e}") from None


def journal_reaches(conf: ClusterConfig, after_txid: int) -> bool:
    """Does some JournalNode still hold the edits from after_txid + 1 on (or is there
    nothing after it)?"""
    for node in conf.journalnodes:
        try:
            with channels.sync_channel(node.address) as channel:
                reply = journal_pb2_grpc.JournalStub(channel).GetEditLogManifest(
                    journal_pb2.GetEditLogManifestRequest(
                        journal_id=DEFAULT_JOURNAL_ID, since_txid=after_txid + 1,
                        in_progress_ok=True), timeout=JOURNAL_DEADLINE_S)
        except grpc.RpcError:
            continue
        segments = [s for s in reply.segments if s.last_txid >= s.first_txid]
        if not segments:
            if reply.committed_txid <= after_txid:
                return True
            continue
        if segments[0].first_txid <= after_txid + 1:
            return True
    return False


def bootstrap_standby(conf: ClusterConfig, name: str | None = None, force: bool = False,
                      user: str | None = None) -> dict[str, Any]:
    """{"namenode", "from", "image_txid", "image_bytes"}; raises a MinidfsError when it
    cannot (the reasons in the module docstring)."""
    user = identity.current_user(user)
    if not conf.settings.ha:
        raise errors.PreconditionFailed("bootstrap-standby needs an HA cluster (ha = true)")
    statuses = ha_statuses(conf)
    target = _target(conf, name, statuses)
    active = [s for s in statuses if s["role"] == "active" and s["name"] != target]
    if not active:
        raise errors.Unavailable("no active NameNode to copy the image from")
    source = conf.node(active[0]["name"])
    node = conf.node(target)
    if _running(node.data_dir):
        raise errors.PreconditionFailed(f"{target} is running: stop it first "
                                        f"(minidfs cluster kill {target})")
    current = node.data_dir / "current"
    existing = sorted(current.glob("fsimage_*.img")) if current.is_dir() else []
    if existing and not force:
        raise errors.PreconditionFailed(
            f"{target} already has an image ({existing[-1].name}): --force replaces it")
    if not source.http_address:
        raise errors.ConfigError(f"{source.name}: no http_address to fetch the image from")
    txid, data = fetch_image(source.http_address, user)
    if data:
        _, image_txid = checkpoint.deserialize(data, f"{source.name}'s image")
        if image_txid != txid:
            raise errors.EditLogCorrupt(f"{source.name}'s image holds txid {image_txid}, "
                                        f"not {txid}")
    if not journal_reaches(conf, txid):
        raise errors.PreconditionFailed(
            f"the JournalNodes no longer hold the edits after txid {txid}: let "
            f"{source.name} checkpoint (or restart it) and run bootstrap-standby again")
    current.mkdir(parents=True, exist_ok=True)
    installed = current / checkpoint.image_name(txid)
    if data:
        durable.write_atomic(installed, data)
    for old in existing:     # only once the new image is durable
        if old != installed:
            old.unlink()
    durable.fsync_dir(current)
    return {"namenode": target, "from": source.name, "image_txid": txid,
            "image_bytes": len(data)}
