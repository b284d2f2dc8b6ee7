"""docs/quickstart.md, run as a first-time user runs it: its shell lines and `$ ` commands in
order, on a fresh data dir, against the server it starts; each output is compared with the one
the doc shows. Ids, keys and times differ from run to run: the first time the doc shows one, it is
matched against the real output, and later commands use the real one. Only the ports move (the
doc's 8080 and 8000 may be taken on a shared machine)."""

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

DOC = Path(__file__).resolve().parents[2] / "docs" / "quickstart.md"
# What differs between runs: ids, slugs, keys, tokens, DNS proofs.
TOKEN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|org-[a-z0-9]{8}"
                   r"|sbx[a-z0-9]{6,}|proc_[0-9a-f]{16}|hostplane-verification=[0-9a-f]{40}"
                   r"|[0-9a-f]{16}(?=\.acme\.)|[0-9a-f]{16}(?=\"\})")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _steps(text: str) -> list[tuple[str, list[str]]]:
    """(command, the output the doc shows) for every line of sections 1 and 2 a user types."""
    body = text.split("## 3.")[0]
    steps: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```(?:sh)?\n(.*?)```", body, flags=re.S):
        lines = block.splitlines()
        transcript = any(line.startswith("$ ") for line in lines)
        for line in lines:
            if transcript and line.startswith("$ "):
                steps.append((line[2:], []))
            elif transcript and steps:
                steps[-1][1].append(line)
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
    pieces = re.split(rf"(…|\d+|{MONTH})", text)
    return "".join(".*?" if p == "…" else r"\d+" if p.isdigit()
                   else MONTH if re.fullmatch(MONTH, p) else re.escape(p)
                   for p in pieces)


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
            .replace("127.0.0.1:8000", f"127.0.0.1:{self.edge}")

    def real(self, text: str) -> str:
        for shown, actual in self.known.items():
            text = text.replace(shown, actual)
        return text

    def run(self, command: str, shown: list[str]) -> None:
        command = self.real(self.ports(command))
        if command.startswith(("python3 -m venv", ". .venv")):
            return  # installing: the test runs from this checkout's own environment
        if command.startswith("export "):
            for name, value in re.findall(r"(\w+)=(\S*)", command):
                self.env[name] = value
            return
        if command.startswith("hostplane serve &"):
            self.serve()
            return
        if command.startswith("kill %1"):
            assert self.server is not None
            self.server.send_signal(signal.SIGTERM)
            self.server.wait(timeout=30)
            return
        if re.fullmatch(r"\w+=.*", command):
            name, expression = command.split("=", 1)
            value = self.shell(f'{name}={expression}; printf %s "${name}"').stdout
            self.env[name] = value
            return
        if command == "echo $?":
            output = f"{self.last_code}\n"
        else:
            done = self.shell(command)
            self.last_code, output = done.returncode, done.stdout + done.stderr
            if command.startswith("hostplane accounts create"):
                self.known["msk_live_…"] = json.loads(done.stdout)["api_key"]
        self.compare(command, shown, output)

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
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and self.server.poll() is None, "no server"
            time.sleep(0.1)

    def compare(self, command: str, shown: list[str], output: str) -> None:
        actual = [line.rstrip() for line in output.splitlines()]
        for line in (s.rstrip() for s in shown if s.strip() and s.strip() != "…"):
            pattern, new = _pattern(line, self.known)
            found = next((m for m in map(pattern.fullmatch, actual) if m), None)
            assert found, f"$ {command}\nthe doc shows:\n  {line}\nit printed:\n{output}"
            for token, value in zip(new, found.groups()):
                self.known.setdefault(token, value)


def test_the_quickstart_runs_as_written(tmp_path, dns):
    from hostplane.compute.local import LocalDriver

    if LocalDriver(tmp_path / "probe", isolation="bubblewrap") \
            .sandbox_status("probe").state == "error":
        pytest.skip("the quickstart's sandboxes need bubblewrap (their own network)")
    walk = Walk(tmp_path, dns[1])
    try:
        for command, shown in _steps(DOC.read_text()):
            walk.run(command, shown)
    finally:
        if walk.server is not None and walk.server.poll() is None:
            walk.server.kill()
            walk.server.wait()
        subprocess.run(["hostplane", "down"], env=walk.env, cwd=walk.cwd, capture_output=True,
                       timeout=120)
