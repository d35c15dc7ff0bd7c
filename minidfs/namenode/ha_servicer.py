"""The HA calls of the client service: GetHaStatus, TransitionToStandby and Msync.

server.py registers this subclass of ClientNamenodeServicer, so the HA calls sit
beside the namespace calls in one ClientNamenode service (one proto per
conversation) without touching the namespace translator. Both calls are exempt
from the active guard (active_guard.py): a standby answers them too. Without HA
the NameNode reports itself as the always-active Primary at epoch 0.
"""
from __future__ import annotations

from minidfs import errors
from minidfs.namenode.client_ops import ClientOperations
from minidfs.namenode.client_servicer import ClientNamenodeServicer
from minidfs.namenode.ha_controller import HaController
from minidfs.namenode.ha_state import PRIMARY
from minidfs.namenode.permission_checker import check_super
from minidfs.rpc import client_namenode_pb2 as pb
from minidfs.rpc.status import rpc_errors


class HaClientNamenodeServicer(ClientNamenodeServicer):
    def __init__(self, ops: ClientOperations, name: str,
                 controller: HaController | None) -> None:
        super().__init__(ops)
        self.name = name
        self.controller = controller

    def _status(self) -> pb.HaStatus:
        if self.controller is not None:
            return pb.HaStatus(**self.controller.status())
        fs = self.ops.fs
        return pb.HaStatus(name=self.name, ha=False, role=fs.ha.role, state=PRIMARY,
                           epoch=fs.ha.epoch, last_txid=fs.txid,
                           journal_committed_txid=fs.journal.synced_txid,
                           checkpoint_txid=fs.checkpoint_txid, safe_mode=fs.safemode.on)

    @rpc_errors
    async def GetHaStatus(self, request, context):
        return self._status()

    @rpc_errors
    async def Msync(self, request, context):
        # Reaches here on the serving active only: the guards refuse it elsewhere.
        return pb.MsyncResponse(txid=self.ops.fs.journal.synced_txid, namenode=self.name)

    @rpc_errors
    async def TransitionToStandby(self, request, context):
        check_super(self._caller(context), "failover")
        if self.controller is None:
            raise errors.PreconditionFailed(f"{self.name}: not an HA namenode (ha = false)")
        await self.controller.hand_over()
        return self._status()
