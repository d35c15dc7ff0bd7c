"""The key material one process speaks mutual TLS with, loaded fail-closed.

A process acts as one identity in secure mode: a daemon as `datanode:dn3`, a shell or
an application as `user:alice`. Daemons load theirs at start (`for_daemon`); the
Client, the shells and `mapreduce` find theirs through `for_client`: an explicit cert
dir, else $MINIDFS_CERT_DIR, else the superuser's under the cluster's home (the user
who ran `cluster up --secure`). A daemon `install`s its own (its servers and
channels use it); a client `register`s its for the addresses of that cluster only,
so one process can still speak plaintext to a simple-mode cluster. Simple mode
installs nothing. minidfs/rpc/channels.py and http_tls.py consult both.

Missing files, a key readable by group or others, or a certificate that is not a
minidfs subject refuse with one line (SecurityConfigError): never a silent fallback.
"""
from __future__ import annotations

import os
import pathlib
import stat
import threading
from dataclasses import dataclass

from minidfs import config
from minidfs.errors import ConfigError
from minidfs.security import layout as pki
from minidfs.security.policy import Subject, parse_subject

ENV_CERT_DIR = "MINIDFS_CERT_DIR"
SECURE_MODES = ("simple", "tls")


class SecurityConfigError(ConfigError):
    """Key material missing or unsafe: the process refuses to start or to connect."""


@dataclass(frozen=True)
class Credentials:
    cert_dir: pathlib.Path
    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes
    subject: Subject

    @property
    def cert_path(self) -> pathlib.Path:
        return self.cert_dir / pki.CERT_FILE

    @property
    def key_path(self) -> pathlib.Path:
        return self.cert_dir / pki.KEY_FILE

    @property
    def ca_path(self) -> pathlib.Path:
        return self.cert_dir / pki.CA_CERT


def _read(path: pathlib.Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise SecurityConfigError(f"{path}: missing {what} (secure mode needs a cert dir "
                                  "with cert.pem, key.pem and ca.crt)") from None
    except PermissionError:
        raise SecurityConfigError(f"{path}: cannot read {what}: permission denied") from None


def check_private(path: pathlib.Path) -> None:
    """A key (or its folder) that group or others may read is refused, as ssh does."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        raise SecurityConfigError(f"{path}: missing private key") from None
    if mode & 0o077:
        raise SecurityConfigError(
            f"{path}: private key is readable by group or others (mode {mode:o}); "
            f"`chmod 600 {path}`")


def load(cert_dir: str | os.PathLike[str]) -> Credentials:
    """The credentials in a cert dir, checked: files present, key private, subject ours."""
    root = pathlib.Path(cert_dir).expanduser().resolve()
    if not root.is_dir():
        raise SecurityConfigError(f"{root}: no cert dir (issue one with "
                                  "`minidfs cert create-user NAME --out DIR`)")
    cert_pem = _read(root / pki.CERT_FILE, "certificate")
    check_private(root / pki.KEY_FILE)
    key_pem = _read(root / pki.KEY_FILE, "private key")
    ca_pem = _read(root / pki.CA_CERT, "CA certificate")
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        common = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        subject = parse_subject(str(common[0].value) if common else "")
    except ValueError as e:
        raise SecurityConfigError(
            f"{root / pki.CERT_FILE}: not a minidfs certificate: {e}") from None
    return Credentials(root, ca_pem, cert_pem, key_pem, subject)


def is_secure(conf: config.ClusterConfig) -> bool:
    mode = conf.settings.security
    if mode not in SECURE_MODES:
        raise ConfigError(f"cluster: security must be one of {', '.join(SECURE_MODES)}, "
                          f"got {mode!r}")
    return mode == "tls"


def daemon_cert_dir(conf: config.ClusterConfig, node: config.NodeConfig) -> pathlib.Path:
    """A daemon's cert dir: its `cert_dir` in cluster.toml, else the home's pki/nodes/<name>."""
    explicit = node.extra.get("cert_dir")
    if explicit:
        path = pathlib.Path(os.path.expanduser(str(explicit)))
        return path if path.is_absolute() else conf.home / path
    return pki.node_cert_dir(conf.home, node.name)


def for_daemon(conf: config.ClusterConfig, node: config.NodeConfig) -> Credentials:
    """The daemon's own credentials; refuses a certificate of another node or kind."""
    creds = load(daemon_cert_dir(conf, node))
    if creds.subject != Subject(node.kind, node.name):
        raise SecurityConfigError(
            f"{creds.cert_path}: certificate is for {creds.subject}, not {node.kind}:{node.name}")
    return creds


def client_cert_dir(conf: config.ClusterConfig, explicit: str | os.PathLike[str] | None = None
                    ) -> pathlib.Path:
    if explicit:
        return pathlib.Path(explicit)
    from_env = os.environ.get(ENV_CERT_DIR)
    if from_env:
        return pathlib.Path(from_env)
    from minidfs import identity

    return pki.user_cert_dir(conf.home, identity.process_user())


_lock = threading.Lock()
# A daemon's own identity: its servers listen with it and its channels use it.
_process: Credentials | None = None
# A client's identity per cluster address: a test process may talk to a secure and a
# simple cluster in turn, so only the secure cluster's addresses speak TLS.
_by_address: dict[str, Credentials] = {}


def install(creds: Credentials) -> Credentials:
    """Makes `creds` this process's own identity (a daemon's, at start)."""
    global _process
    with _lock:
        if _process is not None and _process.cert_pem != creds.cert_pem:
            raise SecurityConfigError(
                f"this process already acts as {_process.subject}; one identity per process")
        _process = creds
        return creds


def current() -> Credentials | None:
    """The process's own identity: set in a secure daemon, None elsewhere."""
    return _process


def _addresses(conf: config.ClusterConfig) -> list[str]:
    return [a for n in conf.nodes.values() for a in (n.address, n.http_address) if a]


def register(conf: config.ClusterConfig, creds: Credentials) -> Credentials:
    """Calls to `conf`'s nodes from this process use `creds`. A process speaks to one
    cluster as one identity: another certificate for the same cluster is refused rather
    than silently used for the first one's calls."""
    with _lock:
        for address in _addresses(conf):
            known = _by_address.get(address)
            if known is not None and known.cert_pem != creds.cert_pem:
                raise SecurityConfigError(
                    f"this process already speaks to {conf.path} as {known.subject}; one "
                    f"identity per process and cluster (use another process for {creds.subject})")
        for address in _addresses(conf):
            _by_address[address] = creds
    return creds


def unregister(conf: config.ClusterConfig) -> None:
    """Forgets `conf`'s addresses (its cluster stopped; the ports may be reused)."""
    with _lock:
        for address in _addresses(conf):
            _by_address.pop(address, None)


def for_address(address: str) -> Credentials | None:
    """The credentials a call to `address` uses; None = plaintext (simple mode)."""
    return _by_address.get(address) or _process


def for_client(conf: config.ClusterConfig, cert_dir: str | os.PathLike[str] | None = None
               ) -> Credentials | None:
    """The credentials a client of `conf` acts with (None in simple mode): a secure
    daemon's own (it acts for users as a proxy), else the cert dir's."""
    if not is_secure(conf):
        return None
    if _process is not None and cert_dir is None:
        return _process
    return register(conf, load(client_cert_dir(conf, cert_dir)))
