"""The engine: small services by resource over a shared state store and event bus.

Frame pieces here: ``config`` (daemon.json + flags), ``state`` (SQLite WAL store), ``events``
(the bus), ``filters`` (Docker's filters parameter), ``system`` (/info, /version, /system/df).
Resource services (containers, images, networks, volumes, builds) live beside them, one module or
package each, and are wired together only in ``skiff.daemon``.
"""
