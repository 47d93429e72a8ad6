"""linux.resources parsing and the v1 -> v2 value conversions."""

from __future__ import annotations

import pytest

from skiff.errors import InvalidParameter
from skiff.runtime.cgroups.convert import blkio_weight_to_io_weight, cpu_max, shares_to_weight, swap_to_v2
from skiff.runtime.specconv_resources import (
    DEFAULT_ALLOWED_DEVICES,
    DeviceRule,
    Resources,
    ThrottleDevice,
    resources_from_oci,
    resources_to_oci,
    update_resources,
)


def test_shares_to_weight_matches_runc() -> None:
    assert shares_to_weight(0) == 0
    assert shares_to_weight(2) == 1
    assert shares_to_weight(1024) == 39
    assert shares_to_weight(262144) == 10000


def test_blkio_weight_to_io_weight() -> None:
    assert blkio_weight_to_io_weight(0) == 0
    assert blkio_weight_to_io_weight(10) == 1
    assert blkio_weight_to_io_weight(500) == 4950
    assert blkio_weight_to_io_weight(1000) == 10000


@pytest.mark.parametrize(("swap", "mem", "want"), [
    (0, -1, -1),  # unlimited memory, unset swap: unlimited swap
    (-1, 100, -1),
    (0, 100, 0),
    (300, 100, 200),
    (100, 100, 0),
])
def test_swap_to_v2(swap: int, mem: int, want: int) -> None:
    assert swap_to_v2(swap, mem) == want


@pytest.mark.parametrize(("swap", "mem", "msg"), [
    (200, 0, "without memory limit"),
    (50, 100, ">= memory limit"),
])
def test_swap_to_v2_refuses(swap: int, mem: int, msg: str) -> None:
    with pytest.raises(InvalidParameter, match=msg):
        swap_to_v2(swap, mem)


def test_cpu_max() -> None:
    assert cpu_max(None, None) is None
    assert cpu_max(50000, 100000) == "50000 100000"
    assert cpu_max(-1, None) == "max"
    assert cpu_max(None, 200000) == "max 200000"
    assert cpu_max(20000, None) == "20000"


def test_full_spec_parses() -> None:
    r = resources_from_oci({
        "memory": {"limit": 1 << 20, "reservation": 1 << 19, "swap": 2 << 20, "swappiness": 10,
                   "disableOOMKiller": True},
        "cpu": {"shares": 512, "quota": 20000, "period": 100000, "cpus": "0-1", "mems": "0",
                "realtimeRuntime": 950, "realtimePeriod": 1000},
        "pids": {"limit": 32},
        "blockIO": {"weight": 300, "leafWeight": 200, "weightDevice": [{"major": 8, "minor": 0, "weight": 500}],
                    "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1024}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 20}],
        "devices": [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 1, "minor": 3,
                                                        "access": "rw"}],
        "unified": {"memory.high": "1000000"},
    })
    assert (r.memory, r.memory_reservation, r.memory_swap, r.memory_swappiness) == (1 << 20, 1 << 19, 2 << 20, 10)
    assert r.oom_kill_disable is True
    assert (r.cpu_shares, r.cpu_quota, r.cpu_period, r.cpuset_cpus, r.cpuset_mems) == (512, 20000, 100000, "0-1", "0")
    assert r.pids_limit == 32
    assert r.blkio_weight == 300 and r.blkio_weight_device[0].weight == 500
    assert r.blkio_throttle_read_bps == (ThrottleDevice(8, 0, 1024),)
    assert r.hugepage_limits[0].page_size == "2MB"
    assert r.devices is not None
    assert r.devices[:2] == (DeviceRule(False, "a", -1, -1, "rwm"), DeviceRule(True, "c", 1, 3, "rw"))
    assert r.devices[2:] == DEFAULT_ALLOWED_DEVICES
    assert r.unified == (("memory.high", "1000000"),)


def test_empty_is_all_unset_but_default_devices() -> None:
    r = resources_from_oci(None)
    assert r.memory is None and r.pids_limit is None and r.cpu_shares is None
    assert r.devices == DEFAULT_ALLOWED_DEVICES


