"""The JSON shapes of WebHDFS answers (Apache's names and nesting). Pure.

Every FileStatus carries the fields Hadoop's own client requires (length, accessTime,
modificationTime, blockSize, replication, pathSuffix, type) plus owner, group,
permission and childrenNum. minidfs keeps no access times (as HDFS with
dfs.namenode.accesstime.precision = 0, accessTime is 0) and no inode ids, so fileId
is left out, which Hadoop reads as "no id" (its GRANDFATHER_INODE_ID).
"""
from __future__ import annotations

from typing import Any, NamedTuple

from minidfs.namenode.views import FileView, LocatedBlockView, NodeRef

# HDFS's default (HOT) storage policy id, and the only storage type minidfs has.
STORAGE_POLICY_HOT = 7
STORAGE_TYPE = "DISK"
BLOCK_POOL_ID = "BP-minidfs"


class Ownership(NamedTuple):
    owner: str
    group: str
    permission: str      # octal digits, as Apache sends them ("755")


def file_status(view: FileView, suffix: str, owner: Ownership, children: int) -> dict[str, Any]:
    return {
        "accessTime": 0,
        "blockSize": view.block_size,
        "childrenNum": children,
        "group": owner.group,
        "length": view.length,
        "modificationTime": view.mtime_ms,
        "owner": owner.owner,
        "pathSuffix": suffix,
        "permission": owner.permission,
        "replication": view.replication,
        "storagePolicy": 0 if view.is_dir else STORAGE_POLICY_HOT,
        "type": "DIRECTORY" if view.is_dir else "FILE",
    }


def content_summary(length: int, files: int, directories: int, consumed: int,
                    quota: int = -1, space_quota: int = -1) -> dict[str, Any]:
    """Apache's shape: quota / spaceQuota are -1 where the directory has none."""
    return {"ContentSummary": {
        "directoryCount": directories, "fileCount": files, "length": length,
        "quota": quota, "spaceConsumed": consumed, "spaceQuota": space_quota, "typeQuota": {}}}


def quota_usage(names: int, quota: int, consumed: int, space_quota: int) -> dict[str, Any]:
    """GETQUOTAUSAGE, Apache's shape."""
    return {"QuotaUsage": {"fileAndDirectoryCount": names, "quota": quota,
                           "spaceConsumed": consumed, "spaceQuota": space_quota,
                           "typeQuota": {}}}


def _host(address: str) -> str:
    return address.rsplit(":", 1)[0]


def block_locations(blocks: list[LocatedBlockView]) -> dict[str, Any]:
    """GETFILEBLOCKLOCATIONS: hosts name the DataNodes' hosts (Spark's locality)."""
    return {"BlockLocations": {"BlockLocation": [{
        "cachedHosts": [],
        "corrupt": b.corrupt,
        "hosts": [_host(r.address) for r in b.locations],
        "length": b.length,
        "names": [r.address for r in b.locations],
        "offset": b.offset,
        "storageTypes": [STORAGE_TYPE] * len(b.locations),
        "topologyPaths": [f"{r.rack.rstrip('/')}/{r.address}" for r in b.locations],
    } for b in blocks]}}


def _datanode_info(ref: NodeRef, http_address: str) -> dict[str, Any]:
    host, _, port = ref.address.rpartition(":")
    http_port = int(http_address.rpartition(":")[2]) if http_address else 0
    return {
        "adminState": "NORMAL", "blockPoolUsed": 0, "cacheCapacity": 0, "cacheUsed": 0,
        "capacity": 0, "dfsUsed": 0, "hostName": host, "infoPort": http_port,
        "infoSecurePort": 0, "ipAddr": host, "ipcPort": int(port), "lastUpdate": 0,
        "networkLocation": ref.rack, "remaining": 0, "storageID": ref.name,
        "datanodeUuid": ref.name, "xceiverCount": 0, "xferPort": int(port),
    }


def _located_block(b: LocatedBlockView, http_of: dict[str, str]) -> dict[str, Any]:
    return {
        "block": {"blockId": b.block_id, "blockPoolId": BLOCK_POOL_ID,
                  "generationStamp": b.genstamp, "numBytes": b.length},
        "blockToken": {"urlString": ""},
        "cachedLocations": [],
        "isCorrupt": b.corrupt,
        "locations": [_datanode_info(r, http_of.get(r.name, "")) for r in b.locations],
        "startOffset": b.offset,
        "storageTypes": [STORAGE_TYPE] * len(b.locations),
    }


def located_blocks(file_length: int, blocks: list[LocatedBlockView], under_construction: bool,
                   http_of: dict[str, str]) -> dict[str, Any]:
    """GET_BLOCK_LOCATIONS: the older, HDFS-internal LocatedBlocks shape."""
    shaped = [_located_block(b, http_of) for b in blocks]
    return {"LocatedBlocks": {
        "fileLength": file_length,
        "isLastBlockComplete": not under_construction,
        "isUnderConstruction": under_construction,
        "lastLocatedBlock": shaped[-1] if shaped else None,
        "locatedBlocks": shaped,
    }}


def server_defaults(block_size: int, replication: int, bytes_per_checksum: int,
                    packet_size: int) -> dict[str, Any]:
    return {"FsServerDefaults": {
        "blockSize": block_size, "bytesPerChecksum": bytes_per_checksum,
        "writePacketSize": packet_size, "replication": replication,
        "fileBufferSize": 4096, "encryptDataTransfer": False, "trashInterval": 0,
        # Hadoop's DataChecksum.Type ids: CRC32 = 1 (GETFILECHECKSUM's algorithm).
        "checksumType": 1, "keyProviderUri": "", "defaultStoragePolicyId": STORAGE_POLICY_HOT,
    }}


def boolean(value: bool) -> dict[str, Any]:
    return {"boolean": value}
