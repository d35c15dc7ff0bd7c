"""`minidfs cluster chaos`: a seeded fault-injection run with a checker (docs/chaos.md).

A thin layer over cluster.chaos.runner: parses the options, runs against the local
cluster in the home, prints the timeline and verdict (or the JSON report) and exits
0 when nothing acknowledged was lost, 1 otherwise.
"""
from __future__ import annotations

import re

import click

from minidfs.cli import format as fmt
from minidfs.cli.cluster_commands import _attach, cluster_group, home_option
from minidfs.cli.common import reports_errors

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|m)?$")
MAX_DURATION_S = 24 * 3600.0


class DurationType(click.ParamType):
    """`60`, `60s`, `2m` → seconds."""
    name = "DURATION"

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)):
            return float(value)
        match = _DURATION.match(str(value).strip())
        if not match:
            self.fail(f"{value!r}: a duration like 60s or 2m", param, ctx)
        seconds = float(match.group(1)) * (60 if match.group(2) == "m" else 1)
        if not 5 <= seconds <= MAX_DURATION_S:
            self.fail(f"{value!r}: between 5 s and 24 h", param, ctx)
        return seconds


@cluster_group.command()
@home_option
@click.option("--duration", type=DurationType(), default="60s", show_default=True)
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=None,
              help="Same seed, same fault schedule [default: random, printed].")
@click.option("--faults", default="kill,pause,restart,disk-full,corrupt", show_default=True,
              help="Comma list of kill, pause, restart, partition, disk-full, corrupt.")
@click.option("--rate", "rate_per_min", type=click.FloatRange(0, 600), default=12.0,
              show_default=True, help="Faults per minute (mean).")
@click.option("--workload", default="storage", show_default=True,
              help="Comma list of storage, mapreduce.")
@click.option("--brutal", is_flag=True,
              help="Allow more faults at once than the cluster promises to survive.")
@click.option("--recovery-timeout", "recovery_timeout_s", type=DurationType(),
              default="120s", show_default=True,
              help="How long fsck may take to say HEALTHY after the faults stop.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@reports_errors
def chaos(home, duration, seed, faults, rate_per_min, workload, brutal, recovery_timeout_s,
          as_json) -> None:
    """Inject seeded faults under load, then check that nothing acknowledged was lost."""
    import random

    from cluster.chaos import runner, schedule

    try:
        kinds = schedule.parse_faults(faults)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--faults") from None
    workloads = tuple(w.strip() for w in workload.split(",") if w.strip())
    if not workloads or any(w not in runner.WORKLOADS for w in workloads):
        raise click.BadParameter(f"{workload!r}: a comma list of "
                                 f"{', '.join(runner.WORKLOADS)}", param_hint="--workload")
    if "partition" in kinds:
        raise click.BadParameter("partition is not available on this machine (its kernel "
                                 "has no packet filter; see docs/chaos.md)",
                                 param_hint="--faults")
    if seed is None:
        seed = random.SystemRandom().randrange(1, 10**9)
    local = _attach(home)
    options = runner.Options(duration_s=duration, seed=seed, faults=kinds,
                             rate_per_min=rate_per_min, workloads=workloads, brutal=brutal,
                             recovery_timeout_s=recovery_timeout_s)
    log_path = local.home.root / "logs" / f"chaos-{seed}.log"
    click.echo(f"chaos: seed {seed}, {duration:g} s; client and nemesis log: {log_path}", err=True)
    with runner.logging_to(log_path):
        report = runner.run(local, options)
    report["log"] = str(log_path)
    if as_json:
        click.echo(fmt.to_json(report))
    else:
        for line in runner.text_lines(report):
            click.echo(line)
    if report["verdict"] != "ok":
        click.get_current_context().exit(1)
