"""``skiff login``, ``logout``, ``search`` and the credential store the docker CLI uses.

Credentials live in ``<config dir>/config.json`` (``~/.docker`` or ``$DOCKER_CONFIG``) exactly as
docker writes them: ``{"auths": {"<server>": {"auth": base64("user:password")}}}``, or in a
credential helper (``credsStore`` / ``credHelpers`` name ``docker-credential-<name>``, speaking
``get``/``store``/``erase`` on stdin/stdout), so docker and skiff share logins both ways.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from typing import Any

from skiff.cli.command import Cli, Command
from skiff.cli.exitcodes import GENERIC, StatusError
from skiff.cli.formatting import choose_format, render_list
from skiff.cli.gotemplate import TemplateError

__all__ = ["NOUN", "HELP", "COMMANDS", "CredentialStore", "INDEX_SERVER", "registry_of", "auth_for_image"]

NOUN = "registry"
HELP = "Registry commands (login, logout, search)"

INDEX_SERVER = "https://index.docker.io/v1/"
_HUB_NAMES = ("docker.io", "index.docker.io", "registry-1.docker.io", INDEX_SERVER.rstrip("/"), INDEX_SERVER)


def registry_of(image: str) -> str:
    """The registry an image name lives in (docker's reference.Domain), as config.json keys it."""
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return INDEX_SERVER if first in ("docker.io", "index.docker.io") else first
    return INDEX_SERVER


def server_key(server: str) -> str:
    """docker's login address: the Hub's is ``https://index.docker.io/v1/``; others lose the scheme/path."""
    s = server.strip()
    if not s or s in _HUB_NAMES:
        return INDEX_SERVER
    for prefix in ("https://", "http://"):
        if s.startswith(prefix):
            s = s[len(prefix):]
    s = s.split("/", 1)[0]
    return INDEX_SERVER if s in _HUB_NAMES else s


class CredentialStore:
    """Reads and writes docker's config.json (and its credential helpers)."""

    def __init__(self, config_dir: str) -> None:
        self.dir = config_dir
        self.path = os.path.join(config_dir, "config.json")

    def load(self) -> dict[str, Any]:
        try:
            with open(self.path, encoding="utf-8") as f:
                doc = json.load(f)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise StatusError(GENERIC, f"loading config file {self.path}: {exc}") from exc
        return doc if isinstance(doc, dict) else {}

    def save(self, doc: Mapping[str, Any]) -> None:
        """Atomic rewrite, mode 0600 like docker (the file holds secrets)."""
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix="config.json.", dir=self.dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(doc, f, indent="\t")
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def helper_for(self, server: str, doc: Mapping[str, Any] | None = None) -> str:
        doc = self.load() if doc is None else doc
        helpers = doc.get("credHelpers") or {}
        if isinstance(helpers, dict) and helpers.get(server):
            return str(helpers[server])
        return str(doc.get("credsStore") or "")

    def get(self, server: str) -> dict[str, str]:
        """Docker's AuthConfig for ``server`` (``{}`` when not logged in)."""
        key = server_key(server)
        doc = self.load()
        helper = self.helper_for(key, doc)
        if helper:
            out = _helper(helper, "get", key)
            if out is None:
                return {}
            try:
                cred = json.loads(out)
            except ValueError:
                return {}
            user, secret = str(cred.get("Username", "")), str(cred.get("Secret", ""))
            if user == "<token>":
                return {"identitytoken": secret, "serveraddress": key}
            return {"username": user, "password": secret, "serveraddress": key}
        entry = (doc.get("auths") or {}).get(key) or {}
        if not entry and key != INDEX_SERVER:  # entries written with a scheme, as older clients did
            for k, v in (doc.get("auths") or {}).items():
                if server_key(k) == key:
                    entry = v or {}
                    break
        if not isinstance(entry, dict) or not entry:
            return {}
        result: dict[str, str] = {"serveraddress": key}
        if entry.get("auth"):
            try:
                user, _, pw = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                user, pw = "", ""
            result.update(username=user, password=pw)
        if entry.get("identitytoken"):
            result["identitytoken"] = str(entry["identitytoken"])
        return result

    def store(self, server: str, username: str, password: str, identity_token: str = "") -> bool:
        """Save a login; True when it went to the plain file (docker warns then)."""
        key = server_key(server)
        doc = self.load()
        helper = self.helper_for(key, doc)
        if helper:
            user, secret = (("<token>", identity_token) if identity_token else (username, password))
            payload = json.dumps({"ServerURL": key, "Username": user, "Secret": secret})
            if _helper(helper, "store", payload) is None:
                raise StatusError(GENERIC, f"Error saving credentials: error storing credentials - "
                                           f"docker-credential-{helper} failed")
            doc.setdefault("auths", {})[key] = {}
            self.save(doc)
            return False
        entry: dict[str, str] = {"auth": base64.b64encode(f"{username}:{password}".encode()).decode()}
        if identity_token:
            entry = {"auth": base64.b64encode(f"{username}:".encode()).decode(), "identitytoken": identity_token}
        doc.setdefault("auths", {})[key] = entry
        self.save(doc)
        return True

    def erase(self, server: str) -> bool:
        """Forget a login; False when there was none."""
        key = server_key(server)
        doc = self.load()
        auths = doc.get("auths") or {}
        found = key in auths
        helper = self.helper_for(key, doc)
        if helper:
            found = _helper(helper, "erase", key) is not None or found
        if key in auths:
            del auths[key]
            doc["auths"] = auths
            self.save(doc)
        return found


def _helper(name: str, action: str, data: str) -> str | None:
    """Run ``docker-credential-<name> <action>`` with ``data`` on stdin; None when it fails."""
    try:
        p = subprocess.run([f"docker-credential-{name}", action], input=data, capture_output=True, text=True,
                           timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return p.stdout if p.returncode == 0 else None


def auth_for_image(cli: Cli, image: str) -> dict[str, str]:
    """What goes in X-Registry-Auth for pulling or pushing ``image``."""
    return CredentialStore(cli.config_dir).get(registry_of(image))


# ---- login / logout --------------------------------------------------------------------------

def _read_line(prompt: str, cli: Cli, secret: bool = False) -> str:
    if secret and sys.stdin.isatty():
        import getpass

        return getpass.getpass(prompt)
    cli.out.write(prompt)
    cli.out.flush()
    return sys.stdin.readline().rstrip("\r\n")


def _login(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import images

    server = ns.args[0] if ns.args else INDEX_SERVER
    key = server_key(server)
    store = CredentialStore(cli.config_dir)
    username, password = ns.username or "", ns.password or ""
    if ns.password_stdin:
        if ns.password:
            raise StatusError(GENERIC, "--password and --password-stdin are mutually exclusive")
        if not username:
            raise StatusError(GENERIC, "Must provide --username with --password-stdin")
        password = sys.stdin.read().rstrip("\r\n")
    elif ns.password:
        cli.warn("WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
    if not username and not password:  # maybe already logged in: docker tries the saved credentials
        saved = store.get(key)
        if saved.get("username") and saved.get("password"):
            try:
                images.login(cli.client, saved["username"], saved["password"], key)
                cli.print(f"Authenticating with existing credentials... [Username: {saved['username']}]")
                cli.print("Login Succeeded")
                return 0
            except Exception:
                pass
    if not username:
        if not sys.stdin.isatty() and not ns.username:
            raise StatusError(GENERIC, "Error: Cannot perform an interactive login from a non TTY device")
        username = _read_line("Username: ", cli).strip()
    if not username:
        raise StatusError(GENERIC, "Error: Non-null Username Required")
    if not password:
        password = _read_line("Password: ", cli, secret=True)
    if not password:
        raise StatusError(GENERIC, "Error: Password Required")
    reply = images.login(cli.client, username, password, key)
    token = str(reply.get("IdentityToken") or "")
    if store.store(key, username, "" if token else password, token):
        cli.warn(f"WARNING! Your credentials are stored unencrypted in '{store.path}'.\n"
                 "Configure a credential helper to remove this warning. See\n"
                 "https://docs.docker.com/go/credential-store/\n")
    cli.print(str(reply.get("Status") or "Login Succeeded"))
    return 0


def _login_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-u", "--username", help="Username")
    p.add_argument("-p", "--password", help="Password or Personal Access Token (PAT)")
    p.add_argument("--password-stdin", action="store_true", help="Take the Password or PAT from stdin")


def _logout(cli: Cli, ns: argparse.Namespace) -> int:
    server = ns.args[0] if ns.args else INDEX_SERVER
    key = server_key(server)
    store = CredentialStore(cli.config_dir)
    if not store.erase(key):
        cli.print(f"Not logged in to {key}")
        return 0
    cli.print(f"Removing login credentials for {key}")
    return 0


# ---- search ----------------------------------------------------------------------------------

_SEARCH_TABLE = "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}"
_SEARCH_HEADERS = {"Name": "NAME", "Description": "DESCRIPTION", "StarCount": "STARS", "IsOfficial": "OFFICIAL",
                   "IsAutomated": "AUTOMATED"}


def _search(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.cli.commands.system import parse_filter_flags
    from skiff.client import images

    results = images.search(cli.client, ns.args[0], ns.limit, parse_filter_flags(ns.filter))
    rows = []
    for r in results:
        desc = " ".join(str(r.get("description") or "").split())
        if not ns.no_trunc and len(desc) > 45:
            desc = desc[:44] + "…"
        rows.append({"Name": r.get("name", ""), "Description": desc, "StarCount": str(r.get("star_count", 0)),
                     "IsOfficial": "[OK]" if r.get("is_official") else "",
                     "IsAutomated": "[OK]" if r.get("is_automated") else ""})
    try:
        cli.print(render_list(choose_format(ns.format, _SEARCH_TABLE), rows, _SEARCH_HEADERS), end="")
    except TemplateError as exc:
        raise StatusError(GENERIC, f"template parsing error: {exc}") from exc
    return 0


def _search_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--filter", action="append", help="Filter output based on conditions provided")
    p.add_argument("--format", help="Pretty-print search using a Go template")
    p.add_argument("--limit", type=int, default=None, help="Max number of search results")
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")


COMMANDS = [
    Command("login", "Authenticate to a registry", _login, usage="[OPTIONS] [SERVER]", setup=_login_flags,
            args=(0, 1)),
    Command("logout", "Log out from a registry", _logout, usage="[SERVER]", args=(0, 1)),
    Command("search", "Search Docker Hub for images", _search, usage="[OPTIONS] TERM", setup=_search_flags,
            args=(1, 1)),
]
