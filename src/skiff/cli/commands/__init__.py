"""The command tree: which module implements each noun, and docker's top-level shortcuts.

Add a noun by creating ``skiff/cli/commands/<noun>.py`` with ``NOUN``, ``HELP``, ``COMMANDS``
(see ``skiff.cli.command``). The nouns and shortcuts docker has are listed already; a listed
module that does not exist yet answers "not implemented yet".
"""

from __future__ import annotations

__all__ = ["NOUNS", "SHORTCUTS", "module_for"]

# noun -> one-line help (module: skiff.cli.commands.<noun>)
NOUNS: dict[str, str] = {
    "builder": "Manage builds",
    "container": "Manage containers",
    "image": "Manage images",
    "network": "Manage networks",
    "system": "Manage Docker",
    "volume": "Manage volumes",
}

# Modules that carry commands without being a docker noun (hidden from `skiff --help` nouns).
HIDDEN_NOUNS: dict[str, str] = {
    "registry": "Registry commands (login, logout, search)",
    "compose": "Docker Compose",
}

# top-level word -> (noun, verb)
SHORTCUTS: dict[str, tuple[str, str]] = {
    # containers
    "attach": ("container", "attach"), "commit": ("container", "commit"), "cp": ("container", "cp"),
    "create": ("container", "create"), "diff": ("container", "diff"), "exec": ("container", "exec"),
    "export": ("container", "export"), "kill": ("container", "kill"), "logs": ("container", "logs"),
    "pause": ("container", "pause"), "port": ("container", "port"), "ps": ("container", "ls"),
    "rename": ("container", "rename"), "restart": ("container", "restart"), "rm": ("container", "rm"),
    "run": ("container", "run"), "start": ("container", "start"), "stats": ("container", "stats"),
    "stop": ("container", "stop"), "top": ("container", "top"), "unpause": ("container", "unpause"),
    "update": ("container", "update"), "wait": ("container", "wait"),
    # images
    "build": ("builder", "build"), "history": ("image", "history"), "images": ("image", "ls"),
    "import": ("image", "import"), "load": ("image", "load"), "pull": ("image", "pull"),
    "push": ("image", "push"), "rmi": ("image", "rm"), "save": ("image", "save"),
    "tag": ("image", "tag"),
    # registry
    "login": ("registry", "login"), "logout": ("registry", "logout"), "search": ("registry", "search"),
    # system
    "events": ("system", "events"), "info": ("system", "info"), "inspect": ("system", "inspect"),
    "version": ("system", "version"),
}


def module_for(noun: str) -> str:
    return f"skiff.cli.commands.{noun}"
