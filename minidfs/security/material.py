"""Every certificate a cluster needs, issued from its CA in one step.

Called by `minidfs cluster up --secure` (cluster/local.py) for a local home and by
`minidfs cert init` for a multi-host cluster (docs/security.md "Across hosts"): for
every node of cluster.toml a cert dir with the node's hosts as SANs, the block keys'
master secret in every NameNode's cert dir, and a cert dir per named user. What
exists is kept, so it is safe to run again after adding nodes.
"""
from __future__ import annotations

import os
import pathlib

from minidfs import config
from minidfs.security import credentials, namenode_tokens, pki


def issue_cluster_material(conf: config.ClusterConfig, users: list[str]) -> list[pathlib.Path]:
    """Issues what is missing under conf's home; returns the cert dirs written."""
    home = conf.home
    ca = pki.CertificateAuthority.load_or_create(home)
    written = []
    for node in conf.nodes.values():
        out = credentials.daemon_cert_dir(conf, node)
        if not (out / pki.CERT_FILE).exists():
            hosts = pki.daemon_hosts(node.host)
            if node.http_address:
                hosts += pki.daemon_hosts(node.http_address.rpartition(":")[0])
            written.append(ca.write_cert_dir(out, f"{node.kind}:{node.name}", hosts))
    for node in conf.of_kind("jobtracker"):
        out = credentials.daemon_cert_dir(conf, node)
        if not (out / pki.JOB_CA_KEY).exists():
            cert_pem, key_pem = ca.issue_job_ca()
            pki.write_private(out / pki.JOB_CA_KEY, key_pem)
            (out / pki.JOB_CA_CERT).write_bytes(cert_pem)
    master_path = pki.pki_dir(home) / namenode_tokens.MASTER_FILE
    if not master_path.exists():
        pki.write_private(master_path, os.urandom(namenode_tokens.MASTER_BYTES))
    for node in conf.namenodes:
        copy = credentials.daemon_cert_dir(conf, node) / namenode_tokens.MASTER_FILE
        if not copy.exists():
            pki.write_private(copy, master_path.read_bytes())
    for user in dict.fromkeys(users):
        out = pki.user_cert_dir(home, user)
        if not (out / pki.CERT_FILE).exists():
            written.append(ca.write_cert_dir(out, f"user:{user}"))
    return written
