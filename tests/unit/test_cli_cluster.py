"""The local launcher's pieces that need no daemons: the planned cluster.toml,
pid files, process states and signal guards."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cluster import layout, processes, readiness
from cluster.local import LocalCluster
from minidfs import config
from minidfs.errors import ClusterError, ConfigError


def test_plan_names_ports_settings(tmp_path):
    home = layout.Home(tmp_path)
    conf = layout.plan(home, datanodes=3, workers=2, ha=False, block_size=65536,
                       replication=2, settings={"lease_soft_limit_s": 5.0})
    assert list(conf.nodes) == ["nn1", "dn1", "dn2", "dn3", "jt", "w1", "w2"]
    assert [n.kind for n in conf.nodes.values()] == [
        "namenode", "datanode", "datanode", "datanode", "jobtracker", "worker", "worker"]
    ports = [n.port for n in conf.nodes.values()]
    assert len(set(ports)) == len(ports)
    assert all(n.host == "127.0.0.1" for n in conf.nodes.values())
    assert conf.nodes["dn2"].data_dir == tmp_path / "nodes" / "dn2"
    s = conf.settings
    assert (s.block_size_bytes, s.replication, s.lease_soft_limit_s) == (65536, 2, 5.0)
    assert (s.dead_node_interval_s, s.heartbeat_interval_s) == (8.0, 1.0)
    config.save(conf, home.conf_path)
    again = config.load(home.conf_path)
    assert {n: v.address for n, v in again.nodes.items()} == \
        {n: v.address for n, v in conf.nodes.items()}
    assert again.nodes["dn2"].data_dir == tmp_path / "nodes" / "dn2"


def test_plan_ha_and_limits(tmp_path):
    home = layout.Home(tmp_path)
    conf = layout.plan(home, datanodes=1, workers=0, ha=True, block_size=None,
                       replication=1, settings={})
    assert list(conf.nodes) == ["jn1", "jn2", "jn3", "nn1", "nn2", "dn1"]
    assert conf.settings.ha and conf.settings.block_size_bytes == config.Settings().block_size_bytes
    with pytest.raises(ConfigError):
        layout.plan(home, datanodes=0, workers=0, ha=False, block_size=None, replication=3,
                    settings={})
    with pytest.raises(ConfigError, match="not a cluster setting"):
        layout.plan(home, datanodes=1, workers=0, ha=False, block_size=None, replication=3,
                    settings={"heartbeat_s": 1})


def test_pid_files_and_states(tmp_path):
    path = tmp_path / "x.pid"
    assert processes.read_pid(path) is None
    processes.write_pid(path, 1234)
    assert processes.read_pid(path) == 1234
    path.write_text("garbage")
    assert processes.read_pid(path) is None
    assert processes.process_state(None, "dn1") == processes.STOPPED
    # A live process that is not our daemon (this test) counts as stopped and is never signalled.
    assert processes.process_state(os.getpid(), "dn1") == processes.STOPPED
    assert not processes.send(os.getpid(), "dn1", processes.SIGNALS["CONT"])


def test_state_of_a_daemon_like_process(tmp_path):
    script = "import time; time.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", script, "daemon", "--id", "dn7"])
    try:
        assert processes.process_state(child.pid, "dn7") == processes.RUNNING
        # Until it has exec'd, our own child counts as any daemon-to-be (see
        # _is_our_daemon); on a loaded machine that can take a while.
        for _ in range(250):
            if "--id" in processes.psutil.Process(child.pid).cmdline():
                break
            processes.time.sleep(0.02)
        assert processes.process_state(child.pid, "dn8") == processes.STOPPED
        assert processes.send(child.pid, "dn7", processes.SIGNALS["STOP"])
        for _ in range(100):
            if processes.process_state(child.pid, "dn7") == processes.PAUSED:
                break
            processes.time.sleep(0.02)
        assert processes.process_state(child.pid, "dn7") == processes.PAUSED
        processes.send(child.pid, "dn7", processes.SIGNALS["CONT"])
        processes.send(child.pid, "dn7", processes.SIGNALS["KILL"])
        assert processes.wait_stopped({"dn7": child.pid}, 5) == {}
    finally:
        child.kill()
        child.wait()


def test_a_zombie_main_thread_with_live_threads_is_not_stopped(tmp_path, monkeypatch):
    """A killed multi-threaded daemon's main thread turns zombie before its other
    threads have exited, and its listening socket closes only with the last one: a
    restart that took the zombie for stopped found the dying daemon's port open and
    called the new one ready before it had bound it. Here the main thread exits on
    its own (pthread_exit) while a thread keeps a socket listening."""
    if not os.path.isdir("/proc/self/task"):
        pytest.skip("needs Linux /proc")
    script = (
        "import ctypes, socket, sys, threading, time\n"
        "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
        "print(s.getsockname()[1], flush=True)\n"
        "threading.Thread(target=time.sleep, args=(60,)).start()\n"
        "ctypes.CDLL(None).pthread_exit(None)\n")
    child = subprocess.Popen([sys.executable, "-c", script, "daemon", "--id", "dn7"],
                             stdout=subprocess.PIPE)
    try:
        port = int(child.stdout.readline())
        for _ in range(250):
            if processes.psutil.Process(child.pid).status() == processes.psutil.STATUS_ZOMBIE:
                break
            processes.time.sleep(0.02)
        assert processes.psutil.Process(child.pid).status() == processes.psutil.STATUS_ZOMBIE
        assert processes.process_state(child.pid, "dn7") == processes.RUNNING
        assert processes.wait_stopped({"dn7": child.pid}, 0.2) == {"dn7": child.pid}
        assert readiness.port_open(f"127.0.0.1:{port}")
        # Exiting, and no longer provably ours: send() signals nothing.
        assert processes.send(child.pid, "dn7", processes.SIGNALS["KILL"])
        assert processes.wait_stopped({"dn7": child.pid}, 0.2) == {"dn7": child.pid}
        # The race a kill meets: still running at the status read, a zombie by the
        # command-line read (psutil raises ZombieProcess). Counted stopped, `kill`
        # returned and the next `start` found the node "already running".
        real = processes.psutil.Process

        class TurnsZombie(real):
            def status(self):
                return processes.psutil.STATUS_RUNNING

            def cmdline(self):
                raise processes.psutil.ZombieProcess(self.pid)

        monkeypatch.setattr(processes.psutil, "Process", TurnsZombie)
        assert processes.process_state(child.pid, "dn7") == processes.RUNNING
        monkeypatch.setattr(processes.psutil, "Process", real)
        os.kill(child.pid, processes.SIGNALS["KILL"])
        assert processes.wait_stopped({"dn7": child.pid}, 5) == {}
        assert not readiness.port_open(f"127.0.0.1:{port}")
    finally:
        child.kill()
        child.wait()


def test_signal_names():
    assert processes.signal_name("kill") == processes.signal_name("SIGKILL") == "KILL"
    assert processes.signal_name(processes.SIGNALS["STOP"]) == "STOP"
    with pytest.raises(ClusterError, match="unknown signal"):
        processes.signal_name("HUP")


def test_log_tail(tmp_path):
    path = tmp_path / "a.log"
    path.write_text("".join(f"line {i}\n" for i in range(100)))
    assert processes.log_tail(path, 3) == "line 97\nline 98\nline 99"
    assert processes.log_tail(tmp_path / "none.log") == ""


def test_attach_needs_a_cluster(tmp_path):
    with pytest.raises(ClusterError, match="no cluster here"):
        LocalCluster.attach(tmp_path)
    LocalCluster(tmp_path).down()  # nothing there: nothing to do
