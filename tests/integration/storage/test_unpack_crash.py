"""An unpack killed with SIGKILL at any moment leaves no committed half layer; the next one completes."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from skiff.storage import LayerSource, remove_unfinished_unpacks, unpack_layers
from tests.integration.storage.conftest import KINDS

SCRIPT = """
import sys
from pathlib import Path
from skiff.storage import LayerSource, unpack_layers
from tests.integration.storage.conftest import KINDS
kind, root, blob, diff_id = sys.argv[1:]
sn = KINDS[kind](root)
print("start", flush=True)
unpack_layers(sn, [LayerSource(diff_id, lambda: Path(blob).open("rb"))], processes=False)
print("done", flush=True)
"""


@pytest.fixture(scope="module")
def big_layer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A ~40 MB plain layer tar of /usr/lib content and its diff ID."""
    d = tmp_path_factory.mktemp("crash")
    blob = d / "layer.tar"
    subprocess.run(["tar", "-C", "/usr", "-cf", str(blob), "lib/python3.11"], check=True)
    return blob, "sha256:" + hashlib.sha256(blob.read_bytes()).hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.05, 0.3, 0.8])
def test_kill9_during_unpack(snapshotter_kind: str, tmp_path: Path, big_layer: tuple[Path, str],
                             delay: float) -> None:
    blob, diff_id = big_layer
    root = tmp_path / "root"
    with subprocess.Popen([sys.executable, "-c", SCRIPT, snapshotter_kind, str(root), str(blob), diff_id],
                          stdout=subprocess.PIPE, cwd=Path(__file__).parents[3]) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == b"start"
            time.sleep(delay)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
    sn = KINDS[snapshotter_kind](root)
    try:
        names = {i.name for i in sn.walk()}
        assert names <= {diff_id} | {n for n in names if n.startswith("extract-")}
        remove_unfinished_unpacks(sn)
        assert {i.name for i in sn.walk()} <= {diff_id}
        got = unpack_layers(sn, [LayerSource(diff_id, lambda: blob.open("rb"))])
        assert got[0].chain_id == diff_id
        assert {i.name for i in sn.walk()} == {diff_id}
        assert len(os.listdir(root / "snapshots")) == 1
        assert (sn.layer_dirs(diff_id).upper / "lib/python3.11/os.py").exists()
    finally:
        sn.close()
