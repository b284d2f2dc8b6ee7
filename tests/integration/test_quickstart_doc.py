"""The README's quick start, then docs/quickstart.md, run as a first-time user runs them: their
shell lines and `$ ` commands in order, in a fresh folder, against the servers they start; each
output is compared with the one the docs show (the `$ ` transcript's lines, the README's `#`
comments). Ids, keys and times differ from run to run: the first time a doc shows one, it is
matched against the real output, and later commands use the real one. Only the ports move (the
docs' 8080 and 8000 may be taken on a shared machine). Reads that wait on something starting
(a dev server's port) are tried again for a few seconds, as a person would look again."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "docs" / "quickstart.md"
README = ROOT / "README.md"
# What differs between runs: ids, slugs, keys, tokens, DNS proofs.
TOKEN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|org-[a-z0-9]{8}"
                   r"|sbx[a-z0-9]{6,}|proc_[0-9a-f]{16}|domain-verification=[0-9a-f]{40}"
                   r"|[0-9a-f]{16}(?=\.acme\.)|[0-9a-f]{16}(?=\"\})")
READS = re.compile(r"^curl -s (?!-X)|^hostplane sandboxes (ports|logs) ")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _steps(body: str) -> list[tuple[str, list[str]]]:
    """(command, the output the doc shows) for every line of `body`'s code blocks a user types:
    `$ ` lines with the lines after them, or a shell block's lines with its `#   ` comments."""
    steps: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```(?:sh)?\n(.*?)```", body, flags=re.S):
        lines = block.splitlines()
        transcript = any(line.startswith("$ ") for line in lines)
        for line in lines:
            if transcript and line.startswith("$ "):
                steps.append((line[2:], []))
            elif transcript and steps:
                steps[-1][1].append(line)
            elif not transcript and line.startswith("# Ctrl-C"):
                steps.append((line, []))  # what the reader does, said in a comment
            elif not transcript and line.startswith("#   ") and steps:
                steps[-1][1].append(line[4:].replace("...", "…"))
            elif not transcript and line.strip() and not line.lstrip().startswith("#"):
                steps.append((line, []))
    # A command continued on the next line (`\` at its end) is one command.
    joined: list[tuple[str, list[str]]] = []
    for command, shown in steps:
        if joined and joined[-1][0].endswith("\\"):
            joined[-1] = (joined[-1][0][:-1] + " " + command.strip(), shown)
        else:
            joined.append((command, shown))
    return joined


def _pattern(line: str, known: dict[str, str]) -> tuple[re.Pattern[str], list[str]]:
    """A shown line as a pattern: known tokens as their real values, new ones captured, numbers
    and `…` as anything."""
    parts, new, at = [], [], 0
    for match in TOKEN.finditer(line):
        parts.append(_loose(line[at:match.start()]))
        token = match.group(0)
        if token in known:
            parts.append(re.escape(known[token]))
        else:
            parts.append(f"({TOKEN.pattern})")
            new.append(token)
        at = match.end()
    parts.append(_loose(line[at:]))
    return re.compile("".join(parts)), new


MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"


def _loose(text: str) -> str:
    pieces = re.split(rf"(…|\d+|{MONTH})", re.sub(r"\s*…\s*", "…", text))
    return "".join(".*?" if p == "…" else r"\d+" if p.isdigit()
                   else MONTH if re.fullmatch(MONTH, p) else _literal(p)
                   for p in pieces)


def _literal(text: str) -> str:
    """The text itself; JSON's spacing after `:` and `,` is the docs' (the API answers compact)."""
    return re.escape(text).replace(r":\ ", r":\s?").replace(r",\ ", r",\s?")


