"""Host port allocation without a firewall: reservations, conflicts, random ports, persistence."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from skiff.errors import Unimplemented
from skiff.network.portmap import BindFailed, PortAlreadyAllocated, PortMapper, parse_port_spec


def test_allocation_conflicts_and_release(tmp_path: Path) -> None:
    pm = PortMapper(None, tmp_path / "ports.json")
    try:
        (m,) = pm.map("a", "skx", "10.0.0.2", parse_port_spec("127.0.0.1::80"))
        assert m.host_port > 0
        # the reservation keeps anyone else off the port
        with socket.socket() as s, pytest.raises(OSError):
            s.bind(("127.0.0.1", m.host_port))
        with pytest.raises(PortAlreadyAllocated, match=f"Bind for 127.0.0.1:{m.host_port} failed: port is already"):
            pm.map("b", "skx", "10.0.0.3", parse_port_spec(f"127.0.0.1:{m.host_port}:80"))
        # 0.0.0.0 overlaps every address
        with pytest.raises(PortAlreadyAllocated, match=f"Bind for 0.0.0.0:{m.host_port} failed"):
            pm.map("b", "skx", "10.0.0.3", parse_port_spec(f"{m.host_port}:80"))
        assert pm.mappings("b") == []
        pm.unmap("a")
        with socket.socket() as s:
            s.bind(("127.0.0.1", m.host_port))
    finally:
        pm.close()


def test_busy_port_and_ipv6(tmp_path: Path) -> None:
    pm = PortMapper(None, tmp_path / "ports.json")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(BindFailed, match=f"failed to bind host port for 127.0.0.1:{port}:10.0.0.3:80/tcp: "
                                             "address already in use"):
            pm.map("b", "skx", "10.0.0.3", parse_port_spec(f"127.0.0.1:{port}:80"))
        # a range skips the busy port
        (m,) = pm.map("c", "skx", "10.0.0.3", parse_port_spec(f"127.0.0.1:{port}-{port + 1}:80"))
        assert m.host_port == port + 1
    with pytest.raises(Unimplemented):
        pm.map("d", "skx", "10.0.0.3", parse_port_spec("[::1]:8080:80"))
    pm.close()
    again = PortMapper(None, tmp_path / "ports.json")
    assert [x.host_port for x in again.mappings("c")] == [port + 1]
    assert again.restore() == []
    again.unmap("c")
    again.close()
