"""Secure mode fails closed: a daemon whose key material is missing, readable by
group or others, or issued to another node refuses to start with one clear line
(`minidfs daemon` as a real process; it never falls back to plaintext)."""
from __future__ import annotations

import os
import subprocess
import sys

from cluster.layout import Home, plan
from minidfs import config
from minidfs.security import pki


def daemon(conf_path, kind, name):
    return subprocess.run([sys.executable, "-m", "minidfs.cli.main", "daemon", kind,
                           "--conf", str(conf_path), "--id", name],
                          capture_output=True, text=True, timeout=60)


def refused(result, name, why):
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"minidfs datanode {name}: "), result.stderr
    assert why in lines[0] and "Traceback" not in result.stderr


def test_missing_loose_or_foreign_key_material_refuses_to_start(tmp_path):
    home = Home(tmp_path)
    conf = plan(home, datanodes=2, workers=0, ha=False, block_size=None, replication=1,
                settings={"security": "tls"})
    home.make_dirs(list(conf.nodes))
    config.save(conf, home.conf_path)
    refused(daemon(home.conf_path, "datanode", "dn1"), "dn1", "no cert dir")
    ca = pki.CertificateAuthority.load_or_create(tmp_path)
    out = ca.write_cert_dir(pki.node_cert_dir(tmp_path, "dn1"), "datanode:dn1", ["127.0.0.1"])
    os.chmod(out / "key.pem", 0o644)
    refused(daemon(home.conf_path, "datanode", "dn1"), "dn1", "readable by group or others")
    os.chmod(out / "key.pem", 0o600)
    ca.write_cert_dir(pki.node_cert_dir(tmp_path, "dn2"), "datanode:dn1", ["127.0.0.1"])
    refused(daemon(home.conf_path, "datanode", "dn2"), "dn2", "not datanode:dn2")


def shell(home, *args):
    return subprocess.run([sys.executable, "-m", "minidfs.cli.main", "--home", str(home), *args],
                          capture_output=True, text=True, timeout=60)


def test_cert_init_issues_every_daemons_material_and_create_user_refuses_twice(tmp_path):
    from cryptography import x509

    home = Home(tmp_path)
    conf = plan(home, datanodes=2, workers=1, ha=True, block_size=None, replication=1,
                settings={"security": "tls"})
    config.save(conf, home.conf_path)
    result = shell(tmp_path, "cert", "init")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == len(conf.nodes) + 1
    for node in conf.nodes.values():
        out = pki.node_cert_dir(tmp_path, node.name)
        assert os.stat(out / "key.pem").st_mode & 0o077 == 0
        cert = x509.load_pem_x509_certificate((out / "cert.pem").read_bytes())
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert node.host in [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
    masters = {(pki.node_cert_dir(tmp_path, n.name) / "block-master.key").read_bytes()
               for n in conf.namenodes}
    assert len(masters) == 1
    assert shell(tmp_path, "cert", "init").stdout == ""          # kept, nothing new
    assert shell(tmp_path, "cert", "create-user", "alice").returncode == 0
    again = shell(tmp_path, "cert", "create-user", "alice")
    assert again.returncode == 1
    assert again.stderr.startswith("minidfs: cert create-user: ") and "file exists" in again.stderr
    assert len(again.stderr.splitlines()) == 1


def test_the_quick_start_works_in_secure_mode():
    result = subprocess.run([sys.executable, "-m", "cluster.quickstart", "--secure", "--size",
                             "1MiB", "--block-size", "256KiB", "--datanodes", "1"],
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "secure mode" in result.stdout and "identical to the original" in result.stdout
