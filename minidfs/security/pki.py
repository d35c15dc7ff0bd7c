"""The cluster's certificate authority and the certificates it issues.

Used by `minidfs cluster up --secure` (cluster/local.py, which makes the CA and a
certificate per daemon and one for the user who ran it), by `minidfs cert
create-user` and by tests that need a certificate from another CA or an expired one.

Layout under a home (docs/security.md):
    pki/                  0700
      ca.crt  ca.key      the CA (key 0600; keep ca.key on one host only)
      nodes/<name>/       a daemon's cert dir
      users/<user>/       a user's cert dir
A cert dir holds `cert.pem`, `key.pem` (0600) and `ca.crt`: everything one process
needs to speak mutual TLS. Keys are EC P-256, as Hadoop's and most service meshes'
defaults today: small, fast handshakes, supported by gRPC's BoringSSL and Python's ssl.
"""
from __future__ import annotations

import datetime
import ipaddress
import os
import pathlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from minidfs.errors import ConfigError

from minidfs.security.layout import (  # noqa: F401  (this module's API too)
    CA_CERT, CA_KEY, CERT_FILE, CERT_VALID_DAYS, JOB_CA_CERT, JOB_CA_CN, JOB_CA_KEY, KEY_FILE,
    PKI_DIR, node_cert_dir, pki_dir, user_cert_dir, write_private)

ORGANIZATION = "minidfs"
CA_VALID_DAYS = 3650
# Clocks of a multi-host cluster drift: a certificate is valid from a little before now.
BACKDATE = datetime.timedelta(minutes=5)


def _private_dir(path: pathlib.Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def _write_public(path: pathlib.Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class CertificateAuthority:
    """A CA key and certificate in memory; `load` / `create` read or make pki/."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate,
                 chain_pem: bytes = b"", root_pem: bytes = b"") -> None:
        self.key = key
        self.cert = cert
        # An intermediate CA's own certificate, sent after each leaf it issues, and
        # the cluster CA that its cert dirs trust.
        self.chain_pem = chain_pem
        self.root_pem = root_pem or _cert_pem(cert)

    @property
    def cert_pem(self) -> bytes:
        return _cert_pem(self.cert)

    @classmethod
    def generate(cls, common_name: str = "minidfs cluster CA") -> "CertificateAuthority":
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
                          x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = _now()
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - BACKDATE)
                .not_valid_after(now + datetime.timedelta(days=CA_VALID_DAYS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
                .add_extension(_CA_USAGE, critical=True)
                .sign(key, hashes.SHA256()))
        return cls(key, cert)

    def issue_job_ca(self) -> tuple[bytes, bytes]:
        """(cert PEM, key PEM) of the JobTracker's intermediate CA (JOB_CA_CN)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
                    x509.NameAttribute(NameOID.COMMON_NAME, JOB_CA_CN)]))
                .issuer_name(self.cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - BACKDATE)
                .not_valid_after(now + datetime.timedelta(days=CERT_VALID_DAYS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(_CA_USAGE, critical=True)
                .sign(self.key, hashes.SHA256()))
        return _cert_pem(cert), _key_pem(key)

    @classmethod
    def load_job_ca(cls, cert_dir: pathlib.Path) -> "CertificateAuthority":
        """The JobTracker's intermediate CA from its cert dir."""
        try:
            key = serialization.load_pem_private_key((cert_dir / JOB_CA_KEY).read_bytes(), None)
            cert_pem = (cert_dir / JOB_CA_CERT).read_bytes()
        except FileNotFoundError as e:
            raise ConfigError(
                f"{e.filename}: no job CA (issue one with `minidfs cert init`)") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ConfigError(f"{cert_dir / JOB_CA_KEY}: not an EC private key")
        root_pem = (cert_dir / CA_CERT).read_bytes() if (cert_dir / CA_CERT).exists() else b""
        return cls(key, x509.load_pem_x509_certificate(cert_pem), chain_pem=cert_pem,
                   root_pem=root_pem)

    @classmethod
    def load(cls, home: pathlib.Path) -> "CertificateAuthority":
        root = pki_dir(home)
        try:
            key_bytes = (root / CA_KEY).read_bytes()
            cert_bytes = (root / CA_CERT).read_bytes()
        except FileNotFoundError as e:
            raise ConfigError(f"{e.filename}: no cluster CA here (make one with "
                              "`minidfs cluster up --secure`)") from None
        key = serialization.load_pem_private_key(key_bytes, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ConfigError(f"{root / CA_KEY}: not an EC private key")
        return cls(key, x509.load_pem_x509_certificate(cert_bytes))

    @classmethod
    def load_or_create(cls, home: pathlib.Path) -> "CertificateAuthority":
        """The home's CA, made (once) when it has none."""
        root = pki_dir(home)
        if (root / CA_KEY).exists():
            return cls.load(home)
        ca = cls.generate()
        ca.save(home)
        return ca

    def save(self, home: pathlib.Path) -> None:
        root = pki_dir(home)
        _private_dir(root)
        write_private(root / CA_KEY, _key_pem(self.key))
        _write_public(root / CA_CERT, self.cert_pem)

    def issue(self, subject: str, hosts: list[str] | tuple[str, ...] = (), *,
              valid_days: float = CERT_VALID_DAYS,
              not_valid_after: datetime.datetime | None = None
              ) -> tuple[bytes, bytes]:
        """(cert PEM, key PEM) for `subject` ("datanode:dn3", "user:alice"), with the
        hosts (names and IP addresses) as subject alternative names. Every certificate
        may act as client and server: daemons are both."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        end = not_valid_after or now + datetime.timedelta(days=valid_days)
        start = min(now - BACKDATE, end - datetime.timedelta(seconds=1))
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([
                       x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
                       x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .issuer_name(self.cert.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(start).not_valid_after(end)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                                  critical=True)
                   .add_extension(x509.ExtendedKeyUsage(
                       [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False))
        names = _alt_names(hosts)
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        return _cert_pem(cert) + self.chain_pem, _key_pem(key)

    def write_cert_dir(self, out: pathlib.Path, subject: str,
                       hosts: list[str] | tuple[str, ...] = (), **validity) -> pathlib.Path:
        """Issues a certificate for `subject` into cert dir `out` (0700, key 0600)."""
        cert_pem, key_pem = self.issue(subject, hosts, **validity)
        _private_dir(out)
        write_private(out / KEY_FILE, key_pem)
        _write_public(out / CERT_FILE, cert_pem)
        _write_public(out / CA_CERT, self.root_pem)
        return out


_CA_USAGE = x509.KeyUsage(
    digital_signature=False, content_commitment=False, key_encipherment=False,
    data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
    encipher_only=False, decipher_only=False)


def issuer_common_name(cert_pem: bytes) -> str:
    """The issuer's common name of the first certificate in cert_pem."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    names = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def _alt_names(hosts) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(h.strip("[]") for h in hosts if h):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def daemon_hosts(host: str) -> list[str]:
    """SANs of a daemon at `host`: the host itself, plus the loopback names when it is
    on loopback (a laptop cluster is reached as 127.0.0.1 and as localhost)."""
    if host in ("127.0.0.1", "localhost", "::1"):
        return [host, "127.0.0.1", "localhost"]
    return [host]
