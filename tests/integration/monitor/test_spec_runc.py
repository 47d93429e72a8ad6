"""Generated specs run under runc with Docker's observable defaults (caps, seccomp, /dev, masks, user)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from skiff.engine.containers.spec import ImageConfig, ResolvedMount, SpecContext, build_spec, parse_create
from skiff.monitor.client import MonitorClient
from skiff.monitor.logreader import LogFile
from skiff.monitor.protocol import MonitorOptions
from skiff.monitor.spawn import spawn_monitor
from tests.integration.monitor.conftest import RUNC, new_id

pytestmark = pytest.mark.root


def run_spec(tmp_path: Path, rootfs: Path, runc_root: Path, pids: list[int], body: dict[str, Any],
             image: dict[str, Any] | None = None, **ctx: Any) -> tuple[int, str]:
    cid = new_id()
    cfg, host = parse_create(body)
    mounts = tuple(ResolvedMount(m) for m in host.mounts)
    spec = build_spec(ImageConfig.from_dict(image), cfg, host,
                      SpecContext(container_id=cid, rootfs=str(rootfs), cgroups_path=f"/{cid}", mounts=mounts, **ctx))
    bundle = tmp_path / f"bundle-{cid}"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps(spec))
    state = tmp_path / "state" / cid
    opts = MonitorOptions(container_id=cid, bundle=str(bundle), state_dir=str(state), runtime=RUNC,
                          runtime_args=("--root", str(runc_root)), log_path=str(state / "c.log"), start=True,
                          tty=cfg.tty)
    h = spawn_monitor(opts)
    pids.append(h.monitor_pid)
    st = MonitorClient(h.socket_path).wait(timeout=30)
    with LogFile(opts.log_path) as lf:
        out = b"".join(e.data for e in lf.entries()).decode()
    return st.exit_code, out


def caps_of(hexmask: str) -> int:
    return bin(int(hexmask, 16)).count("1")


def test_default_container_looks_like_dockers(tmp_path: Path, busybox_rootfs: Path, runc_root: Path,
                                              monitor_pids: list[int]) -> None:
    script = ("grep -E '^(CapBnd|CapEff|CapInh|CapAmb|Seccomp|NoNewPrivs):' /proc/self/status; hostname; "
              "df -k /dev/shm | tail -1; ls /dev; cat /proc/kcore | wc -c; echo $HOME; ulimit -n; ulimit -Hn; "
              "touch /proc/sys/x 2>&1 || echo ro-proc-sys; unshare -n true 2>&1 || echo no-unshare")
    code, out = run_spec(tmp_path, busybox_rootfs, runc_root, monitor_pids, {"Cmd": ["sh", "-c", script]})
    assert code == 0, out
    fields = dict(line.split(":\t") for line in out.splitlines() if ":\t" in line)
    assert caps_of(fields["CapBnd"]) == 14 and caps_of(fields["CapEff"]) == 14
    assert caps_of(fields["CapInh"]) == 0 and caps_of(fields["CapAmb"]) == 0
    assert fields["Seccomp"] == "2" and fields["NoNewPrivs"] == "0"
    lines = out.splitlines()
    shm = next(line for line in lines if line.endswith("/dev/shm"))
    assert shm.split()[1] == "65536"
    for dev in ("null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue"):
        assert dev in lines, dev
    assert "0" in lines  # /proc/kcore masked by /dev/null
    assert "/root" in lines and "1024" in lines and "20000" in lines
    assert "no-unshare" in out


def test_user_tty_init_readonly(tmp_path: Path, busybox_rootfs: Path, runc_root: Path,
                                monitor_pids: list[int]) -> None:
    body = {"Cmd": ["sh", "-c", "id; echo TERM=$TERM; ps -o pid,comm | head -3; touch /x 2>&1 || echo ro-root; "
                                "touch /tmp/ok && echo tmp-ok; echo port-start=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)"],
            "User": "nobody", "Tty": True,
            "HostConfig": {"Init": True, "ReadonlyRootfs": True, "Tmpfs": {"/tmp": ""}}}
    code, out = run_spec(tmp_path, busybox_rootfs, runc_root, monitor_pids, body)
    assert code == 0, out
    assert "uid=65534(nobody) gid=65534(nobody)" in out
    assert "TERM=xterm" in out and "ro-root" in out and "tmp-ok" in out
    assert "docker-init" in out  # tini is pid 1
    assert "port-start=0" in out  # dockerd's default sysctl in a private network namespace


def test_privileged_and_cap_add(tmp_path: Path, busybox_rootfs: Path, runc_root: Path,
                                monitor_pids: list[int]) -> None:
    code, out = run_spec(tmp_path, busybox_rootfs, runc_root, monitor_pids,
                         {"Cmd": ["sh", "-c", "grep -E '^(CapEff|Seccomp):' /proc/self/status; mount -t tmpfs t /tmp && echo mounted"],
                          "HostConfig": {"Privileged": True}})
    assert code == 0 and "mounted" in out and "Seccomp:\t0" in out, out
    code, out = run_spec(tmp_path, busybox_rootfs, runc_root, monitor_pids,
                         {"Cmd": ["sh", "-c", "mount -t tmpfs t /tmp && echo mounted; chown 1 / 2>&1 || echo no-chown"],
                          "HostConfig": {"CapAdd": ["SYS_ADMIN"], "CapDrop": ["chown"]}})
    assert code == 0 and "mounted" in out and "no-chown" in out, out


def test_exit_code_of_missing_binary_is_reported(tmp_path: Path, busybox_rootfs: Path, runc_root: Path,
                                                  monitor_pids: list[int]) -> None:
    from skiff.monitor.spawn import MonitorStartError
    with pytest.raises(MonitorStartError):
        run_spec(tmp_path, busybox_rootfs, runc_root, monitor_pids, {"Cmd": ["/nope"]})




@pytest.mark.cgroupv1
def test_memory_limit_oom_is_recorded(tmp_path: Path, busybox_rootfs: Path, runc_root: Path,
                                      monitor_pids: list[int]) -> None:
    cid = new_id()
    cfg, host = parse_create({"Cmd": ["sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; "
                                                  "head -c 100000000 /dev/zero | tail > /dev/null; echo survived"],
                              "HostConfig": {"Memory": 16 << 20, "MemorySwap": 16 << 20}})
    spec = build_spec(ImageConfig(), cfg, host, SpecContext(container_id=cid, rootfs=str(busybox_rootfs),
                                                            cgroups_path=f"/{cid}"))
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps(spec))
    state = tmp_path / "state" / cid
    h = spawn_monitor(MonitorOptions(container_id=cid, bundle=str(bundle), state_dir=str(state), runtime=RUNC,
                                     runtime_args=("--root", str(runc_root)), log_path=str(state / "c.log"),
                                     start=True))
    monitor_pids.append(h.monitor_pid)
    st = MonitorClient(h.socket_path).wait(timeout=30)
    with LogFile(str(state / "c.log")) as lf:
        out = b"".join(e.data for e in lf.entries()).decode()
    assert str(16 << 20) in out
    assert st.oom_killed, (st, out)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and os.waitpid(h.monitor_pid, os.WNOHANG)[0] == 0:
        time.sleep(0.05)
    assert not os.path.exists(f"/sys/fs/cgroup/memory/{cid}")  # the monitor's runtime delete removed it


@pytest.mark.cgroupv1
def test_pids_limit_contains_a_fork_bomb(tmp_path: Path, busybox_rootfs: Path, runc_root: Path,
                                         monitor_pids: list[int]) -> None:
    script = ("cat /sys/fs/cgroup/pids/pids.max; i=0; while [ $i -lt 30 ]; do sleep 5 & i=$((i+1)); done; "
              "read n < /sys/fs/cgroup/pids/pids.current; echo current=$n")
    _, out = run_spec(tmp_path, busybox_rootfs, runc_root, monitor_pids,
                      {"Cmd": ["sh", "-c", script], "HostConfig": {"PidsLimit": 10}})
    lines = out.splitlines()
    assert lines[0] == "10", out
    assert "can't fork" in out or "Resource temporarily unavailable" in out, out
    assert "current=" not in out  # the shell itself could not fork past the limit
