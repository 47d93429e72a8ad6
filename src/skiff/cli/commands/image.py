"""``skiff image ...`` and docker's shortcuts (pull, push, tag, rmi, images, history, save, load,
import), with docker's flags, columns and progress rendering."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from skiff.cli.command import Cli, Command
from skiff.cli.commands.build import BUILD
from skiff.cli.commands.registry import auth_for_image
from skiff.cli.commands.system import GoView, parse_filter_flags
from skiff.cli.exitcodes import GENERIC, StatusError
from skiff.cli.formatting import choose_format, render_inspect, render_list
from skiff.cli.gotemplate import TemplateError
from skiff.cli.progress import display_stream
from skiff.cli.units import human_duration, human_size

__all__ = ["NOUN", "HELP", "COMMANDS", "split_reference", "normalize_name", "image_rows"]

NOUN = "image"
HELP = "Manage images"


# ---- references (client side, as docker's CLI parses them) ---------------------------------------

def split_reference(ref: str) -> tuple[str, str, str]:
    """``name[:tag][@digest]`` -> (name, tag, digest)."""
    name, _, digest = ref.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = ""
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
    return name, tag, digest


def normalize_name(name: str) -> str:
    """docker.io/library/busybox for busybox (reference.ParseNormalizedNamed's name)."""
    first, sep, _ = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return name
    if not sep:
        return f"docker.io/library/{name}"
    return f"docker.io/{name}"


def _short_id(image_id: str, trunc: bool = True) -> str:
    return image_id.removeprefix("sha256:")[:12] if trunc else image_id


def _ago(ts: float) -> str:
    return human_duration(time.time() - ts) + " ago" if ts > 0 else "N/A"


def _go_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def _render_rows(fmt: str, rows: Sequence[GoView], headers: Mapping[str, str]) -> str:
    """render_list, with ``json`` lines as Go's encoder writes them (``<``, ``>``, ``&`` escaped)."""
    if fmt.strip() == "json":
        return "".join(json.dumps(r.to_json(), separators=(",", ":"), ensure_ascii=False).replace("<", "\\u003c")
                       .replace(">", "\\u003e").replace("&", "\\u0026") + "\n" for r in rows)
    return render_list(fmt, rows, headers)


def _show(cli: Cli, messages: Iterator[Mapping[str, Any]], aux: Any = None) -> None:
    display_stream(messages, cli.out, is_tty=cli.out_is_tty, aux=aux)


# ---- pull / push -----------------------------------------------------------------------------

_PATH = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_DOMAIN = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*"
_REFERENCE = re.compile(rf"(?:(?:{_DOMAIN}|\[[0-9a-fA-F:]+\])(?::[0-9]+)?/)?{_PATH}(?:/{_PATH})*"
                        r"(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?")


def check_reference(ref: str) -> None:
    """docker's client-side reference.ParseNormalizedNamed check (before anything is sent)."""
    if _REFERENCE.fullmatch(ref):
        return
    if _REFERENCE.fullmatch(ref.lower()):  # docker's splitDockerDomain, then the lowercase check
        i = ref.find("/")
        if i < 0 or (not any(c in ref[:i] for c in ".:") and ref[:i] != "localhost" and ref[:i].lower() == ref[:i]):
            remainder = ref if "/" in ref else "library/" + ref
        else:
            remainder = ref[i + 1:]
        remote = remainder.split("@", 1)[0].split(":", 1)[0]
        if remote.lower() != remote:
            raise StatusError(GENERIC, f"invalid reference format: repository name ({remote}) must be lowercase")
    raise StatusError(GENERIC, "invalid reference format")


def _pull(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import images

    check_reference(ns.args[0])
    name, tag, digest = split_reference(ns.args[0])
    if ns.all_tags and (tag or digest):
        raise StatusError(GENERIC, "tag can't be used with --all-tags/-a")
    if not ns.all_tags and not tag and not digest:
        tag = "latest"
        if not ns.quiet:
            cli.print("Using default tag: latest")
    api_tag = digest or tag
    msgs = images.pull(cli.client, name, api_tag, ns.platform or "", auth_for_image(cli, name))
    if ns.quiet:
        for m in msgs:
            if m.get("errorDetail") or m.get("error"):
                _show(cli, iter([m]))
    else:
        _show(cli, msgs)
    full = normalize_name(name)
    if not ns.all_tags:
        full += f"@{digest}" if digest else f":{tag}"
    cli.print(full)
    return 0


def _pull_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all-tags", action="store_true", help="Download all tagged images in the repository")
    p.add_argument("--disable-content-trust", nargs="?", const="true", metavar="",
                   help="Skip image verification (default true)")
    p.add_argument("--platform", help="Set platform if server is multi-platform capable")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress verbose output")


def _push(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import images

    name, tag, digest = split_reference(ns.args[0])
    if digest:
        raise StatusError(GENERIC, "cannot push a digest reference")
    if ns.all_tags and tag:
        raise StatusError(GENERIC, "tag can't be used with --all-tags/-a")
    if not ns.all_tags and not tag:
        tag = "latest"
        if not ns.quiet:
            cli.print("Using default tag: latest")
    msgs = images.push(cli.client, name, tag, auth_for_image(cli, name))
    if ns.quiet:
        for m in msgs:
            if m.get("errorDetail") or m.get("error"):
                _show(cli, iter([m]))
        cli.print(f"{name}:{tag}" if tag else name)
    else:
        _show(cli, msgs)
    return 0


def _push_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all-tags", action="store_true", help="Push all tags of an image to the repository")
    p.add_argument("--disable-content-trust", nargs="?", const="true", metavar="",
                   help="Skip image signing (default true)")
    p.add_argument("--platform", help="Push a platform-specific manifest as a single-platform image to the registry.\n"
                   "Image index won't be pushed, meaning that other manifests, including attestations won't be "
                   "preserved.\n'os[/arch[/variant]]': Explicit platform (eg. linux/amd64)")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress verbose output")


# ---- tag / rm --------------------------------------------------------------------------------

def _tag(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import images

    name, tag, digest = split_reference(ns.args[1])
    if digest:
        raise StatusError(GENERIC, "refusing to create a tag with a digest reference")
    images.tag(cli.client, ns.args[0], name, tag or "latest")
    return 0


def _rm(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import images

    errors = []
    for name in ns.args:
        try:
            for item in images.remove(cli.client, name, force=ns.force, noprune=ns.no_prune):
                for key in ("Untagged", "Deleted"):
                    if key in item:
                        cli.print(f"{key}: {item[key]}")
        except StatusError:
            raise
        except Exception as exc:
            errors.append(str(exc))
    if errors:
        raise StatusError(GENERIC, "\n".join(errors))
    return 0


def _rm_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--force", action="store_true", help="Force removal of the image")
    p.add_argument("--no-prune", action="store_true", help="Do not delete untagged parents")
    p.add_argument("--platform", action="append", metavar="strings",
                   help="Remove only the given platform variant. Formatted as \"os[/arch[/variant]]\" (e.g., \"linux/amd64\")")


# ---- ls --------------------------------------------------------------------------------------

_LS_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
_LS_TABLE_DIGESTS = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
_LS_HEADERS = {"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "CreatedSince": "CREATED",
               "CreatedAt": "CREATED AT", "Size": "SIZE", "Digest": "DIGEST", "Containers": "CONTAINERS",
               "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE", "VirtualSize": "SIZE"}


def _split_repo(ref: str, sep: str) -> tuple[str, str]:
    if sep == ":":
        slash = ref.rfind("/")
        colon = ref.rfind(":")
        return (ref[:colon], ref[colon + 1:]) if colon > slash else (ref, "")
    repo, _, rest = ref.partition("@")
    return repo, rest


def _dangling(img: Mapping[str, Any]) -> bool:
    tags = [t for t in img.get("RepoTags") or [] if t != "<none>:<none>"]
    digests = [d for d in img.get("RepoDigests") or [] if d != "<none>@<none>"]
    return not tags and not digests


def image_rows(images: Sequence[Mapping[str, Any]], digests: bool = False, trunc: bool = True) -> list[GoView]:
    """docker's imageFormat: one row per repo:tag (x digest with --digests), <none> for dangling ones."""
    rows: list[GoView] = []
    for img in images:
        pairs: list[tuple[str, str, str]] = []
        if _dangling(img):
            pairs.append(("<none>", "<none>", "<none>"))
        else:
            repo_tags: dict[str, list[str]] = {}
            repo_digests: dict[str, list[str]] = {}
            for t in img.get("RepoTags") or []:
                if t == "<none>:<none>":
                    continue
                r, tag = _split_repo(t, ":")
                if tag:
                    repo_tags.setdefault(r, []).append(tag)
            for d in img.get("RepoDigests") or []:
                if d == "<none>@<none>":
                    continue
                r, dg = _split_repo(d, "@")
                repo_digests.setdefault(r, []).append(dg)
            for r, tags in repo_tags.items():
                dgs = repo_digests.pop(r, [])  # digests never get rows of their own beside tags
                if not digests:
                    dgs = []
                for tag in tags:
                    if not dgs:
                        pairs.append((r, tag, "<none>"))
                    pairs += [(r, tag, dg) for dg in dgs]
            for r, dgs in repo_digests.items():
                if digests:
                    pairs += [(r, "<none>", dg) for dg in dgs]
                else:
                    pairs.append((r, "<none>", ""))
        created = float(img.get("Created") or 0)
        size = int(img.get("Size") or 0)
        shared = int(img.get("SharedSize", -1) if img.get("SharedSize") is not None else -1)
        containers = int(img.get("Containers", -1) if img.get("Containers") is not None else -1)
        for repo, tag, dg in pairs:
            fields = {
                "ID": _short_id(str(img.get("Id", "")), trunc), "Repository": repo, "Tag": tag, "Digest": dg,
                "CreatedSince": _ago(created), "CreatedAt": _go_time(created),
                "Size": human_size(size, 3), "VirtualSize": human_size(size),
                "SharedSize": "N/A" if shared < 0 else human_size(shared),
                "UniqueSize": "N/A" if shared < 0 else human_size(size - shared),
                "Containers": "N/A" if containers < 0 else str(containers),
            }
            rows.append(GoView(fields, dict(sorted(fields.items())), "*formatter.imageContext"))
    return rows


def _ls(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import images

    filters = parse_filter_flags(ns.filter)
    if ns.args:
        filters.setdefault("reference", []).append(ns.args[0])
    result = images.list_images(cli.client, all=ns.all, filters=filters, digests=ns.digests)
    fmt = choose_format(ns.format, _LS_TABLE_DIGESTS if ns.digests else _LS_TABLE, ns.quiet)
    show_digests = ns.digests or "{{.Digest}}" in fmt.replace(" ", "")
    rows = image_rows(result, digests=show_digests, trunc=not ns.no_trunc)
    try:
        cli.print(_render_rows(fmt, rows, _LS_HEADERS), end="")
    except TemplateError as exc:
        raise StatusError(GENERIC, f"template parsing error: {exc}") from exc
    return 0


def _ls_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="Show all images (default hides intermediate images)")
    p.add_argument("--digests", action="store_true", help="Show digests")
    p.add_argument("-f", "--filter", action="append", help="Filter output based on conditions provided")
    p.add_argument("--format", help="Format output using a custom template")
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("-q", "--quiet", action="store_true", help="Only show image IDs")
    p.add_argument("--tree", action="store_true", help="List multi-platform images as a tree (EXPERIMENTAL)")


# ---- inspect / history -----------------------------------------------------------------------

def _inspect(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import images

    return render_inspect(cli.print, ns.format, ns.args, lambda n: images.inspect(cli.client, n))


def _inspect_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--format", help="Format output using a custom template")
    p.add_argument("--platform", help="Inspect a specific platform of the multi-platform image.\nIf the image or "
                   "the server is not multi-platform capable, the command will error out if the platform does not "
                   "match.\n'os[/arch[/variant]]': Explicit platform (eg. linux/amd64)")


_HISTORY_TABLE = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
_HISTORY_HEADERS = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
                    "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}


def _history(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import images

    human = ns.human.lower() not in ("false", "0")
    rows = []
    for h in images.history(cli.client, ns.args[0]):
        hid = str(h.get("Id", ""))
        created = float(h.get("Created") or 0)
        created_by = str(h.get("CreatedBy", "")).replace("\t", " ")
        if not ns.no_trunc and len(created_by) > 45:
            created_by = created_by[:44] + "…"
        size = int(h.get("Size") or 0)
        created_at = datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # Go's RFC3339
        since = _ago(created) if human else created_at
        fields = {"Comment": str(h.get("Comment", "")), "CreatedAt": created_at, "CreatedBy": created_by,
                  "CreatedSince": since, "ID": hid if hid == "<missing>" or ns.no_trunc else _short_id(hid),
                  "Size": human_size(size, 3) if human else str(size)}
        rows.append(GoView(fields, fields, "*image.historyContext"))  # docker has no .Tags here
    fmt = choose_format(ns.format, _HISTORY_TABLE if human else _HISTORY_TABLE.replace("CreatedSince", "CreatedAt"),
                        ns.quiet)
    try:
        cli.print(_render_rows(fmt, rows, _HISTORY_HEADERS), end="")
    except TemplateError as exc:
        raise StatusError(GENERIC, f"template parsing error: {exc}") from exc
    return 0


def _history_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", help="Format output using a custom template")
    p.add_argument("-H", dest="human", action="store_const", const="true", default="true", help=argparse.SUPPRESS)
    human = p.add_argument("--human", dest="human", nargs="?", const="true", default="true", metavar="",
                           help="Print sizes and dates in human readable format (default true)")
    human.shorthand = "H"  # type: ignore[attr-defined]  # shown as docker's "-H, --human" in --help
    # pflag's -H=false (argparse would take "false" as an argument a store_const refuses)
    p.add_argument("-H=false", "-H=0", "-H=False", dest="human", action="store_const", const="false",
                   help=argparse.SUPPRESS)
    p.add_argument("-H=true", "-H=1", "-H=True", dest="human", action="store_const", const="true",
                   help=argparse.SUPPRESS)
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("--platform", help="Show history for the given platform. Formatted as \"os[/arch[/variant]]\" (e.g., \"linux/amd64\")")
    p.add_argument("-q", "--quiet", action="store_true", help="Only show image IDs")


# ---- save / load / import --------------------------------------------------------------------

def _save(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import images

    if ns.output:
        tmp = ns.output + ".skiff-save.tmp"
        try:
            with open(tmp, "wb") as f:
                for chunk in images.save(cli.client, ns.args):
                    f.write(chunk)
            os.replace(tmp, ns.output)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return 0
    out = sys.stdout.buffer
    if out.isatty():
        raise StatusError(GENERIC, "cowardly refusing to save to a terminal. Use the -o flag or redirect")
    for chunk in images.save(cli.client, ns.args):
        out.write(chunk)
    out.flush()
    return 0


def _save_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", help="Write to a file, instead of STDOUT")
    p.add_argument("--platform", action="append", metavar="string", help="Save only the given platform variant. Formatted as \"os[/arch[/variant]]\" (e.g., \"linux/amd64\")")


def _load(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import images

    if ns.input:
        try:
            with open(ns.input, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise StatusError(GENERIC, f"open {ns.input}: {exc.strerror.lower() if exc.strerror else exc}") from exc
    else:
        if sys.stdin.isatty():
            raise StatusError(GENERIC, "requested load from stdin, but stdin is empty")
        data = sys.stdin.buffer.read()
    quiet = ns.quiet or not cli.out_is_tty
    _show(cli, images.load(cli.client, data, quiet=quiet))
    return 0


def _load_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-i", "--input", help="Read from tar archive file, instead of STDIN")
    p.add_argument("--platform", action="append", metavar="string", help="Load only the given platform variant. Formatted as \"os[/arch[/variant]]\" (e.g., \"linux/amd64\")")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress the load output")


def _import(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import images

    source = ns.args[0]
    repo = ns.args[1] if len(ns.args) > 1 else ""
    data: bytes | None = None
    if source == "-":
        data = sys.stdin.buffer.read()
    elif source.startswith(("http://", "https://")):
        data = None
    else:
        try:
            with open(source, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise StatusError(GENERIC, f"open {source}: {exc.strerror.lower() if exc.strerror else exc}") from exc
        source = "-"
    _show(cli, images.import_image(cli.client, source, data, repo=repo, message=ns.message or "",
                                   changes=ns.change or [], platform=ns.platform or ""))
    return 0


def _import_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--change", action="append", help="Apply Dockerfile instruction to the created image")
    p.add_argument("-m", "--message", help="Set commit message for imported image")
    p.add_argument("--platform", help="Set platform if server is multi-platform capable")


# ---- prune -----------------------------------------------------------------------------------

def _prune(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.cli.commands.system import _confirm
    from skiff.client import images

    filters = parse_filter_flags(ns.filter)
    if ns.all:
        filters["dangling"] = ["false"]
        warning = "WARNING! This will remove all images without at least one container associated to them."
    else:
        warning = "WARNING! This will remove all dangling images."
    if not ns.force and not _confirm(cli, warning):
        raise StatusError(0)  # docker: a cancelled prune prints nothing more, exit 0
    report = images.prune(cli.client, filters)
    deleted = report.get("ImagesDeleted") or []
    if deleted:
        cli.print("Deleted Images:")
        for item in deleted:
            if item.get("Untagged"):
                cli.print(f"untagged: {item['Untagged']}")
            if item.get("Deleted"):
                cli.print(f"deleted: {item['Deleted']}")
        cli.print()
    cli.print(f"Total reclaimed space: {human_size(int(report.get('SpaceReclaimed') or 0))}")
    return 0


def _prune_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="Remove all unused images, not just dangling ones")
    p.add_argument("--filter", action="append", help="Provide filter values (e.g. \"until=<timestamp>\")")
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")


COMMANDS = [
    Command("ls", "List images", _ls, usage="[OPTIONS] [REPOSITORY[:TAG]]", setup=_ls_flags, aliases=("list",),
            args=(0, 1)),
    Command("pull", "Download an image from a registry", _pull, usage="[OPTIONS] NAME[:TAG|@DIGEST]",
            setup=_pull_flags, args=(1, 1)),
    Command("push", "Upload an image to a registry", _push, usage="[OPTIONS] NAME[:TAG]", setup=_push_flags,
            args=(1, 1)),
    Command("tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", _tag,
            usage="SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", args=(2, 2)),
    Command("rm", "Remove one or more images", _rm, usage="[OPTIONS] IMAGE [IMAGE...]", setup=_rm_flags,
            aliases=("remove",), args=(1, None)),
    Command("inspect", "Display detailed information on one or more images", _inspect,
            usage="[OPTIONS] IMAGE [IMAGE...]", setup=_inspect_flags, args=(1, None)),
    Command("history", "Show the history of an image", _history, usage="[OPTIONS] IMAGE", setup=_history_flags,
            args=(1, 1)),
    Command("save", "Save one or more images to a tar archive (streamed to STDOUT by default)", _save,
            usage="[OPTIONS] IMAGE [IMAGE...]", setup=_save_flags, args=(1, None)),
    Command("load", "Load an image from a tar archive or STDIN", _load, setup=_load_flags),
    Command("import", "Import the contents from a tarball to create a filesystem image", _import,
            usage="[OPTIONS] file|URL|- [REPOSITORY[:TAG]]", setup=_import_flags, args=(1, 2)),
    Command("prune", "Remove unused images", _prune, setup=_prune_flags),
    BUILD,  # skiff image build (cli/commands/build.py)
]
