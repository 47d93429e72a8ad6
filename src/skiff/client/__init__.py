"""The Engine API client: speaks HTTP to skiffd or dockerd, never imports the server side.

``APIClient`` (transport + version negotiation), ``errors`` (THE status -> class map), and one
module per resource (``system``; others add ``containers``, ``images``, ...), each a set of
functions taking the client and returning Docker's JSON as dicts.
"""

from skiff.client.api import APIClient
from skiff.client.errors import DaemonError, DaemonUnreachable

__all__ = ["APIClient", "DaemonError", "DaemonUnreachable"]
