"""Spec generation against Docker's documented defaults (defaults.md) and dockerd's error texts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from skiff.engine.containers.seccomp_default import (
    DEFAULT_CAPABILITIES,
    default_profile,
    resolve_profile,
    tweak_capabilities,
)
from skiff.engine.containers.spec import (
    ImageConfig,
    ResolvedMount,
    SpecContext,
    anonymous_volumes,
    build_spec,
    container_env,
    parse_create,
    resolve_user,
)
from skiff.errors import InvalidParameter

CID = "0123456789abcdef" * 4
DOCKER_CAPS = {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
               "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
               "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/false\napp:x:1000:1000::/home/app:/bin/sh\n")
    (tmp_path / "etc/group").write_text("root:x:0:\nwheel:x:10:root,app\nwww:x:33:\napp:x:1000:\naudio:x:29:app\n")
    return tmp_path


def spec(rootfs: Path, body: dict[str, Any] | None = None, image: dict[str, Any] | None = None,
         **ctx: Any) -> dict[str, Any]:
    body = {"Image": "busybox", "Cmd": ["sh"], **(body or {})}
    cfg, host = parse_create(body)
    c = SpecContext(container_id=CID, rootfs=str(rootfs), cgroup_v2=False, swap_supported=True,
                    nofile_hard_max=20000, ncpu=2, **ctx)
    return build_spec(ImageConfig.from_dict(image), cfg, host, c)


def test_default_capabilities_are_dockers_14(rootfs: Path) -> None:
    s = spec(rootfs)
    caps = s["process"]["capabilities"]
    assert set(caps["bounding"]) == DOCKER_CAPS and len(caps["bounding"]) == 14
    assert caps["effective"] == caps["permitted"] == caps["bounding"]
    assert "inheritable" not in caps and "ambient" not in caps
    assert s["process"]["noNewPrivileges"] is False


def test_cap_add_drop_forms() -> None:
    assert "CAP_SYS_ADMIN" in tweak_capabilities(["sys_admin"], [], False)
    assert "CAP_NET_RAW" not in tweak_capabilities([], ["NET_RAW"], False)
    assert tweak_capabilities(["CAP_KILL"], ["ALL"], False) == ["CAP_KILL"]
    allcaps = tweak_capabilities(["ALL"], ["CAP_SYS_ADMIN"], False)
    assert "CAP_SYS_ADMIN" not in allcaps and "CAP_SYS_PTRACE" in allcaps
    with pytest.raises(InvalidParameter, match='unknown capability: "CAP_BOGUS"'):
        tweak_capabilities(["bogus"], [], False)


def test_seccomp_default_profile_shape(rootfs: Path) -> None:
    sc = spec(rootfs)["linux"]["seccomp"]
    assert sc["defaultAction"] == "SCMP_ACT_ERRNO" and sc["defaultErrnoRet"] == 1
    assert sc["architectures"][0] == "SCMP_ARCH_X86_64"
    allowed = {n for r in sc["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" and not r.get("args") for n in r["names"]}
    assert len(allowed) >= 360
    for blocked in ("mount", "unshare", "setns", "reboot", "keyctl", "add_key", "io_uring_setup", "pivot_root",
                    "kexec_load", "init_module", "bpf", "userfaultfd", "open_by_handle_at"):
        assert blocked not in allowed, blocked
    assert {"chroot", "ptrace", "arch_prctl", "read", "write", "execve"} <= allowed
    clone = [r for r in sc["syscalls"] if r["names"] == ["clone"]]
    assert clone[0]["args"] == [{"index": 0, "value": 0x7E020000, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]
    clone3 = [r for r in sc["syscalls"] if r["names"] == ["clone3"]]
    assert clone3 == [{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
    socket_rules = [r for r in sc["syscalls"] if r["names"] == ["socket"]]
    assert len(socket_rules) == 3  # any family but AF_VSOCK (40)
    personas = sorted(r["args"][0]["value"] for r in sc["syscalls"] if r["names"] == ["personality"])
    assert personas == [0, 8, 0x20000, 0x20008, 0xFFFFFFFF]


def test_seccomp_follows_capabilities(rootfs: Path) -> None:
    sc = spec(rootfs, {"HostConfig": {"CapAdd": ["SYS_ADMIN"]}})["linux"]["seccomp"]
    allowed = {n for r in sc["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" and not r.get("args") for n in r["names"]}
    assert {"mount", "unshare", "setns", "clone", "clone3"} <= allowed
    assert not [r for r in sc["syscalls"] if r["names"] == ["clone3"] and r["action"] == "SCMP_ACT_ERRNO"]
    no_chroot = resolve_profile(default_profile(), [c for c in DEFAULT_CAPABILITIES if c != "CAP_SYS_CHROOT"])
    assert no_chroot is not None
    assert "chroot" not in {n for r in no_chroot["syscalls"] for n in r["names"]}
    old = resolve_profile(default_profile(), DEFAULT_CAPABILITIES, kernel="4.4.0")
    assert old is not None and "ptrace" not in {n for r in old["syscalls"] for n in r["names"]}


def test_seccomp_unconfined_custom_and_privileged(rootfs: Path) -> None:
    assert "seccomp" not in spec(rootfs, {"HostConfig": {"SecurityOpt": ["seccomp=unconfined"]}})["linux"]
    assert "seccomp" not in spec(rootfs, {"HostConfig": {"SecurityOpt": ["seccomp:unconfined"]}})["linux"]
    custom = '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}'
    sc = spec(rootfs, {"HostConfig": {"SecurityOpt": [f"seccomp={custom}"]}})["linux"]["seccomp"]
    assert sc["defaultAction"] == "SCMP_ACT_ALLOW" and sc["syscalls"][0]["names"] == ["mkdir"]
    with pytest.raises(InvalidParameter, match="Decoding seccomp profile failed"):
        spec(rootfs, {"HostConfig": {"SecurityOpt": ["seccomp={bad"]}})
    nnp = spec(rootfs, {"HostConfig": {"SecurityOpt": ["no-new-privileges"]}})
    assert nnp["process"]["noNewPrivileges"] is True
    with pytest.raises(InvalidParameter, match="AppArmor is not enabled"):
        spec(rootfs, {"HostConfig": {"SecurityOpt": ["apparmor=docker-default"]}})
    with pytest.raises(InvalidParameter, match='invalid --security-opt 2: "foo=bar"'):
        spec(rootfs, {"HostConfig": {"SecurityOpt": ["foo=bar"]}})


def test_masked_and_readonly_paths(rootfs: Path) -> None:
    lx = spec(rootfs)["linux"]
    for p in ("/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
              "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
              "/sys/devices/virtual/powercap"):
        assert p in lx["maskedPaths"]
    assert lx["readonlyPaths"] == ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
    un = spec(rootfs, {"HostConfig": {"SecurityOpt": ["systempaths=unconfined"]}})["linux"]
    assert un["maskedPaths"] == [] and un["readonlyPaths"] == [] and "seccomp" in un


def test_default_mounts_and_shm(rootfs: Path) -> None:
    ms = {m["destination"]: m for m in spec(rootfs)["mounts"]}
    assert ms["/proc"]["type"] == "proc" and set(ms["/proc"]["options"]) == {"nosuid", "noexec", "nodev"}
    assert ms["/dev"]["options"] == ["nosuid", "strictatime", "mode=755", "size=65536k"]
    assert "newinstance" in ms["/dev/pts"]["options"] and "gid=5" in ms["/dev/pts"]["options"]
    assert "ro" in ms["/sys"]["options"] and "ro" in ms["/sys/fs/cgroup"]["options"]
    assert ms["/dev/mqueue"]["type"] == "mqueue"
    assert ms["/dev/shm"]["options"][-1] == "size=67108864" and "mode=1777" in ms["/dev/shm"]["options"]
    big = {m["destination"]: m for m in spec(rootfs, {"HostConfig": {"ShmSize": 128 << 20}})["mounts"]}
    assert big["/dev/shm"]["options"][-1] == f"size={128 << 20}"
    none = {m["destination"] for m in spec(rootfs, {"HostConfig": {"IpcMode": "none"}})["mounts"]}
    assert "/dev/shm" not in none
    host_ipc = spec(rootfs, {"HostConfig": {"IpcMode": "host"}})
    assert {"type": "ipc"} not in host_ipc["linux"]["namespaces"]
    assert any(m["destination"] == "/dev/shm" and m["source"] == "/dev/shm" for m in host_ipc["mounts"])


def test_devices_and_cgroup_rules(rootfs: Path) -> None:
    lx = spec(rootfs, {"HostConfig": {"DeviceCgroupRules": ["c 42:* rmw"]}})["linux"]
    rules = lx["resources"]["devices"]
    assert rules[0] == {"allow": False, "access": "rwm"}
    allowed = {(r["major"], r["minor"]) for r in rules if r["allow"] and "minor" in r}
    assert allowed == {(1, 5), (1, 3), (1, 9), (1, 8), (5, 0), (5, 1)}
    assert {"allow": False, "type": "c", "major": 10, "minor": 229, "access": "rwm"} in rules
    assert {"allow": True, "type": "c", "major": 42, "access": "rmw"} in rules
    assert lx["devices"] == []
    dev = spec(rootfs, {"HostConfig": {"Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/xnull",
                                                    "CgroupPermissions": "rw"}]}})["linux"]
    assert dev["devices"][0]["path"] == "/dev/xnull" and (dev["devices"][0]["major"], dev["devices"][0]["minor"]) == (1, 3)
    with pytest.raises(InvalidParameter, match='adding custom device "/dev/nope"'):
        spec(rootfs, {"HostConfig": {"Devices": [{"PathOnHost": "/dev/nope"}]}})
    with pytest.raises(InvalidParameter, match="invalid device cgroup rule format: 'x 1:2 r'"):
        spec(rootfs, {"HostConfig": {"DeviceCgroupRules": ["x 1:2 r"]}})


def test_privileged(rootfs: Path) -> None:
    s = spec(rootfs, {"HostConfig": {"Privileged": True}})
    caps = s["process"]["capabilities"]["bounding"]
    assert "CAP_SYS_ADMIN" in caps and len(caps) >= 38
    lx = s["linux"]
    assert "seccomp" not in lx and lx["maskedPaths"] == [] and lx["readonlyPaths"] == []
    assert lx["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert any(d["path"] == "/dev/null" for d in lx["devices"])
    ms = {m["destination"]: m for m in s["mounts"]}
    assert "ro" not in ms["/sys"]["options"] and "rw" in ms["/sys"]["options"]


def test_hostname_env_and_tty(rootfs: Path) -> None:
    s = spec(rootfs, {"Tty": True, "Env": ["FOO=bar"]}, image={"Env": ["PATH=/opt/bin:/bin", "LANG=C"]})
    assert s["hostname"] == CID[:12]
    assert s["process"]["env"] == ["PATH=/opt/bin:/bin", f"HOSTNAME={CID[:12]}", "TERM=xterm", "FOO=bar", "LANG=C",
                                   "HOME=/root"]
    assert s["process"]["terminal"] is True
    plain = spec(rootfs, {"Hostname": "web"})
    assert plain["hostname"] == "web"
    assert plain["process"]["env"][:2] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                           "HOSTNAME=web"]
    assert container_env(["A=1", "A"], "h", False) == [f"PATH={container_env([], 'h', False)[0][5:]}", "HOSTNAME=h"]


def test_cmd_entrypoint_merge_and_workdir(rootfs: Path) -> None:
    img = {"Entrypoint": ["/entry.sh"], "Cmd": ["serve"], "WorkingDir": "/app"}
    s = spec(rootfs, {"Cmd": None}, image=img)
    assert s["process"]["args"] == ["/entry.sh", "serve"] and s["process"]["cwd"] == "/app"
    s = spec(rootfs, {"Cmd": ["run"]}, image=img)
    assert s["process"]["args"] == ["/entry.sh", "run"]
    s = spec(rootfs, {"Cmd": None, "Entrypoint": [""]}, image=img)
    assert s["process"]["args"] == ["serve"]
    with pytest.raises(InvalidParameter, match="no command specified"):
        spec(rootfs, {"Cmd": None}, image={})
    with pytest.raises(InvalidParameter, match="the working directory 'rel' is invalid"):
        spec(rootfs, {"WorkingDir": "rel"})


def test_user_resolution(rootfs: Path) -> None:
    u = resolve_user(str(rootfs), "app")
    assert (u.uid, u.gid, u.additional_gids, u.home) == (1000, 1000, (10, 29), "/home/app")
    www = resolve_user(str(rootfs), "www:wheel")
    assert (www.uid, www.gid, www.additional_gids) == (33, 10, ())
    num = resolve_user(str(rootfs), "4242")
    assert (num.uid, num.gid) == (4242, 0)
    both = resolve_user(str(rootfs), "1000:33")
    assert (both.uid, both.gid) == (1000, 33)
    assert resolve_user(str(rootfs), "", ["audio", "777"]).additional_gids == (10, 29, 777)  # root is in wheel
    with pytest.raises(InvalidParameter, match="unable to find user nobody: no matching entries in passwd file"):
        resolve_user(str(rootfs), "nobody")
    with pytest.raises(InvalidParameter, match="unable to find group nogroup"):
        resolve_user(str(rootfs), "app:nogroup")
    s = spec(rootfs, {"User": "app", "HostConfig": {"GroupAdd": ["www"]}})
    assert s["process"]["user"] == {"uid": 1000, "gid": 1000, "additionalGids": [1000, 10, 29, 33]}  # gid first, as moby
    assert "HOME=/home/app" in s["process"]["env"]


def test_init_readonly_tmpfs_and_mounts(rootfs: Path, tmp_path: Path) -> None:
    body = {"HostConfig": {"Init": True, "ReadonlyRootfs": True, "Tmpfs": {"/run": "size=1m"},
                           "Binds": ["/srv/data:/data:ro", "named:/vol"]}}
    cfg, host = parse_create({"Image": "x", "Cmd": ["sh"], **body})
    resolved = tuple(ResolvedMount(m, "/var/lib/skiff/volumes/named/_data" if m.type == "volume" else "")
                     for m in host.mounts)
    s = spec(rootfs, body, mounts=resolved, resolv_conf="/c/resolv.conf")
    assert s["process"]["args"] == ["/sbin/docker-init", "--", "sh"]
    assert s["root"]["readonly"] is True
    ms = {m["destination"]: m for m in s["mounts"]}
    assert ms["/sbin/docker-init"] == {"destination": "/sbin/docker-init", "type": "bind", "source": "/usr/bin/tini-static",
                                       "options": ["bind", "ro"]}
    assert ms["/data"]["options"] == ["rbind", "ro", "rprivate"] and ms["/data"]["source"] == "/srv/data"
    assert ms["/vol"]["source"] == "/var/lib/skiff/volumes/named/_data"
    assert ms["/run"]["type"] == "tmpfs" and "size=1m" in ms["/run"]["options"]
    assert "ro" in ms["/etc/resolv.conf"]["options"]
    assert anonymous_volumes(cfg, host) == []


def test_resources_and_errors(rootfs: Path) -> None:
    hc = {"Memory": 64 << 20, "MemoryReservation": 32 << 20, "NanoCpus": 1_500_000_000, "CpuShares": 512,
          "CpusetCpus": "0-1", "PidsLimit": 100, "OomScoreAdj": 500, "BlkioWeight": 300}
    s = spec(rootfs, {"HostConfig": hc})
    r = s["linux"]["resources"]
    assert r["memory"] == {"limit": 64 << 20, "swap": 128 << 20, "reservation": 32 << 20}
    assert r["cpu"] == {"period": 100000, "quota": 150000, "shares": 512, "cpus": "0-1"}
    assert r["pids"] == {"limit": 100} and s["process"]["oomScoreAdj"] == 500
    assert "pids" not in spec(rootfs, {"HostConfig": {"PidsLimit": -1}})["linux"]["resources"]
    for bad, msg in (({"Memory": 1024}, "Minimum memory limit allowed is 6MB"),
                     ({"Memory": 64 << 20, "MemorySwap": 32 << 20}, "Minimum memoryswap limit should be larger"),
                     ({"NanoCpus": 10**9, "CpuQuota": 50000}, "Conflicting options: Nano CPUs and CPU Quota"),
                     ({"NanoCpus": 3 * 10**9}, "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs"),
                     ({"CpusetCpus": "5"}, "Requested CPUs are not available - requested 5, available: 0-1"),
                     ({"OomScoreAdj": 1001}, r"range for oom score adj is \[-1000, 1000\]"),
                     ({"CpuQuota": 10}, "CPU cfs quota can not be less than 1ms")):
        with pytest.raises(InvalidParameter, match=msg):
            spec(rootfs, {"HostConfig": bad})


def test_ulimits_default_capped(rootfs: Path) -> None:
    rl = {r["type"]: r for r in spec(rootfs)["process"]["rlimits"]}
    assert rl["RLIMIT_NOFILE"] == {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 20000}
    rl = {r["type"]: r for r in spec(rootfs, {"HostConfig": {"Ulimits": [
        {"Name": "nofile", "Soft": 100, "Hard": 200}, {"Name": "nproc", "Soft": 10, "Hard": 20}]}})["process"]["rlimits"]}
    assert (rl["RLIMIT_NOFILE"]["soft"], rl["RLIMIT_NOFILE"]["hard"]) == (100, 200) and rl["RLIMIT_NPROC"]["hard"] == 20
    with pytest.raises(InvalidParameter, match="soft limit must be less than or equal to hard limit: 5 > 4"):
        spec(rootfs, {"HostConfig": {"Ulimits": [{"Name": "nofile", "Soft": 5, "Hard": 4}]}})


def test_namespaces_and_sysctls(rootfs: Path) -> None:
    ns = [n["type"] for n in spec(rootfs)["linux"]["namespaces"]]
    assert ns == ["mount", "network", "uts", "pid", "ipc"]  # cgroup ns is host on v1
    host = spec(rootfs, {"HostConfig": {"NetworkMode": "host", "PidMode": "host", "UTSMode": "host"}})
    assert [n["type"] for n in host["linux"]["namespaces"]] == ["mount", "ipc"]
    assert "hostname" not in host
    joined = spec(rootfs, {"HostConfig": {"NetworkMode": "bridge", "CgroupnsMode": "private"}},
                  netns_path="/run/netns/skiff-x")
    assert {"type": "network", "path": "/run/netns/skiff-x"} in joined["linux"]["namespaces"]
    assert {"type": "cgroup"} in joined["linux"]["namespaces"]
    s = spec(rootfs, {"HostConfig": {"Sysctls": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000"}}})
    assert s["linux"]["sysctl"] == {"kernel.shmmax": "1000", "net.ipv4.ip_forward": "1",
                                    "net.ipv4.ping_group_range": "0 2147483647",
                                    "net.ipv4.ip_unprivileged_port_start": "0"}
    assert host["linux"]["sysctl"] == {}  # not in the host's network namespace
    own = spec(rootfs, {"HostConfig": {"Sysctls": {"net.ipv4.ip_unprivileged_port_start": "80"}}})
    assert own["linux"]["sysctl"]["net.ipv4.ip_unprivileged_port_start"] == "80"
    with pytest.raises(InvalidParameter, match=r"sysctl 'kernel\.hostname' is not allowed"):
        spec(rootfs, {"HostConfig": {"Sysctls": {"kernel.hostname": "x"}}})
    with pytest.raises(InvalidParameter, match="not allowed in host network mode"):
        spec(rootfs, {"HostConfig": {"NetworkMode": "host", "Sysctls": {"net.core.somaxconn": "1"}}})


def test_working_dir_is_created_inside_the_rootfs(tmp_path: Path) -> None:
    from skiff.engine.containers.spec import ensure_working_dir, secure_join

    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "esc").symlink_to("/tmp")  # absolute: means <root>/tmp, not the host's /tmp
    (root / "up").symlink_to("../../..")
    assert secure_join(str(root), "/esc/x") == str(root / "tmp" / "x")
    assert secure_join(str(root), "/up/etc") == str(root / "etc")
    ensure_working_dir(str(root), "/esc/app/data")
    assert (root / "tmp/app/data").is_dir()
    (root / "file").write_text("")
    with pytest.raises(InvalidParameter, match="Cannot mkdir: /file is not a directory"):
        ensure_working_dir(str(root), "/file")


def test_image_volumes_become_anonymous(rootfs: Path) -> None:
    cfg, host = parse_create({"Image": "x", "Volumes": {"/data": {}, "/logs/": {}}, "HostConfig": {"Binds": ["v1:/data"]}})
    assert [(m.type, m.target, m.anonymous) for m in anonymous_volumes(cfg, host)] == [("volume", "/logs", True)]
    with pytest.raises(InvalidParameter, match="Duplicate mount point: /x"):
        parse_create({"HostConfig": {"Binds": ["/a:/x"], "Tmpfs": {"/x": ""}}})


# The body the docker CLI 28 sends for: docker create --name x -e A=1 -v /h:/c:ro -v vol:/v
#   --mount type=tmpfs,dst=/t,tmpfs-size=1m --tmpfs /run:size=2m --cap-add NET_ADMIN --cap-drop chown
#   --security-opt no-new-privileges --ulimit nofile=10:20 --memory 64m --cpus 0.5 --pids-limit 50 --init
#   --read-only -u nobody -w /w --shm-size 128m --sysctl net.ipv4.ip_forward=1 --group-add audio
#   --device /dev/null:/dev/n2:rw --oom-score-adj 10 --log-opt max-size=1m --restart on-failure:3 -t -i
#   busybox sh -c 'echo hi'      (captured from the real CLI against a stub server)
DOCKER_CLI_BODY = '{"Hostname": "", "Domainname": "", "User": "nobody", "AttachStdin": true, "AttachStdout": true, "AttachStderr": true, "Tty": true, "OpenStdin": true, "StdinOnce": true, "Env": ["A=1"], "Cmd": ["sh", "-c", "echo hi"], "Image": "busybox", "Volumes": {}, "WorkingDir": "/w", "Entrypoint": null, "OnBuild": null, "Labels": {}, "HostConfig": {"Binds": ["/h:/c:ro", "vol:/v"], "ContainerIDFile": "", "LogConfig": {"Type": "", "Config": {"max-size": "1m"}}, "NetworkMode": "default", "PortBindings": {}, "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}, "AutoRemove": false, "VolumeDriver": "", "VolumesFrom": null, "ConsoleSize": [0, 0], "CapAdd": ["CAP_NET_ADMIN"], "CapDrop": ["CAP_CHOWN"], "CgroupnsMode": "", "Dns": [], "DnsOptions": [], "DnsSearch": [], "ExtraHosts": null, "GroupAdd": ["audio"], "IpcMode": "", "Cgroup": "", "Links": null, "OomScoreAdj": 10, "PidMode": "", "Privileged": false, "PublishAllPorts": false, "ReadonlyRootfs": true, "SecurityOpt": ["no-new-privileges"], "Tmpfs": {"/run": "size=2m"}, "UTSMode": "", "UsernsMode": "", "ShmSize": 134217728, "Sysctls": {"net.ipv4.ip_forward": "1"}, "Isolation": "", "CpuShares": 0, "Memory": 67108864, "NanoCpus": 500000000, "CgroupParent": "", "BlkioWeight": 0, "BlkioWeightDevice": [], "BlkioDeviceReadBps": [], "BlkioDeviceWriteBps": [], "BlkioDeviceReadIOps": [], "BlkioDeviceWriteIOps": [], "CpuPeriod": 0, "CpuQuota": 0, "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "", "Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/n2", "CgroupPermissions": "rw"}], "DeviceCgroupRules": null, "DeviceRequests": null, "MemoryReservation": 0, "MemorySwap": 0, "MemorySwappiness": -1, "OomKillDisable": false, "PidsLimit": 50, "Ulimits": [{"Name": "nofile", "Hard": 20, "Soft": 10}], "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0, "Mounts": [{"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1048576}}], "MaskedPaths": null, "ReadonlyPaths": null, "Init": true}, "NetworkingConfig": {"EndpointsConfig": {"default": {"IPAMConfig": null, "Links": null, "Aliases": null, "MacAddress": "", "DriverOpts": null, "GwPriority": 0, "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DNSNames": null}}}}'


def test_real_docker_cli_body(rootfs: Path) -> None:
    import json

    (rootfs / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n")
    (rootfs / "etc/group").write_text("root:x:0:\naudio:x:29:\nnogroup:x:65534:\n")
    body = json.loads(DOCKER_CLI_BODY)
    cfg, host = parse_create(body)
    assert (cfg.tty, cfg.open_stdin, cfg.stdin_once, cfg.user, cfg.working_dir) == (True, True, True, "nobody", "/w")
    assert [(m.type, m.target) for m in host.mounts] == [("bind", "/c"), ("volume", "/v"), ("tmpfs", "/t"),
                                                        ("tmpfs", "/run")]
    assert (host.restart_policy, host.restart_max_retries, host.log_config) == ("on-failure", 3, (("max-size", "1m"),))
    resolved = tuple(ResolvedMount(m, "/vols/vol/_data" if m.type == "volume" else "") for m in host.mounts)
    s = spec(rootfs, body, mounts=resolved)
    p = s["process"]
    assert p["args"] == ["/sbin/docker-init", "--", "sh", "-c", "echo hi"] and p["terminal"] is True
    assert p["user"] == {"uid": 65534, "gid": 65534, "additionalGids": [65534, 29]} and p["cwd"] == "/w"
    assert "CAP_NET_ADMIN" in p["capabilities"]["bounding"] and "CAP_CHOWN" not in p["capabilities"]["bounding"]
    assert p["noNewPrivileges"] is True and p["oomScoreAdj"] == 10
    assert {"type": "RLIMIT_NOFILE", "hard": 20, "soft": 10} in p["rlimits"]
    assert "TERM=xterm" in p["env"] and "A=1" in p["env"]
    r = s["linux"]["resources"]
    assert r["memory"]["limit"] == 64 << 20 and r["cpu"] == {"period": 100000, "quota": 50000}
    assert r["pids"] == {"limit": 50}
    assert {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"} in r["devices"]
    assert s["linux"]["devices"][0]["path"] == "/dev/n2"
    assert s["root"]["readonly"] is True and s["linux"]["sysctl"]["net.ipv4.ip_forward"] == "1"
    ms = {m["destination"]: m for m in s["mounts"]}
    assert ms["/dev/shm"]["options"][-1] == f"size={128 << 20}"
    assert ms["/v"]["source"] == "/vols/vol/_data" and "ro" in ms["/c"]["options"]
    assert "size=1m" in ms["/t"]["options"] and "size=2m" in ms["/run"]["options"]
