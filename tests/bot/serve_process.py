"""`segbot serve` as a real process, as a Procfile platform starts it, for the slow tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ServeProcess:
    """One `segbot serve` process; its output (the log) goes to a file."""

    process: subprocess.Popen
    log_path: Path
    port: int | None

    @classmethod
    def start(cls, environ: dict[str, str], log_path: Path, *args: str) -> ServeProcess:
        port = int(environ["PORT"]) if "PORT" in environ else None
        with log_path.open("wb") as log:
            process = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", *args],
                                       env={**os.environ, **environ}, cwd=ROOT, stdout=log,
                                       stderr=subprocess.STDOUT)
        return cls(process, log_path, port)

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def health(self) -> tuple[int, dict[str, Any]]:
        url = f"http://127.0.0.1:{self.port}/health"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def wait_until_serving(self, timeout: float = 60) -> dict[str, Any]:
        """Wait for a 200 from /health; return its body."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"segbot serve exited with {self.process.returncode}:\n{self.log}")
            try:
                status, body = self.health()
                if status == 200:
                    return body
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.2)
        pytest.fail(f"segbot serve did not answer /health in {timeout}s:\n{self.log}")

    def interrupt(self, timeout: float = 30) -> int:
        """Ctrl-C, then wait for the exit; return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"segbot serve did not stop on Ctrl-C:\n{self.log}")
