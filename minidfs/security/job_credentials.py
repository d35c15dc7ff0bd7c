"""The JobTracker's side of jobs that run as their user: a certificate per job.

Set on the JobTracker servicer by mapreduce/jobtracker/server.py in secure mode.
When a Worker fetches a job's package it also gets the job's own certificate,
`job:<job id>:<user>`, issued by the JobTracker's intermediate job CA (made by
`cluster up --secure` / `cert init`, docs/security.md), valid for
JOB_CERT_VALID_S. Tasks act with it and nothing else: on the NameNode and the
DataNodes as the job's user (permissions, block tokens), on the JobTracker and
the shuffle only for their own job (peer.check_job); never with a Worker's key.
The JobTracker is already trusted to act for users (a proxy user), so the job CA
grants it nothing new; peer.py refuses any other subject the job CA might sign.
"""
from __future__ import annotations

import datetime
import threading

from minidfs.config import ClusterConfig, NodeConfig
from minidfs.security import credentials, pki

# A job's certificate outlives any sane job; a job still running after it needs
# its package fetched again (a new Worker, a JobTracker restart) to get a new one.
JOB_CERT_VALID_S = 24 * 3600
MAX_CACHED_JOBS = 10_000


class JobCredentials:
    def __init__(self, job_ca: pki.CertificateAuthority) -> None:
        self.job_ca = job_ca
        self._issued: dict[tuple[str, str], tuple[bytes, bytes]] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_node(cls, conf: ClusterConfig, node: NodeConfig) -> "JobCredentials":
        cert_dir = credentials.daemon_cert_dir(conf, node)
        credentials.check_private(cert_dir / pki.JOB_CA_KEY)
        return cls(pki.CertificateAuthority.load_job_ca(cert_dir))

    def for_job(self, job_id: str, user: str) -> tuple[bytes, bytes]:
        """(certificate chain PEM, key PEM) of the job's tasks; one per job."""
        with self._lock:
            key = (job_id, user)
            if key not in self._issued:
                if len(self._issued) >= MAX_CACHED_JOBS:
                    self._issued.pop(next(iter(self._issued)))
                end = (datetime.datetime.now(datetime.timezone.utc)
                       + datetime.timedelta(seconds=JOB_CERT_VALID_S))
                self._issued[key] = self.job_ca.issue(f"job:{job_id}:{user}",
                                                      not_valid_after=end)
            return self._issued[key]
