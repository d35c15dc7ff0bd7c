"""`minidfs cert init` (the CA and every daemon's cert dir for cluster.toml) and
`minidfs cert create-user NAME [--out DIR]` (a user certificate signed by the
cluster CA): secure mode's key material, docs/security.md.

Registered on the root group by minidfs/cli/main.py. Needs the CA's key, so it runs
where the CA lives (the home of `cluster up --secure`, or the CA host of a
multi-host cluster); the cert dir it writes is what `--cert-dir` /
$MINIDFS_CERT_DIR take: cert.pem, key.pem (0600) and ca.crt.
"""
from __future__ import annotations

import pathlib

import click

from minidfs import fsmode
from minidfs.cli.common import reports_errors, state
from minidfs.security import layout


@click.group("cert")
def cert_group() -> None:
    """Secure mode: issue certificates from the cluster CA."""


def _home() -> pathlib.Path:
    s = state()
    return s.conf_path.resolve().parent


@cert_group.command("init")
@reports_errors
def init() -> None:
    """Make the CA (once) and every daemon's cert dir for the cluster file, plus one
    for you (the superuser): the material to copy to each host."""
    from minidfs import config, identity
    from minidfs.security import material

    conf = config.load(state().conf_path)
    for path in material.issue_cluster_material(conf, [identity.process_user()]):
        click.echo(str(path.resolve()))


@cert_group.command("create-user")
@click.argument("name")
@click.option("--out", type=click.Path(file_okay=False),
              help="Cert dir to write [default: <home>/pki/users/NAME].")
@click.option("--days", type=click.FloatRange(min=0, min_open=True),
              default=layout.CERT_VALID_DAYS, show_default=True,
              help="Days the certificate is valid.")
@reports_errors
def create_user(name: str, out: str | None, days: float) -> None:
    """Issue a certificate for user NAME (subject user:NAME)."""
    from minidfs.security import pki

    fsmode.check_name(name, "user")
    home = _home()
    ca = pki.CertificateAuthority.load(home)
    target = pathlib.Path(out) if out else pki.user_cert_dir(home, name)
    if (target / pki.CERT_FILE).exists():
        raise FileExistsError(17, "File exists", str(target / pki.CERT_FILE))
    ca.write_cert_dir(target, f"user:{name}", valid_days=days)
    click.echo(str(target.resolve()))
