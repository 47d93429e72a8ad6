"""An NFS volume (local driver, ``--opt type=nfs``) is mounted with mount(2) when a container uses it,
as moby's local driver does. This kernel has no NFS client and there is no NFS server here, so what
can be checked is the real mount attempt and Docker's exact error for it, the exit code, and that
nothing is left behind; on a kernel with NFS the test is skipped (no server to talk to)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.daemon import Daemon

pytestmark = pytest.mark.root


def _kernel_has_nfs() -> bool:
    return any(line.split()[-1] in ("nfs", "nfs4") for line in Path("/proc/filesystems").read_text().splitlines())


@pytest.mark.skipif(_kernel_has_nfs(), reason="kernel has an NFS client and there is no NFS server to mount from")
def test_nfs_volume_mount_is_attempted_with_dockers_error(vd: Daemon) -> None:
    r = vd.docker("volume", "create", "--driver", "local", "--opt", "type=nfs",
                  "--opt", "o=addr=127.0.0.1,rw,nfsvers=4", "--opt", "device=:/export", "nfsvol")
    assert r.returncode == 0, r.stderr
    opts = json.loads(vd.docker("volume", "inspect", "nfsvol").stdout)[0]["Options"]
    assert opts == {"type": "nfs", "o": "addr=127.0.0.1,rw,nfsvers=4", "device": ":/export"}
    data = vd.data_root / "volumes" / "nfsvol" / "_data"
    r = vd.docker("run", "--rm", "--name", "nfsuser", "-v", "nfsvol:/data", "busybox", "true")
    assert r.returncode == 125
    assert (f"docker: Error response from daemon: error while mounting volume '{data}': failed to mount local "
            f"volume: mount :/export:{data}, data: addr=127.0.0.1,nfsvers=4: no such device") in r.stderr
    assert vd.docker("ps", "-aq", "--filter", "name=nfsuser").stdout.strip() == ""
    assert str(data) not in Path("/proc/self/mountinfo").read_text()
    assert vd.docker("volume", "rm", "nfsvol").returncode == 0