class Walk:
    def __init__(self, tmp_path: Path, nameservers: str) -> None:
        self.api, self.edge = _free_port(), _free_port()
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("HOSTPLANE_", "MIOSA_")) and k != "COLUMNS"}
        self.env["PATH"] = f"{Path(sys.executable).parent}:{self.env.get('PATH', '')}"
        self.env["HOSTPLANE_EDGE_PORT"] = str(self.edge)
        # DNS answers from a server on loopback with no records, as the doc's machine had none.
        self.env["HOSTPLANE_DNS_NAMESERVERS"] = nameservers
        self.cwd = tmp_path
        self.known: dict[str, str] = {}
        self.server: subprocess.Popen[bytes] | None = None
        self.last_code = 0

    def ports(self, text: str) -> str:
        return text.replace("127.0.0.1:8080", f"127.0.0.1:{self.api}") \
            .replace("127.0.0.1:8000", f"127.0.0.1:{self.edge}") \
            .replace(".localhost:8000", f".localhost:{self.edge}")

    def real(self, text: str) -> str:
        for shown, actual in self.known.items():
            text = text.replace(shown, actual)
        return text

    def run(self, command: str, shown: list[str]) -> None:
        command = self.real(self.ports(command))
        if command.startswith(("python3 -m venv", ". .venv")):
            # Installing: the test runs from this checkout's own environment.
            if command.endswith("&& hostplane serve"):
                self.serve()
            return
        if command.startswith("rm -rf"):
            return  # starting afresh is the one step a walk-through in order must not need
        if command.startswith("# Ctrl-C") or command.startswith("kill %1"):
            self.stop_serving()
            return
        if command.startswith("export "):
            for name, value in re.findall(r"(\w+)=(\S*)", command):
                self.env[name] = value
            return
        if command.startswith("hostplane serve &"):
            self.serve()
            return
        if re.fullmatch(r"\w+=.*", command):
            name, expression = command.split("=", 1)
            value = self.shell(f'{name}={expression}; printf %s "${name}"').stdout
            self.env[name] = value
            return
        if command == "echo $?":
            self.compare(command, shown, f"{self.last_code}\n")
            return
        deadline = time.monotonic() + (10 if READS.search(command) else 0)
        while True:
            done = self.shell(command)
            self.last_code, output = done.returncode, done.stdout + done.stderr
            if command.startswith("hostplane accounts create --json") and done.stdout:
                self.known["msk_live_…"] = json.loads(done.stdout)["api_key"]
            try:
                self.compare(command, shown, output)
                return
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def shell(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-c", command], env=self.env, cwd=self.cwd,
                              capture_output=True, text=True, timeout=120)

    def serve(self) -> None:
        self.server = subprocess.Popen(["hostplane", "serve", "--port", str(self.api)],
                                       env=self.env, cwd=self.cwd, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{self.api}/healthz").status_code == 200:
                    time.sleep(0.5)
                    assert self.server.poll() is None, "another server holds the port"
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and self.server.poll() is None, "no server"
            time.sleep(0.1)

    def stop_serving(self) -> None:
        assert self.server is not None
        self.server.send_signal(signal.SIGINT)
        self.server.wait(timeout=30)

    def compare(self, command: str, shown: list[str], output: str) -> None:
        actual = [line.rstrip() for line in output.splitlines()]
        for line in (s.rstrip() for s in shown if s.strip() and s.strip() != "…"):
            pattern, new = _pattern(line, self.known)
            found = next((m for m in map(pattern.fullmatch, actual) if m), None)
            assert found, f"$ {command}\nthe doc shows:\n  {line}\nit printed:\n{output}"
            for token, value in zip(new, found.groups()):
                self.known.setdefault(token, value)


def test_the_readme_then_the_quickstart_run_as_written(tmp_path, dns):
    from hostplane.compute.local import LocalDriver

    if LocalDriver(tmp_path / "probe", isolation="bubblewrap") \
            .sandbox_status("probe").state == "error":
        pytest.skip("the quickstart's sandboxes need bubblewrap (their own network)")
    walk = Walk(tmp_path, dns[1])
    readme = README.read_text()
    start, end = readme.index("### First steps"), readme.index("## Tests and databases")
    # The README's URLs carry the edge's port (HOSTPLANE_PUBLIC_PORT): the moved one here.
    walk.env["HOSTPLANE_PUBLIC_PORT"] = str(walk.edge)
    walk.env["HOSTPLANE_API_URL"] = f"http://127.0.0.1:{walk.api}"
    try:
        walk.run("python3 -m venv .venv && . .venv/bin/activate && pip install -e . && "
                 "hostplane serve", [])
        for command, shown in _steps(readme[start:end]):
            walk.run(command, shown)
        # What the quickstart says to do after the README: the README's server is stopped
        # (its stopping section ran), and the walk-through gets a data dir of its own.
        assert "HOSTPLANE_DATA_DIR=./.quickstart" in QUICKSTART.read_text()
        walk.env["HOSTPLANE_DATA_DIR"] = "./.quickstart"
        walk.known.clear()
        for command, shown in _steps(QUICKSTART.read_text().split("## 3.")[0]):
            walk.run(command, shown)
    finally:
        if walk.server is not None and walk.server.poll() is None:
            walk.server.kill()
            walk.server.wait()
        subprocess.run(["hostplane", "down"], env=walk.env, cwd=walk.cwd, capture_output=True,
                       timeout=120)
