"""Rules in Skiff's own iptables chains, and the jumps into them from the built-in chains.

Why iptables (here the nf_tables backend, ``iptables-nft``) rather than a private nft table: a
netfilter table of our own cannot override a DROP verdict in someone else's table, and dockerd sets
the filter FORWARD policy to DROP. Living in the same ``filter``/``nat`` tables as the host's own
rules, with one jump at the top of FORWARD/PREROUTING/OUTPUT/POSTROUTING, Skiff's traffic is
accepted whoever else runs there, and every rule it adds is in a chain whose name starts with SKIFF.

Rules are given as argument lists (``["-o", "skiff0", "-j", "ACCEPT"]``). Adding checks first
(``-C``), deleting ignores a missing rule, so setup and cleanup are idempotent.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from skiff.errors import System

__all__ = ["FirewallError", "Rule", "Iptables", "BASE_CHAINS", "JUMPS"]


class FirewallError(System):
    """An iptables command failed; carries the command and its stderr."""


@dataclass(frozen=True)
class Rule:
    table: str
    chain: str
    args: tuple[str, ...]


# Skiff's chains, by table.
BASE_CHAINS: dict[str, tuple[str, ...]] = {
    "filter": ("SKIFF-FORWARD", "SKIFF-CT", "SKIFF", "SKIFF-ISOLATION-STAGE-1", "SKIFF-ISOLATION-STAGE-2"),
    "nat": ("SKIFF", "SKIFF-POSTROUTING"),
}
# (table, built-in chain, jump rule): inserted once at the top, removed with the last user.
JUMPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("filter", "FORWARD", ("-j", "SKIFF-FORWARD")),
    ("nat", "PREROUTING", ("-m", "addrtype", "--dst-type", "LOCAL", "-j", "SKIFF")),
    ("nat", "OUTPUT", ("-m", "addrtype", "--dst-type", "LOCAL", "-j", "SKIFF")),
    ("nat", "POSTROUTING", ("-j", "SKIFF-POSTROUTING")),
)
# Fixed head of SKIFF-FORWARD: replies to Skiff's bridges (SKIFF-CT), published ports (SKIFF), then
# isolation between networks; each bridge's own block is appended after these.
FORWARD_HEAD: tuple[tuple[str, ...], ...] = (
    ("-j", "SKIFF-CT"),
    ("-j", "SKIFF"),
    ("-j", "SKIFF-ISOLATION-STAGE-1"),
)


class Iptables:
    """A thin runner for one binary (iptables or ip6tables), serialised by a lock and ``-w``.

    Rules are written with Skiff's chain names (SKIFF, SKIFF-FORWARD, ...); ``prefix`` renames them
    all at execution time, so tests can run their own set of chains (e.g. "SKT") beside a live
    daemon's without touching it."""

    def __init__(self, binary: str = "iptables", prefix: str = "SKIFF") -> None:
        self.binary = shutil.which(binary) or binary
        self.prefix = prefix
        self._lock = threading.Lock()
        self._base_ready = False

    def chain(self, name: str) -> str:
        """Skiff's chain name -> the name used in the kernel."""
        if name == "SKIFF" or name.startswith("SKIFF-"):
            return self.prefix + name[5:]
        return name

    def _tr(self, rule: Rule) -> tuple[str, str, list[str]]:
        args = list(rule.args)
        for i, a in enumerate(args[:-1]):
            if a in ("-j", "-g"):
                args[i + 1] = self.chain(args[i + 1])
        return rule.table, self.chain(rule.chain), args

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [self.binary, "-w", "5", *args]
        with self._lock:
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise FirewallError(f"{' '.join(cmd)}: {proc.stderr.strip()}")
        return proc

    def chain_exists(self, table: str, chain: str) -> bool:
        return self.run("-t", table, "-n", "-L", self.chain(chain), check=False).returncode == 0

    def ensure_chain(self, table: str, chain: str) -> None:
        chain = self.chain(chain)
        if not self.chain_exists(table, chain):
            proc = self.run("-t", table, "-N", chain, check=False)
            if proc.returncode != 0 and not self.chain_exists(table, chain):
                raise FirewallError(f"create chain {table}/{chain}: {proc.stderr.strip()}")

    def delete_chain(self, table: str, chain: str) -> None:
        chain = self.chain(chain)
        if self.chain_exists(table, chain):
            self.run("-t", table, "-F", chain, check=False)
            self.run("-t", table, "-X", chain, check=False)

    def exists(self, rule: Rule) -> bool:
        table, chain, args = self._tr(rule)
        return self.run("-t", table, "-C", chain, *args, check=False).returncode == 0

    def append(self, rule: Rule) -> None:
        if not self.exists(rule):
            table, chain, args = self._tr(rule)
            self.run("-t", table, "-A", chain, *args)

    def insert(self, rule: Rule, position: int = 1) -> None:
        if not self.exists(rule):
            table, chain, args = self._tr(rule)
            self.run("-t", table, "-I", chain, str(position), *args)

    def delete(self, rule: Rule) -> None:
        """Remove every copy of rule; a missing rule is fine."""
        table, chain, args = self._tr(rule)
        for _ in range(16):
            if self.run("-t", table, "-D", chain, *args, check=False).returncode != 0:
                return

    def list_rules(self, table: str, chain: str) -> list[str]:
        """``-S`` output of a chain ([] when it does not exist)."""
        proc = self.run("-t", table, "-S", self.chain(chain), check=False)
        return proc.stdout.splitlines() if proc.returncode == 0 else []

    # -- Skiff's base chains ----------------------------------------------------------------
    def ensure_base(self) -> None:
        """Create Skiff's chains and the jumps into them (idempotent; checked once per instance)."""
        if self._base_ready:
            return
        for table, chains in BASE_CHAINS.items():
            for chain in chains:
                self.ensure_chain(table, chain)
        for pos, args in enumerate(FORWARD_HEAD, start=1):
            self.insert(Rule("filter", "SKIFF-FORWARD", args), pos)
        self.append(Rule("filter", "SKIFF-ISOLATION-STAGE-1", ("-j", "RETURN")))
        self.append(Rule("filter", "SKIFF-ISOLATION-STAGE-2", ("-j", "RETURN")))
        for table, chain, args in JUMPS:
            self.insert(Rule(table, chain, args), 1)
        self._base_ready = True

    def remove_base(self) -> None:
        """Remove the jumps and every Skiff chain (idempotent)."""
        self._base_ready = False
        for table, chain, args in JUMPS:
            self.delete(Rule(table, chain, args))
        for table, chains in BASE_CHAINS.items():
            for chain in chains:
                if self.chain_exists(table, chain):
                    self.run("-t", table, "-F", self.chain(chain), check=False)
            for chain in chains:
                self.delete_chain(table, chain)

    # -- batches: one iptables-restore for many rules -----------------------------------------
    def _present(self, table: str, chain: str) -> set[str]:
        """Rules of a chain as ``-S`` prints them, without the "-A CHAIN " head."""
        return {line.split(" ", 2)[2] for line in self.list_rules(table, chain) if line.startswith("-A ")}

    def _restore(self, lines: dict[str, list[str]]) -> None:
        script = "".join(f"*{table}\n" + "".join(ln + "\n" for ln in body) + "COMMIT\n"
                         for table, body in lines.items() if body)
        if not script:
            return
        cmd = [self.binary + "-restore", "--noflush", "-w", "5"]
        with self._lock:
            proc = subprocess.run(cmd, input=script, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise FirewallError(f"{' '.join(cmd)}: {proc.stderr.strip()}")

    def _batch(self, op: str, rules: Sequence[Rule], want_present: bool) -> None:
        chains: dict[tuple[str, str], set[str]] = {}
        lines: dict[str, list[str]] = {}
        for rule in rules:
            table, chain, args = self._tr(rule)
            present = chains.get((table, chain))
            if present is None:
                present = chains[(table, chain)] = self._present(table, chain)
            text = " ".join(args)
            if (text in present) == want_present:
                lines.setdefault(table, []).append(f"{op} {chain} {text}")
                present.discard(text) if want_present else present.add(text)
        self._restore(lines)

    def append_many(self, rules: Sequence[Rule]) -> None:
        """Append the rules not already there, in one transaction. Rules must be written in the
        canonical form ``iptables -S`` prints (e.g. "-p tcp -m tcp --dport 80") to be recognised."""
        self._batch("-A", rules, want_present=False)

    def delete_many(self, rules: Sequence[Rule]) -> None:
        """Delete those of the rules that are there, in one transaction."""
        self._batch("-D", rules, want_present=True)

    def apply(self, rules: Sequence[Rule]) -> None:
        for rule in rules:
            self.append(rule)

    def insert_all(self, rules: Sequence[Rule], position: int) -> None:
        for offset, rule in enumerate(rules):
            self.insert(rule, position + offset)

    def remove(self, rules: Sequence[Rule]) -> None:
        for rule in reversed(rules):
            self.delete(rule)