def test_swappiness_minus_one_is_unset() -> None:
    assert resources_from_oci({"memory": {"swappiness": -1}}).memory_swappiness is None
    assert resources_from_oci({"memory": {"swappiness": 2**64 - 1}}).memory_swappiness is None


@pytest.mark.parametrize(("raw", "msg"), [
    ({"memory": {"limit": "1g"}}, "memory.limit must be an integer"),
    ({"memory": {"limit": 100, "swap": 50}}, "memory\\+swap limit should be >= memory limit"),
    ({"memory": {"swappiness": 101}}, "swappiness"),
    ({"cpu": {"cpus": "a-b"}}, "cpu.cpus"),
    ({"cpu": {"shares": -5}}, "cpu.shares"),
    ({"blockIO": {"weight": 5}}, "blockIO.weight"),
    ({"blockIO": {"weightDevice": [{"weight": 100}]}}, "needs major and minor"),
    ({"devices": [{"allow": "yes"}]}, "allow must be true or false"),
    ({"devices": [{"allow": True, "type": "x"}]}, "type"),
    ({"devices": [{"allow": True, "access": "rwx"}]}, "access"),
    ({"hugepageLimits": [{"pageSize": "2M", "limit": 1}]}, "pageSize"),
    ({"unified": {"../x": "1"}}, "unified key"),
    ({"memory": 5}, "memory must be an object"),
])
def test_invalid_values_are_refused(raw: dict, msg: str) -> None:
    with pytest.raises(InvalidParameter, match=msg):
        resources_from_oci(raw)


def test_device_rule_v1_lines() -> None:
    assert DeviceRule(False).v1_line() == "a"
    assert DeviceRule(True, "c", 1, 3, "rwm").v1_line() == "c 1:3 rwm"
    assert DeviceRule(True, "c", 136, -1, "rwm").v1_line() == "c 136:* rwm"
    assert DeviceRule(True, "b", -1, -1, "m").v1_line() == "b *:* m"


def test_update_keeps_unset_fields_and_skips_devices() -> None:
    cur = resources_from_oci({"memory": {"limit": 100 << 20}, "cpu": {"shares": 512}, "pids": {"limit": 10}})
    new = update_resources(cur, {"pids": {"limit": 20}, "cpu": {"quota": 5000}})
    assert new.pids_limit == 20 and new.cpu_quota == 5000
    assert new.cpu_shares == 512 and new.memory == 100 << 20
    assert new.devices is None


def test_update_memory_raises_swap_with_it() -> None:
    cur = Resources(memory=100, memory_swap=200)
    assert update_resources(cur, {"memory": {"limit": 300}}).memory_swap == 300
    assert update_resources(cur, {"memory": {"limit": 150}}).memory_swap == 200
    assert update_resources(cur, {"memory": {"limit": -1}}).memory_swap == -1
    with pytest.raises(InvalidParameter):
        update_resources(cur, {"memory": {"limit": 300, "swap": 250}})


def test_round_trip_through_oci_json() -> None:
    raw = {"memory": {"limit": 1 << 20, "swap": 2 << 20}, "cpu": {"shares": 100, "cpus": "0"},
           "pids": {"limit": 5}, "blockIO": {"throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 9}]},
           "devices": [{"allow": False, "access": "rwm"}]}
    r = resources_from_oci(raw)
    assert resources_from_oci(resources_to_oci(r), default_devices=False) == r


def test_kernel_tcp_kept_and_kmem_ignored() -> None:
    r = resources_from_oci({"memory": {"kernel": 1 << 20, "kernelTCP": 2 << 20}})
    assert r.memory_kernel_tcp == 2 << 20
    assert resources_to_oci(r)["memory"] == {"kernelTCP": 2 << 20}


def test_network_resources() -> None:
    r = resources_from_oci({"network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 5}]}})
    assert r.net_cls_classid == 1048577 and r.net_prio_ifpriomap == (("eth0", 5),)
    assert resources_to_oci(r)["network"] == {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 5}]}
    with pytest.raises(InvalidParameter, match="name"):
        resources_from_oci({"network": {"priorities": [{"priority": 5}]}})
