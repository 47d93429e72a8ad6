"""``run``: create + start + wait; the exit code; what the container's process sees."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.integration.runtime.conftest import Runtime, run_output
from tests.support.bundle import edit_config

pytestmark = pytest.mark.root


def _args(bundle: Path, *args: str) -> None:
    edit_config(bundle, lambda c: c["process"].update(args=list(args)))


def test_run_true_exits_zero_and_deletes(rt: Runtime, bundle: Path, cid: str) -> None:
    rt.ok("run", "--bundle", str(bundle), cid)
    assert not (rt.root / cid).exists()


def test_exit_code_is_the_container_process(rt: Runtime, bundle: Path, cid: str) -> None:
    _args(bundle, "sh", "-c", "exit 7")
    assert run_output(rt, bundle, cid).rc == 7


def test_killed_process_exit_code(rt: Runtime, bundle: Path, cid: str) -> None:
    # Without a pid namespace: as pid 1 of its own, sh would be immune to its own SIGKILL.
    edit_config(bundle, lambda c: (c["linux"].update(namespaces=[n for n in c["linux"]["namespaces"]
                                                                 if n["type"] != "pid"]),
                                   c["process"].update(args=["sh", "-c", "kill -9 $$"])))
    assert run_output(rt, bundle, cid).rc == 128 + 9


def test_stdout_hostname_env_cwd(rt: Runtime, bundle: Path, cid: str) -> None:
    def edit(c: dict) -> None:
        c["hostname"] = "skiffbox"
        c["process"]["args"] = ["sh", "-c", "hostname; echo $FOO; pwd; echo $HOME"]
        c["process"]["env"].append("FOO=bar")
        c["process"]["cwd"] = "/tmp"

    edit_config(bundle, edit)
    r = run_output(rt, bundle, cid)
    assert r.rc == 0, r.err
    assert r.out.split() == ["skiffbox", "bar", "/tmp", "/root"]


def test_pid_namespace_init_is_pid_1(rt: Runtime, bundle: Path, cid: str) -> None:
    _args(bundle, "sh", "-c", "echo $$")
    assert run_output(rt, bundle, cid).out.strip() == "1"


def test_readonly_root(rt: Runtime, bundle: Path, cid: str) -> None:
    edit_config(bundle, lambda c: (c["root"].update(readonly=True),
                                   c["process"].update(args=["touch", "/x"])))
    r = run_output(rt, bundle, cid)
    assert r.rc != 0
    assert not (bundle / "rootfs/x").exists()


def test_writable_root_when_not_readonly(rt: Runtime, bundle: Path, cid: str) -> None:
    _args(bundle, "touch", "/x")
    assert run_output(rt, bundle, cid).rc == 0
    assert (bundle / "rootfs/x").exists()


def test_masked_paths_unreadable(rt: Runtime, bundle: Path, cid: str) -> None:
    _args(bundle, "sh", "-c", "cat /proc/kcore | wc -c; ls /sys/firmware | wc -l")
    r = run_output(rt, bundle, cid)
    assert r.rc == 0, r.err
    assert r.out.split() == ["0", "0"]


def test_readonly_paths(rt: Runtime, bundle: Path, cid: str) -> None:
    _args(bundle, "sh", "-c", "echo 1 > /proc/sys/kernel/ns_last_pid")
    assert run_output(rt, bundle, cid).rc != 0


def test_capabilities_dropped(rt: Runtime, bundle: Path, cid: str) -> None:
    _args(bundle, "sh", "-c", "grep -E '^Cap(Eff|Bnd|Prm)' /proc/self/status")
    r = run_output(rt, bundle, cid)
    # CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE = bits 29, 5, 10
    want = f"{(1 << 29) | (1 << 5) | (1 << 10):016x}"
    assert [line.split()[1] for line in r.out.splitlines()] == [want, want, want], r.out


def test_no_new_privileges(rt: Runtime, bundle: Path, cid: str) -> None:
    _args(bundle, "grep", "NoNewPrivs", "/proc/self/status")
    assert run_output(rt, bundle, cid).out.split() == ["NoNewPrivs:", "1"]


def test_user_and_groups(rt: Runtime, bundle: Path, cid: str) -> None:
    edit_config(bundle, lambda c: c["process"].update(
        user={"uid": 65534, "gid": 65534, "additionalGids": [5]}, args=["id"]))
    r = run_output(rt, bundle, cid)
    assert r.out.startswith("uid=65534(nobody) gid=65534(nobody) groups=5(tty)"), r.out + r.err


def test_rlimits(rt: Runtime, bundle: Path, cid: str) -> None:
    edit_config(bundle, lambda c: c["process"].update(
        rlimits=[{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654}], args=["sh", "-c", "ulimit -n; ulimit -Hn"]))
    assert run_output(rt, bundle, cid).out.split() == ["321", "654"]


def test_rlimit_above_hard_max_is_refused_clearly(rt: Runtime, bundle: Path, cid: str) -> None:
    edit_config(bundle, lambda c: c["process"].update(
        rlimits=[{"type": "RLIMIT_NOFILE", "soft": 1 << 20, "hard": 1 << 20}]))
    r = run_output(rt, bundle, cid)
    assert r.rc == 1
    assert "RLIMIT_NOFILE" in r.err
    assert not (rt.root / cid).exists()


def test_sysctl_in_private_netns(rt: Runtime, bundle: Path, cid: str) -> None:
    edit_config(bundle, lambda c: (c["linux"].update(sysctl={"net.ipv4.ip_forward": "1"}),
                                   c["process"].update(args=["cat", "/proc/sys/net/ipv4/ip_forward"])))
    assert run_output(rt, bundle, cid).out.strip() == "1"


def test_tmpfs_and_bind_mounts(rt: Runtime, bundle: Path, cid: str, tmp_path: Path) -> None:
    src = tmp_path / "share"
    src.mkdir()
    (src / "hello").write_text("from host\n")

    def edit(c: dict) -> None:
        c["mounts"] += [{"destination": "/mnt/share", "type": "bind", "source": str(src), "options": ["rbind", "ro"]},
                        {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}]
        c["process"]["args"] = ["sh", "-c", "cat /mnt/share/hello; touch /mnt/share/x || echo ro; "
                                "touch /scratch/y && echo rw"]

    edit_config(bundle, edit)
    r = run_output(rt, bundle, cid)
    assert r.out.split("\n")[:3] == ["from host", "ro", "rw"], r.out + r.err


def test_detach_leaves_it_running(rt: Runtime, bundle: Path, cid: str) -> None:
    _args(bundle, "sleep", "30")
    rt.ok("run", "--detach", "--bundle", str(bundle), cid)
    state = json.loads(rt.ok("state", cid).out)
    assert state["status"] == "running"
    rt.ok("delete", "--force", cid)
    assert not (rt.root / cid).exists()


def test_without_mount_namespace_chroot_only(rt: Runtime, bundle: Path, cid: str) -> None:
    """No mount namespace: nothing is mounted (it would be on the host), the rootfs is chrooted."""
    edit_config(bundle, lambda c: (c["linux"].update(namespaces=[{"type": "pid"}], maskedPaths=[], readonlyPaths=[]),
                                   c.pop("hostname"), c.update(mounts=[]),
                                   c["process"].update(args=["sh", "-c", "ls /bin/busybox && test ! -e /proc/1"])))
    r = run_output(rt, bundle, cid)
    assert r.rc == 0, r.err
    assert r.out.strip() == "/bin/busybox"
    assert str(bundle.resolve()) not in Path("/proc/self/mountinfo").read_text()  # nothing mounted on the host


def test_time_namespace_offsets(rt: Runtime, bundle: Path, cid: str) -> None:
    def edit(c: dict) -> None:
        c["linux"]["namespaces"].append({"type": "time"})
        c["linux"]["timeOffsets"] = {"boottime": {"secs": 86400 * 365, "nanosecs": 0}}
        c["process"]["args"] = ["cat", "/proc/uptime", "/proc/self/timens_offsets"]

    edit_config(bundle, edit)
    r = run_output(rt, bundle, cid)
    assert r.rc == 0, r.err
    lines = r.out.splitlines()
    assert float(lines[0].split()[0]) > 86400 * 365
    assert ["boottime", str(86400 * 365), "0"] in [line.split() for line in lines[1:]]


def test_cgroup_namespace_root(rt: Runtime, bundle: Path, cid: str) -> None:
    edit_config(bundle, lambda c: (c["linux"]["namespaces"].append({"type": "cgroup"}),
                                   c["process"].update(args=["cat", "/proc/self/cgroup"])))
    r = run_output(rt, bundle, cid)
    assert r.rc == 0, r.err
    assert all(line.endswith(":/") for line in r.out.splitlines()), r.out


def test_domainname_personality_oom_score(rt: Runtime, bundle: Path, cid: str) -> None:
    def edit(c: dict) -> None:
        c["domainname"] = "skiff.example"
        c["linux"]["personality"] = {"domain": "LINUX32"}
        c["process"]["oomScoreAdj"] = 500
        c["process"]["args"] = ["sh", "-c", "cat /proc/sys/kernel/domainname; uname -m; cat /proc/self/oom_score_adj"]

    edit_config(bundle, edit)
    r = run_output(rt, bundle, cid)
    assert r.rc == 0, r.err
    assert r.out.split() == ["skiff.example", "i686", "500"]


def test_join_namespace_by_path(rt: Runtime, bundle: Path, cid: str, tmp_path: Path) -> None:
    import shutil

    other = tmp_path / "other"
    shutil.copytree(bundle, other, symlinks=True)
    edit_config(other, lambda c: c["process"].update(args=["sleep", "30"]))
    rt.ok("run", "-d", "-b", str(other), cid + "-a")
    pid = json.loads(rt.ok("state", cid + "-a").out)["pid"]

    def edit(c: dict) -> None:
        c["linux"]["namespaces"] = [n if n["type"] != "network" else {"type": "network", "path": f"/proc/{pid}/ns/net"}
                                    for n in c["linux"]["namespaces"]]
        c["process"]["args"] = ["readlink", "/proc/self/ns/net"]

    edit_config(bundle, edit)
    r = run_output(rt, bundle, cid)
    assert r.rc == 0, r.err
    assert r.out.strip() == os.readlink(f"/proc/{pid}/ns/net")


def test_tmpfs_tmpcopyup(rt: Runtime, bundle: Path, cid: str) -> None:
    (bundle / "rootfs/etc/skiff-seed").write_text("seeded\n")
    edit_config(bundle, lambda c: (c["mounts"].append({"destination": "/etc", "type": "tmpfs", "source": "tmpfs",
                                                       "options": ["tmpcopyup", "mode=755"]}),
                                   c["process"].update(args=["sh", "-c", "cat /etc/skiff-seed; "
                                                             "grep ' /etc ' /proc/mounts | cut -d' ' -f3"])))
    r = run_output(rt, bundle, cid)
    assert r.rc == 0, r.err
    assert r.out.split() == ["seeded", "tmpfs"]


def test_process_starts_with_default_signals(rt: Runtime, bundle: Path, cid: str) -> None:
    """A caller that ignores SIGTERM/SIGINT/SIGHUP and blocks signals (a monitor, a shell with
    nohup) must not pass that on: the container's process starts with no signal ignored or blocked."""
    import signal
    import subprocess
    import tempfile

    from tests.support.bundle import RUNTIME

    _args(bundle, "cat", "/proc/self/status")  # not through sh: busybox sh ignores SIGQUIT itself

    def hostile() -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
            signal.signal(sig, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGUSR2, signal.SIGQUIT})

    with tempfile.TemporaryFile() as out:
        p = subprocess.run([RUNTIME, "--root", str(rt.root), "run", "--bundle", str(bundle), cid],
                           stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.PIPE, preexec_fn=hostile,
                           timeout=30)
        out.seek(0)
        text = out.read().decode()
    assert p.returncode == 0, p.stderr
    fields = dict(line.split(":\t", 1) for line in text.splitlines() if line.startswith(("SigIgn", "SigBlk")))
    assert fields == {"SigIgn": "0000000000000000", "SigBlk": "0000000000000000"}, text
