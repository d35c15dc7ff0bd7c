"""Where secure mode's key material lives, and how a private file is written.

Shared by pki.py (which makes certificates), credentials.py (which loads them) and
the launcher. Kept apart from pki.py so that reading a cert dir, or running in
simple mode at all, never imports the `cryptography` package (about a second of
start-up on a loaded machine, paid by every shell command and task otherwise).
"""
from __future__ import annotations

import os
import pathlib

PKI_DIR = "pki"
CA_CERT = "ca.crt"
CA_KEY = "ca.key"
CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"
CERT_VALID_DAYS = 365
# The JobTracker's intermediate CA: it issues a job's short-lived `job:<id>:<user>`
# certificate for the job's tasks, and only those (peer.py checks the pairing).
JOB_CA_CN = "minidfs job CA"
JOB_CA_CERT = "job-ca.crt"
JOB_CA_KEY = "job-ca.key"


def pki_dir(home: pathlib.Path) -> pathlib.Path:
    return home / PKI_DIR


def node_cert_dir(home: pathlib.Path, name: str) -> pathlib.Path:
    return pki_dir(home) / "nodes" / name


def user_cert_dir(home: pathlib.Path, user: str) -> pathlib.Path:
    return pki_dir(home) / "users" / user


def write_private(path: pathlib.Path, data: bytes) -> None:
    """Writes a key so that it is never readable by others, not even for a moment."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
