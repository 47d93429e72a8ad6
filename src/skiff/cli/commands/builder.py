"""``skiff builder build|prune``: the noun module; the commands live in cli/commands/build.py."""

from __future__ import annotations

from skiff.cli.commands.build import BUILD, PRUNE

__all__ = ["NOUN", "HELP", "COMMANDS"]

NOUN = "builder"
HELP = "Manage builds"
COMMANDS = [BUILD, PRUNE]
