"""Image transports: where images live (registry, local store, docker-archive, OCI layout).

Each transport gives an ImageSource and/or an ImageDestination (``base.py``); ``skiff.image.copy``
moves one image from any source to any destination, so pull, push, save and load are one pipeline.
"""
