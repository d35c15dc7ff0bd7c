"""`cluster up --observers N`: nn3.. get role observer and a fresh cluster id is
written; --observers without --ha is a usage error (exit 2); cluster.toml round trip."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from cluster.layout import Home, plan
from minidfs import config
from minidfs.cli.main import cli
from minidfs.errors import ConfigError


def test_plan_names_observers_and_a_cluster_id(tmp_path) -> None:
    conf = plan(Home(tmp_path), datanodes=1, workers=0, ha=True, block_size=None,
                replication=1, settings={}, observers=2)
    assert [n.name for n in conf.namenodes] == ["nn1", "nn2", "nn3", "nn4"]
    assert [n.name for n in conf.observers] == ["nn3", "nn4"]
    assert [n.name for n in conf.writable_namenodes] == ["nn1", "nn2"]
    assert conf.settings.cluster_id.startswith("CID-")
    other = plan(Home(tmp_path), datanodes=1, workers=0, ha=True, block_size=None,
                 replication=1, settings={})
    assert other.settings.cluster_id != conf.settings.cluster_id and not other.observers
    config.save(conf, tmp_path / "cluster.toml")
    again = config.load(tmp_path / "cluster.toml")
    assert [n.name for n in again.observers] == ["nn3", "nn4"]
    assert again.settings.cluster_id == conf.settings.cluster_id
    with pytest.raises(ConfigError, match="needs --ha"):
        plan(Home(tmp_path), datanodes=1, workers=0, ha=False, block_size=None,
             replication=1, settings={}, observers=1)


def test_observers_without_ha_is_a_usage_error(tmp_path) -> None:
    result = CliRunner().invoke(cli, ["cluster", "up", "--home", str(tmp_path / "h"),
                                      "--observers", "1"])
    assert result.exit_code == 2
    assert "--observers needs --ha" in result.output
    assert not (tmp_path / "h" / "cluster.toml").exists()
