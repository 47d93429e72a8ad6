"""The Docker Engine API server: one module per resource, each opening with its route table.

Frame: ``server`` (aiohttp app, middleware, listeners), ``routes`` (Route, assembly),
``backends`` (Protocols + the Services registry), ``versions``, ``errors`` (THE class -> status
map), ``streams`` (JSON progress, stdio frames, hijack), ``httputil`` (request helpers).
"""
