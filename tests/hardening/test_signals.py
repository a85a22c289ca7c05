"""SIGINT and SIGTERM stop the demo's server and ``finbridge serve`` cleanly, with real signals
sent to real processes (a data library replacing Python's SIGINT handler included)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What the demo does after seeding, in a child process: serve in a worker thread and wait.
# SIG_IGN on SIGINT is what the data library did to the demo (Ctrl+C was then ignored).
DEMO_WAIT = """
import signal, sys
from finbridge.core.settings import Settings
from finbridge.platform import Platform, upgrade_database
from finbridge.cli.commands.serve import BackgroundServer
settings = Settings(env="test", data_dir=sys.argv[1])
platform = Platform.build(settings)
upgrade_database(platform)
server = BackgroundServer(platform, host="127.0.0.1", port=int(sys.argv[2])).start()
server.wait_started()
signal.signal(signal.SIGINT, signal.SIG_IGN)
print("ready", flush=True)
server.wait()
platform.close()
print("stopped", flush=True)
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "FINBRIDGE_ENV": "test",
        "FINBRIDGE_DATA_DIR": str(tmp_path),
        "FINBRIDGE_IDENTITY__PASSWORD_HASHING": "fast",
        "FINBRIDGE_SERVE__RISK_WRITER_PROCESS": "false",
        "FINBRIDGE_RISK__USE_MODEL": "false",
    }


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_demo_server_stops_on_a_signal(tmp_path: Path, sig: signal.Signals) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", DEMO_WAIT, str(tmp_path), str(_port())],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(2)  # "ready" is printed just before wait() takes the signals
        child.send_signal(sig)  # once: a second one would meet the restored handlers
        assert child.wait(timeout=60) == 0
        assert child.stdout.read().strip() == "stopped"
    finally:
        child.kill()


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_stops_on_a_signal(tmp_path: Path, sig: signal.Signals) -> None:
    env = _env(tmp_path)
    finbridge = str(ROOT / ".venv" / "bin" / "finbridge")
    subprocess.run([finbridge, "db", "upgrade"], env=env, check=True, capture_output=True)
    port = _port()
    server = subprocess.Popen(
        [finbridge, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                assert time.monotonic() < deadline, "serve never became ready"
                assert server.poll() is None, "serve exited"
                time.sleep(0.3)
        server.send_signal(sig)
        assert server.wait(timeout=60) == 0
    finally:
        server.kill()
