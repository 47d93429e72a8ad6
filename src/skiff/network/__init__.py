"""Container networking as a library: IPAM, drivers, published ports, embedded DNS, /etc files.

The engine uses ``sandbox.ContainerNetworking`` (attach/detach a container) and
``service.NetworkService`` (the /networks API); see README.md here. Everything below takes a network
namespace *path*, never a container. Map:
  service.py   networks and endpoints, persisted, restored   sandbox.py  a container's attach/detach
  records.py   persisted records and Docker JSON shapes       modes.py    --network values
  netlink.py   the only pyroute2 user (links, addresses, routes in any netns by path)
  netns.py     run code / make sockets in a netns; netns files          sysctl.py  journaled sysctls
  ipam.py      pools and addresses                            iptables.py Skiff's own chains
  driverapi.py the Driver contract      drivers/  bridge, host, null, macvlan, ipvlan (sublink.py)
  portmap.py   -p parsing, host ports, DNAT                   dns.py      127.0.0.11 (dnswire.py)
  files.py     hosts / hostname / resolv.conf
"""
