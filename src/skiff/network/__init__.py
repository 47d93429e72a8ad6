"""Container networking as a library: IPAM, drivers, published ports, embedded DNS, /etc files.

The engine uses ``NetworkService`` (service.py) and the pure helpers in files.py, portmap.py and
modes.py; everything below takes a network namespace *path*, never a container. Map:
  netlink.py   the only pyroute2 user (links, addresses, routes in any netns by path)
  netns.py     run code / make sockets inside a netns (setns in a helper thread)
  ipam.py      pools and addresses, persisted          iptables.py  Skiff's own chains
  driverapi.py the Driver contract                     drivers/     bridge, host, null, macvlan, ipvlan
  portmap.py   -p parsing, host ports, DNAT            dns.py       127.0.0.11 in each container
  files.py     hosts / hostname / resolv.conf          records.py   persisted networks and endpoints
"""
