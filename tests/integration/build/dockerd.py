"""A private dockerd for comparisons (own data-root, exec-root, socket and bridge; vfs; no iptables).

Used by the builder's dockerd comparison test and by bench/build.py. The classic builder is
selected with DOCKER_BUILDKIT=0 in the client's environment. Not ``--bridge=none``: with it dockerd
deletes the host's ``docker0`` at start (moby's removeDefaultBridgeInterface), which broke the
reference dockerd of the machine; it gets a bridge of its own (``skd*``), removed after.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from pathlib import Path
from typing import BinaryIO


class Dockerd:
    def __init__(self, work: Path) -> None:
        work.mkdir(parents=True)
        self.work = work
        self.bridge = f"skd{secrets.token_hex(4)}"
        subnet = f"10.254.{secrets.randbelow(250) + 1}"
        for cmd in (["ip", "link", "add", self.bridge, "type", "bridge"],
                    ["ip", "addr", "add", f"{subnet}.1/24", "dev", self.bridge],
                    ["ip", "link", "set", self.bridge, "up"]):
            subprocess.run(cmd, check=True, capture_output=True)
        self.sock = work / "docker.sock"
        self.env = {**os.environ, "DOCKER_HOST": f"unix://{self.sock}", "DOCKER_BUILDKIT": "0"}
        with open(work / "dockerd.log", "wb") as log:
            self.proc = self._start(work, log)
        for _ in range(300):
            if self.docker("version", check=False).returncode == 0:
                return
            time.sleep(0.1)
        self.close()
        raise RuntimeError("dockerd did not start; see " + str(work / "dockerd.log"))

    def _start(self, work: Path, log: BinaryIO) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                "dockerd",
                "--data-root",
                str(work / "data"),
                "--exec-root",
                str(work / "exec"),
                "-H",
                f"unix://{self.sock}",
                "--pidfile",
                str(work / "docker.pid"),
                f"--bridge={self.bridge}",
                "--iptables=false",
                "--ip-forward=false",
                "--ip-masq=false",
                "--storage-driver=vfs",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", *args], env=self.env, capture_output=True, text=True, check=check)

    def close(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._unmount_leftovers()
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)

    def _unmount_leftovers(self) -> None:
        """dockerd that dies early leaves its data-root bind mount: remove mounts under our dir."""
        prefix = str(self.work.resolve()) + "/"
        with open("/proc/mounts") as f:
            points = [line.split()[1] for line in f]
        for mp in reversed(points):
            if mp.startswith(prefix):
                subprocess.run(["umount", "-l", mp], check=False)
