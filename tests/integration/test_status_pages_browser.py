"""The status pages in a real browser: headless Chromium (Debian's /usr/bin/chromium,
driven by Playwright; .ci/run installs both) watches a real cluster heal and a job
finish, without ever reloading the page.

NameNode page: a DataNode is SIGKILLed, its row turns dead, the dead count and the
event feed follow, and every block comes back to full replication (HEALTHY, 0
under-replicated). JobTracker: `mapreduce run` prints the job page's URL, the page
follows the job to success with its attempts. Screenshots go to a temporary folder,
or to docs/screenshots/ with MINIDFS_UPDATE_SCREENSHOTS=1 (how docs/observe.md's
pictures are made).
"""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

CHROMIUM = "/usr/bin/chromium"
# The flags of a browser that talks to nothing but the cluster on 127.0.0.1.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
BLOCK = 64 * 1024
CLUSTER_OPTIONS = {"datanodes": 4, "workers": 1, "block_size": BLOCK,
                   "heartbeat_interval_s": 0.5, "dead_node_interval_s": 3.0}
REPO = pathlib.Path(__file__).resolve().parents[2]
WAIT_MS = 60_000
JOB_START_S = 60

# Skipped on a developer's machine without chromium; in CI (.ci/run installs it) a
# missing browser fails the test instead of hiding it.
pytestmark = pytest.mark.skipif(
    not os.environ.get("CI") and (not os.path.exists(CHROMIUM) or shutil.which("chromium") is None),
    reason="needs Debian's chromium (apt-get install chromium; .ci/run installs it)")


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> pathlib.Path:
    if os.environ.get("MINIDFS_UPDATE_SCREENSHOTS") == "1":
        folder = REPO / "docs" / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


def cell(page, ident: str) -> str:
    return page.inner_text(f"#{ident}").strip()


def dn_state(name: str) -> str:
    return (f"() => {{ const row = [...document.querySelectorAll('#datanodes tbody tr')]"
            f".find(r => r.cells[0].textContent === '{name}');"
            f" return row ? row.cells[1].textContent : ''; }}")


def test_namenode_page_watches_a_datanode_die_and_the_blocks_heal(cluster, fs, browser, shots):
    data = os.urandom(5 * BLOCK)
    fs.mkdir("/watch", parents=True)
    with fs.open("/watch/data.bin", "wb") as f:
        f.write(data)
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    page.goto(f"http://{cluster.conf.node('nn1').http_address}/")
    page.wait_for_function("() => document.getElementById('ov-under_replicated')"
                           ".textContent === '0'", timeout=WAIT_MS)
    assert cell(page, "ov-live_datanodes") == "4"
    page.evaluate("() => { window.notReloaded = true; }")
    page.screenshot(path=str(shots / "namenode.png"), full_page=True)

    cluster.kill("dn4")   # SIGKILL
    page.wait_for_function(f"() => ({dn_state('dn4')})() === 'dead'", timeout=WAIT_MS)
    assert cell(page, "ov-dead_datanodes") == "1"
    page.wait_for_selector("#events .k-datanode_dead", timeout=WAIT_MS)   # pushed by SSE
    page.screenshot(path=str(shots / "namenode-dead.png"), full_page=True)

    page.wait_for_function(
        "() => document.getElementById('ov-under_replicated').textContent === '0'"
        " && document.getElementById('ov-health').textContent === 'HEALTHY'", timeout=WAIT_MS)
    page.wait_for_selector("#events .k-replica_copied", timeout=WAIT_MS)
    assert page.evaluate("() => window.notReloaded") is True
    assert cell(page, "ov-dead_datanodes") == "1" and cell(page, "ov-missing") == "0"
    page.screenshot(path=str(shots / "namenode-healed.png"), full_page=True)
    for block in fs.stat("/watch/data.bin")["blocks"]:
        assert len(block["locations"]) == 3 and "dn4" not in block["locations"]

    page.click("text=Browse the file system")
    page.click("a[href='/explorer?path=/watch']")
    page.click("a[href='/explorer?path=/watch/data.bin']")
    assert page.locator("#blocks tbody tr").count() == 5
    assert "Ready" in page.inner_text("#blocks")
    page.screenshot(path=str(shots / "file-browser.png"), full_page=True)
    page.close()


def test_job_page_follows_a_job_to_success(cluster, fs, browser, shots):
    lines = "".join(f"the quick brown fox {i % 7} jumps over the lazy dog\n" for i in range(4000))
    with fs.open("/watch/words.txt", "wb") as f:
        f.write(lines.encode())
    run = subprocess.Popen(
        [sys.executable, "-m", "mapreduce.cli", "run", "examples/wordcount.py", "--input",
         "/watch/words.txt", "--output", "/watch/wc", "--reducers", "2",
         "--conf", str(cluster.conf_path)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    try:
        url = ""
        for line in run.stderr:      # the URL comes right after the submission
            if line.startswith("The url to track the job: "):
                url = line.split(": ", 1)[1].strip()
                break
        assert url.startswith(f"http://{cluster.conf.node('jt').http_address}/job/job_"), url
        page.goto(url)
        page.evaluate("() => { window.notReloaded = true; }")
        page.wait_for_function("() => document.body.dataset.state === 'succeeded'",
                               timeout=WAIT_MS)
        assert page.evaluate("() => window.notReloaded") is True
        assert cell(page, "job-state") == "succeeded"
        assert cell(page, "map-pct") == "100%" and cell(page, "reduce-pct") == "100%"
        assert cell(page, "reduces-done") == "2 / 2"
        attempts = page.inner_text("#attempts")
        assert "succeeded" in attempts and "w1" in attempts
        assert "map_input_records" in page.inner_text("#counters")
        page.screenshot(path=str(shots / "job.png"), full_page=True)
        page.goto(f"http://{cluster.conf.node('jt').http_address}/")
        assert "succeeded" in page.inner_text("#jobs")
        page.screenshot(path=str(shots / "jobs.png"), full_page=True)
    finally:
        page.close()
        run.wait(timeout=JOB_START_S)
        run.stderr.close()
        run.stdout.close()
    assert run.returncode == 0
