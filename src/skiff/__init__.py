"""Skiff: a Docker-compatible container engine for Linux, written in Python."""

__version__ = "0.1.0"
