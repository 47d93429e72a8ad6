"""docker system df figures from a /system/df reply."""

from __future__ import annotations

import io

from skiff.cli.command import Cli
from skiff.cli.commands.system import _df_verbose, df_rows


def test_rows() -> None:
    du = {
        "LayersSize": 10_000_000,
        "Images": [{"Size": 6_000_000, "SharedSize": 0, "Containers": 1},
                   {"Size": 4_000_000, "SharedSize": 0, "Containers": 0}],
        "Containers": [{"State": "running", "SizeRw": 100}, {"State": "exited", "SizeRw": 300}],
        "Volumes": [{"UsageData": {"RefCount": 0, "Size": 2000}}, {"UsageData": {"RefCount": 1, "Size": -1}}],
        "BuildCache": [{"Size": 500, "InUse": False, "Shared": False}, {"Size": 7, "InUse": True}],
    }
    rows = {r["Type"]: r for r in df_rows(du)}
    assert rows["Images"] == {"Type": "Images", "TotalCount": 2, "Active": 1, "Size": "10MB",
                              "Reclaimable": "4MB (40%)"}
    assert rows["Containers"]["Reclaimable"] == "300B (75%)" and rows["Containers"]["Active"] == 1
    assert rows["Local Volumes"]["Size"] == "2kB" and rows["Local Volumes"]["Reclaimable"] == "2kB (100%)"
    assert rows["Build Cache"]["Size"] == "507B" and rows["Build Cache"]["Active"] == 1
    assert df_rows({})[0]["Reclaimable"] == "0B"


def test_verbose_empty_matches_docker_layout() -> None:
    out = io.StringIO()
    _df_verbose(Cli(out=out), {})
    assert out.getvalue().splitlines() == [
        "Images space usage:", "",
        "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE      SHARED SIZE   UNIQUE SIZE   CONTAINERS", "",
        "Containers space usage:", "",
        "CONTAINER ID   IMAGE     COMMAND   LOCAL VOLUMES   SIZE      CREATED   STATUS    NAMES", "",
        "Local Volumes space usage:", "",
        "VOLUME NAME   LINKS     SIZE", "",
        "Build cache usage: 0B", "",
        "CACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED",
    ]
