"""Network benchmark: iperf3 through Skiff's data path vs dockerd's, and vs plain loopback.

Everything runs inside a private network namespace made for the run (the script re-executes itself
there with ``ip netns exec``), so neither Skiff's chains and sysctls nor dockerd's bridge, DOCKER
chains and FORWARD policy ever reach the host's own namespace. Measured, each the median of --runs:

  loopback        iperf3 client and server on 127.0.0.1 (the kernel's limit here)
  c2c             container to container on one user-defined bridge network
  published       host -> 127.0.0.1:HOSTPORT published to a container (Skiff: kernel DNAT;
                  dockerd: its default, docker-proxy for loopback)
  attach cost     Skiff: netns file + connect to the default bridge + release + netns gone, minus
                  the same without the bridge; dockerd: ``run --rm busybox true`` on the default
                  bridge minus the same with ``--network none``

Containers are namespaces for Skiff's library figures and busybox containers for dockerd; iperf3
runs in them from the host's binary via nsenter / ip netns exec. With ``--skiffd`` the same three
figures are also taken end to end through a real skiffd (docker CLI v28 -> API -> engine): it runs
in the host's namespace on a private bridge (skbn<hex>, 10.252.0.0/16 pool) with its own chain
prefix, publishes on 127.0.0.1 only, and everything it made is gone when it stops.

    .venv/bin/python bench/network.py [--runs 3] [--seconds 3] [--no-docker] [--skiffd]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.rootfs import make_busybox_rootfs

from skiff.network.drivers.bridge import OPT_NAME
from skiff.network.ipam import PoolSpec
from skiff.network.netns import create_netns, delete_netns
from skiff.network.portmap import parse_port_spec
from skiff.network.records import ConnectRequest, CreateRequest
from skiff.network.service import NetworkService, ServiceConfig


def sh(*cmd: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, check=check, env=env)


def iperf(server: list[str], client: list[str], target: str, port: int, seconds: int, server_port: int = 0) -> float:
    """Gbit/s from one iperf3 run; server and client are command prefixes (namespace entry); the server
    listens on server_port (default: port, the one the client dials)."""
    server_port = server_port or port
    srv = subprocess.Popen([*server, "iperf3", "-s", "-p", str(server_port)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):  # connect only once the server listens
            ss = subprocess.run([*server, "ss", "-Hltn", f"sport = :{server_port}"], capture_output=True, text=True)
            if ss.stdout.strip():
                break
            time.sleep(0.05)
        out = subprocess.run([*client, "iperf3", "-c", target, "-p", str(port), "-t", str(seconds), "-J"],
                             capture_output=True, text=True)
        try:
            return float(json.loads(out.stdout)["end"]["sum_received"]["bits_per_second"]) / 1e9
        except (ValueError, KeyError):
            raise RuntimeError(f"iperf3 to {target}:{port} failed: {out.stdout[-200:]!r} {out.stderr[-200:]!r}")
    finally:
        srv.kill()
        srv.wait()


def median(fn: Callable[[], float], runs: int) -> float:
    return statistics.median(fn() for _ in range(runs))


def in_ns(name: str) -> list[str]:
    return ["ip", "netns", "exec", name]


def bench_skiff(work: Path, runs: int, seconds: int) -> dict[str, float]:
    resolv = work / "resolv.conf"  # the embedded DNS never forwards off this machine in a benchmark
    resolv.write_text("nameserver 127.0.0.1\n")
    svc = NetworkService(ServiceConfig(state_dir=work / "skiff", default_pools=(PoolSpec("10.250.0.0/16", 24),),
                                       bridge_device="skb0", host_resolv_conf=str(resolv)))
    names = [f"skiff-bench-{secrets.token_hex(3)}" for _ in range(2)]
    try:
        svc.start()
        svc.create(CreateRequest("benchnet", options={OPT_NAME: "skb1"}))
        for n in names:
            sh("ip", "netns", "add", n)
        a = svc.connect("benchnet", ConnectRequest("a" * 64, "/a", f"/run/netns/{names[0]}",
                                                   ports=tuple(parse_port_spec("127.0.0.1:15201:5201"))))
        svc.connect("benchnet", ConnectRequest("b" * 64, "/b", f"/run/netns/{names[1]}"))
        a_ip = a.ipv4.split("/")[0]
        res = {
            "c2c": median(lambda: iperf(in_ns(names[0]), in_ns(names[1]), a_ip, 5201, seconds), runs),
            "published": median(lambda: iperf(in_ns(names[0]), [], "127.0.0.1", 15201, seconds, 5201), runs),
        }

        def lifecycle(with_bridge: bool) -> float:
            """A container's network life as the engine drives it: a netns file, connect to the
            default bridge, release when it stops, netns gone. Minus the same without the bridge."""
            path = str(work / "netns-c")
            t0 = time.perf_counter()
            create_netns(path)
            if with_bridge:
                svc.connect("bridge", ConnectRequest("c" * 64, "/c", path))
                svc.release_container("c" * 64, netns_dies=True)
            delete_netns(path)
            return time.perf_counter() - t0

        reps = max(runs, 5)
        res["attach"] = median(lambda: lifecycle(True), reps) - median(lambda: lifecycle(False), reps)
        return res
    finally:
        svc.remove_all()
        svc.close()
        for n in names:
            sh("ip", "netns", "del", n, check=False)


def bench_skiffd(runs: int, seconds: int) -> dict[str, float]:
    """The same figures through skiffd: containers made with the docker CLI, iperf3 entered into them."""
    from tests.support.images import busybox_daemon

    tag = secrets.token_hex(2)
    args = ("--bridge", f"skbn{tag}", "--default-address-pool", "base=10.252.0.0/16,size=24",
            "--iptables-chain-prefix", f"SKB{tag}", "--dns", "127.0.0.254")
    work = Path(tempfile.mkdtemp(prefix="skiff-bench-skiffd-"))
    try:
        with busybox_daemon(work, args) as d:
            def docker(*a: str) -> str:
                r = d.docker(*a)
                if r.returncode != 0:
                    raise RuntimeError(f"docker {' '.join(a)}: {r.stderr.strip()}")
                return r.stdout.strip()
            docker("network", "create", "-o", f"{OPT_NAME}=skbm{tag}", "benchnet")
            pids = []
            for name, extra in (("bench-a", ["-p", "127.0.0.1:15203:5201"]), ("bench-b", [])):
                docker("run", "-d", "--name", name, "--network", "benchnet", *extra, "busybox", "sleep", "3600")
                pids.append(docker("inspect", "-f", "{{.State.Pid}}", name))
            a_ip = docker("inspect", "-f", '{{(index .NetworkSettings.Networks "benchnet").IPAddress}}', "bench-a")
            ns = [["nsenter", "-t", pid, "-n"] for pid in pids]
            res = {
                "c2c": median(lambda: iperf(ns[0], ns[1], a_ip, 5201, seconds), runs),
                "published": median(lambda: iperf(ns[0], [], "127.0.0.1", 15203, seconds, 5201), runs),
            }

            def run_true(network: str) -> float:
                t0 = time.perf_counter()
                docker("run", "--rm", "--network", network, "busybox", "true")
                return time.perf_counter() - t0

            n = max(runs, 5)
            run_true("bridge")  # warm up
            res["attach"] = median(lambda: run_true("bridge"), n) - median(lambda: run_true("none"), n)
            res["run_bridge"] = median(lambda: run_true("bridge"), n)
            return res
    finally:
        shutil.rmtree(work, ignore_errors=True)


class Dockerd:
    """A private dockerd (own roots and socket) with its default bridge and iptables, in this netns."""

    def __init__(self, work: Path) -> None:
        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        # ``ip netns exec`` gave us a private mount namespace with a fresh /sys and no cgroup fs;
        # dockerd needs it. Mounting it here stays in that private namespace.
        if not os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
            sh("mount", "-t", "cgroup2", "cgroup2", "/sys/fs/cgroup", check=False)
        self.env = {**os.environ, "DOCKER_HOST": f"unix://{work / 'docker.sock'}"}
        self._log = open(work / "dockerd.log", "wb")  # noqa: SIM115 - lives as long as dockerd
        self.proc = subprocess.Popen(
            ["dockerd", "--data-root", str(work / "data"), "--exec-root", str(work / "exec"), "-H",
             f"unix://{work / 'docker.sock'}", "--pidfile", str(work / "docker.pid"), "--storage-driver=vfs"],
            stdout=subprocess.DEVNULL, stderr=self._log, start_new_session=True)
        for _ in range(300):
            if self.docker("version", check=False).returncode == 0:
                return
            time.sleep(0.1)
        self.close()
        tail = (work / "dockerd.log").read_text(errors="replace").strip().splitlines()[-1:]
        raise RuntimeError(f"dockerd did not start: {tail}")

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return sh("docker", *args, check=check, env=self.env)

    def close(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for sub in ("exec", "data"):
            sh("umount", "-R", str(self.work / sub), check=False)
        self._log.close()


def bench_docker(work: Path, runs: int, seconds: int) -> dict[str, float]:
    d = Dockerd(work / "docker")
    try:
        rootfs = make_busybox_rootfs(work / "rootfs")
        tar = work / "busybox.tar"
        sh("tar", "-C", str(rootfs), "-cf", str(tar), ".")
        d.docker("import", str(tar), "skiff-bench-busybox")
        d.docker("network", "create", "benchnet")
        pids = []
        for name, extra in (("bench-a", ["-p", "127.0.0.1:15202:5201"]), ("bench-b", [])):
            d.docker("run", "-d", "--name", name, "--network", "benchnet", *extra, "skiff-bench-busybox",
                     "sleep", "3600")
            pids.append(d.docker("inspect", "-f", "{{.State.Pid}}", name).stdout.strip())
        a_ip = d.docker("inspect", "-f", "{{(index .NetworkSettings.Networks \"benchnet\").IPAddress}}", "bench-a").stdout.strip()
        ns = [["nsenter", "-t", pid, "-n"] for pid in pids]
        res = {
            "c2c": median(lambda: iperf(ns[0], ns[1], a_ip, 5201, seconds), runs),
            "published": median(lambda: iperf(ns[0], [], "127.0.0.1", 15202, seconds, 5201), runs),
        }

        def run_true(network: str) -> float:
            t0 = time.perf_counter()
            d.docker("run", "--rm", "--network", network, "skiff-bench-busybox", "true")
            return time.perf_counter() - t0

        n = max(runs, 5)
        res["attach"] = median(lambda: run_true("bridge"), n) - median(lambda: run_true("none"), n)
        d.docker("rm", "-f", "bench-a", "bench-b", check=False)
        return res
    finally:
        d.close()


def inner(a: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="skiff-bench-net-"))
    try:
        lo = median(lambda: iperf([], [], "127.0.0.1", 5201, a.seconds), a.runs)
        sk = bench_skiff(work, a.runs, a.seconds)
        dk: dict[str, float] | None = None
        if not a.no_docker and shutil.which("dockerd"):
            try:
                dk = bench_docker(work, a.runs, a.seconds)
            except Exception as exc:  # a dockerd that cannot start here is reported, not fatal
                print(f"dockerd: not measured ({exc} {getattr(exc, 'stderr', '')})")
        print(f"loopback              : {lo:7.2f} Gbit/s")
        for key, label in (("c2c", "container->container"), ("published", "host->127.0.0.1:published")):
            line = f"{label:<26}: skiff {sk[key]:7.2f} Gbit/s ({sk[key] / lo:.2f}x loopback)"
            if dk:
                line += f" | dockerd {dk[key]:7.2f} Gbit/s | skiff/dockerd {sk[key] / dk[key]:.2f}x"
            print(line)
        line = f"{'bridge attach cost':<26}: skiff {sk['attach'] * 1000:7.1f} ms"
        if dk:
            line += f" | dockerd {dk['attach'] * 1000:7.1f} ms (run --rm on bridge minus on none)"
        print(line)
        if a.skiffd_json:
            sd = json.loads(Path(a.skiffd_json).read_text())
            print("through skiffd (docker CLI v28 -> skiffd; same run):")
            for key, label in (("c2c", "container->container"), ("published", "host->127.0.0.1:published")):
                line = f"{label:<26}: skiffd {sd[key]:7.2f} Gbit/s ({sd[key] / lo:.2f}x loopback)"
                if dk:
                    line += f" | dockerd {dk[key]:7.2f} Gbit/s | skiffd/dockerd {sd[key] / dk[key]:.2f}x"
                print(line)
            line = f"{'bridge attach cost':<26}: skiffd {sd['attach'] * 1000:7.1f} ms"
            line += f" (run --rm busybox true on bridge: {sd['run_bridge'] * 1000:.0f} ms)"
            if dk:
                line += f" | dockerd {dk['attach'] * 1000:7.1f} ms"
            print(line)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--no-docker", action="store_true")
    ap.add_argument("--skiffd", action="store_true", help="also measure end to end through a skiffd")
    ap.add_argument("--skiffd-json", help=argparse.SUPPRESS)
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.inner:
        inner(a)
        return
    extra: list[str] = []
    if a.skiffd:  # in the host's namespace, before the private one (skiffd needs the host's /sys)
        out = Path(tempfile.mkstemp(prefix="skiff-bench-skiffd-", suffix=".json")[1])
        out.write_text(json.dumps(bench_skiffd(a.runs, a.seconds)))
        extra = ["--skiffd-json", str(out)]
    name = f"skiff-bench-{secrets.token_hex(4)}"
    sh("ip", "netns", "add", name)
    try:
        sh("ip", "-n", name, "link", "set", "lo", "up")
        argv = [sys.executable, str(Path(__file__).resolve()), "--inner", "--runs", str(a.runs), "--seconds",
                str(a.seconds)] + (["--no-docker"] if a.no_docker else []) + extra
        raise SystemExit(subprocess.run(["ip", "netns", "exec", name, *argv]).returncode)
    finally:
        sh("ip", "netns", "del", name, check=False)


if __name__ == "__main__":
    main()
