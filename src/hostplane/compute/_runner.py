"""How the local driver launches a sandbox command: directly, or inside bubblewrap at /workspace."""

from __future__ import annotations

import contextlib
import ipaddress
import dataclasses
import os
import re
import selectors
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from hostplane.compute import _holder, _layout
from hostplane.compute._layout import python_bin_dir
from hostplane.compute._paths import view
from hostplane.compute.port import WORKSPACE, ExecResult

BASE_PATH = "/usr/local/bin:/usr/bin:/bin"
OUTPUT_CAP = 1024 * 1024
TICK_SECONDS = 0.25
TIMEOUT_EXIT_CODE = 124
# Output already written when the shell exits is in the pipe at once; this only bounds the wait
# for a daemon that left the process group and still holds the pipe open.
_DRAIN_GRACE = 0.5
_PROBE_TIMEOUT = 10.0
# The uid the start-up probe runs its one command as: it owns nothing and is no sandbox's.
_PROBE_UID = 65534


def base_env(home: str) -> dict[str, str]:
    """The whole environment a command starts from; nothing of hostplane's own is copied in."""
    return {"PATH": f"{python_bin_dir()}:{BASE_PATH}", "HOME": home, "LANG": "C.UTF-8"}


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    env: dict[str, str]
    cwd: str | None
    # Given to the command on its standard input (a memory file, read before the command starts):
    # the sandbox's environment, kept out of the host's process list and out of the environment of
    # the host tools that enter the sandbox (LD_PRELOAD must never act on them).
    stdin_data: bytes | None = None
    # Run before argv, in the same process (it execs argv): joins the sandbox's cgroups.
    prefix: tuple[str, ...] = ()
    pass_fds: tuple[int, ...] = ()  # descriptors argv names (/proc/self/fd/N)


class Runner(Protocol):
    mode: str

    def home(self, workspace: Path) -> str: ...


class DirectRunner:
    """No isolation: the command runs on the host in the workspace's real directory."""

    mode = "none"

    def home(self, workspace: Path) -> str:
        # /workspace does not exist on the host; a HOME there would make tools create it.
        return str(workspace)

    def launch(
        self, workspace: Path, cwd: tuple[str, ...], env: Mapping[str, str], command: str
    ) -> Launch:
        return Launch(["/bin/sh", "-c", command], dict(env), os.path.join(workspace, *cwd))


# Run by every command entering a sandbox, before the user's command: it checks it is in the
# sandbox it was sent to, takes its environment from standard input, then leaves only /dev/null
# there, moves to the working directory and becomes the user's shell.
# The user's command then runs in this same shell (one process fewer than `sh -c` again), with
# no positional parameter and no variable of ours left (`set --` runs inside the eval, after the
# command's text was taken from $1).
_ENTER_SCRIPT = (
    f'read -r id < {_holder.IDENTITY}; [ "$id" = "$1" ] || exit 125; unset id; '
    '. /dev/stdin || exit 125; exec </dev/null; '
    'cd -- "$2" || exit 125; unset OLDPWD; shift 2; eval "set --; $1"'
)
# Before that: close every descriptor but the standard three (nsenter leaves open the ones it
# entered through). bash, because dash cannot name a descriptor past 9.
_CLOSE_SCRIPT = ('for f in /proc/self/fd/*; do f=${f##*/}; [ "$f" -gt 2 ] && eval "exec $f<&-"; '
                 'done; exec "$@"')
SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class BubblewrapRunner:
    """Each sandbox is a holder (see _holder) started by bubblewrap: a read-only system, its own
    /etc, its workspace at /workspace, a private /tmp, and namespaces of its own. Its commands
    run as the sandbox's own host uid (see _uids)."""

    mode = "bubblewrap"

    def __init__(self, bwrap: str, nsenter: str) -> None:
        self.bwrap = bwrap
        self.nsenter = nsenter

    def home(self, workspace: Path) -> str:
        return WORKSPACE

    def holder_argv(self, sandbox_id: str, workspace: Path, uid: int, tmp_mb: int,
                    layout: _layout.Layout) -> Callable[[int], list[str]]:
        """The holder's command; its arguments go into `layout` (read from a descriptor)."""
        layout.args += [*_layout.system(), *_layout.proc()]
        _layout.etc(layout, uid)
        layout.data(sandbox_id + "\n", _holder.IDENTITY)
        layout.args += [
            "--bind", str(workspace), WORKSPACE,
            "--chdir", WORKSPACE,
            # Its space counts against the sandbox's memory too (tmpfs pages are charged to it).
            "--perms", "1777", "--size", str(tmp_mb * 1024 * 1024), "--tmpfs", "/tmp",
            # The root itself read-only: commands enter with capabilities they drop only
            # once their loader has run, so /lib64 and friends must not be the sandbox's to
            # replace (nor the identity file beside them).
            "--remount-ro", "/",
            "--unshare-pid",
            # Loopback only: no way to the host's services (the API, PostgreSQL on 127.0.0.1).
            "--unshare-net",
            "--unshare-ipc",
            "--unshare-uts", "--hostname", _layout.HOSTNAME,
            "--unshare-cgroup-try",
            "--new-session",
            # bwrap run as root keeps every capability unless told otherwise.
            "--cap-drop", "ALL",
            "--clearenv", "--setenv", "PATH", BASE_PATH,
        ]  # fmt: skip
        args_fd = layout.sealed()

        def argv(info_fd: int) -> list[str]:
            # Says the sandbox is made, lets go of the pipe it said it on, then holds on.
            return [self.bwrap, "--args", args_fd, "--info-fd", str(info_fd),
                    "/bin/sh", "-c", "echo ready; exec sleep infinity >/dev/null"]

        return argv

    def launch(self, pinned: _holder.Pinned, sandbox_id: str, uid: int, cwd: tuple[str, ...],
               env: Mapping[str, str], command: str, *, held: bool = False) -> Launch:
        """`held`: this process keeps `pinned` open until the command has ended (see
        Pinned.argv); nothing is passed down then, so nothing is left to close (one program
        fewer). Otherwise the descriptors are passed, and closed before the command runs."""
        enter = ["/bin/sh", "-c", _ENTER_SCRIPT, "sh", sandbox_id, view(cwd), command]
        if held:
            return Launch([*pinned.argv(self.nsenter, uid, os.getpid()), *enter],
                          {"PATH": BASE_PATH}, "/", stdin_data=exports(env))
        argv = [*pinned.argv(self.nsenter, uid), "/bin/bash", "-c", _CLOSE_SCRIPT, "bash", *enter]
        return Launch(argv, {"PATH": BASE_PATH}, "/", stdin_data=exports(env),
                      pass_fds=tuple(pinned.fds.values()))


def exports(env: Mapping[str, str]) -> bytes:
    """The environment as shell assignments; names are shell identifiers (checked before)."""
    return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items()).encode(
        errors="surrogateescape")


def probe(isolation: str, scratch: Path) -> tuple[Runner | None, str | None]:
    """The runner this driver will use, or why there is none; run once per driver."""
    if isolation == "none":
        return DirectRunner(), None
    runner, problem = _find_bubblewrap(scratch)
    if runner is not None:
        return runner, None
    # Fail closed: running untrusted commands on the host must be the operator's explicit choice.
    return None, (f"bubblewrap is not available ({problem}); install it (apt-get install "
                  "bubblewrap) or set HOSTPLANE_SANDBOX_ISOLATION=none to run sandboxes as plain, "
                  "unisolated processes")


def _find_bubblewrap(scratch: Path) -> tuple[BubblewrapRunner | None, str | None]:
    """A runner if a sandbox with the very layout sandboxes get can start and take a command,
    else why not."""
    if os.geteuid() != 0:
        # Each sandbox runs as a host uid of its own, which only root can switch to.
        return None, "hostplane does not run as root"
    tools = {name: shutil.which(name) for name in ("bwrap", "nsenter")}
    missing = [name for name, path in tools.items() if path is None]
    missing += [path for path in (_holder.SETPRIV, "/bin/bash") if not os.access(path, os.X_OK)]
    if missing:
        return None, f"{', '.join(missing)} was not found"
    runner = BubblewrapRunner(tools["bwrap"] or "", tools["nsenter"] or "")
    problem = _try(runner, scratch)
    return (None, problem) if problem else (runner, None)


def _try(runner: BubblewrapRunner, scratch: Path) -> str:
    scratch.mkdir(parents=True, exist_ok=True)
    # A leading dot keeps the probe directory from ever matching a sandbox id.
    with tempfile.TemporaryDirectory(prefix=".probe-", dir=scratch) as home:
        workspace = Path(home, "workspace")
        workspace.mkdir()
        try:
            with _layout.made() as layout:
                argv = runner.holder_argv("probe", workspace, _PROBE_UID, 1, layout)
                holder, proc = _holder.start(Path(home), argv, [], {"PATH": BASE_PATH},
                                             pass_fds=layout.fds)
        except Exception as exc:  # the reason bubblewrap gave, whatever it was
            return str(exc)
        try:
            with _holder.pin(holder) as pinned:
                launch = runner.launch(pinned, "probe", _PROBE_UID, (), base_env(WORKSPACE),
                                       "true")
                result = run(contextlib.nullcontext(launch), _PROBE_TIMEOUT)
        finally:
            _holder.stop(Path(home))
            proc.wait()
    if result.exit_code != 0:
        lines = result.stderr.strip().splitlines()
        return (f"a command could not enter it (exit {result.exit_code}): "
                f"{lines[-1] if lines else 'no output'}")
    return ""


class ProcessTable:
    """Process groups running per sandbox, so destroying a sandbox can stop them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._groups: dict[str, set[int]] = {}

    @contextmanager
    def track(self, key: str) -> Iterator[_Tracker]:
        tracker = _Tracker(self, key)
        try:
            yield tracker
        finally:
            tracker.release()

    def kill(self, key: str, *, wait: float = 0.0) -> None:
        """Kill the key's process groups; with `wait`, until they have ended (their commands
        have returned), for at most that many seconds."""
        # Under the lock: a tracked leader is not reaped until it leaves the table, so its pid
        # cannot have been reused by an unrelated group.
        with self._lock:
            for pgid in self._groups.get(key, ()):
                kill_group(pgid)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with self._lock:
                if key not in self._groups:
                    return
            time.sleep(0.005)


class _Tracker:
    def __init__(self, table: ProcessTable, key: str) -> None:
        self.table, self.key, self.pgid = table, key, None

    def started(self, pgid: int) -> None:
        with self.table._lock:
            self.pgid = pgid
            self.table._groups.setdefault(self.key, set()).add(pgid)

    def release(self) -> None:
        with self.table._lock:
            group = self.table._groups.get(self.key, set())
            group.discard(self.pgid)  # type: ignore[arg-type]
            if not group:
                self.table._groups.pop(self.key, None)


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def socket_inodes(pids: list[int]) -> set[str]:
    """The inodes of the sockets these processes hold open."""
    inodes: set[str] = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
    return inodes


def listening_ports(net: str, *, inodes: set[str] | None = None) -> list[int]:
    """TCP ports listened on in the network namespace whose /proc `net` directory this is (any
    address), or only by the sockets in `inodes`."""
    return sorted({port for _address, port in listening_sockets(net, inodes=inodes)})


def listening_sockets(net: str, *, inodes: set[str] | None = None) -> list[tuple[str, int]]:
    """(address, port) of every listening TCP socket there (or of the sockets in `inodes`)."""
    found: list[tuple[str, int]] = []
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"{net}/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                if (len(fields) > 9 and fields[3] == "0A"  # LISTEN
                        and (inodes is None or fields[9] in inodes)):
                    address, port = fields[1].rsplit(":", 1)
                    found.append((_address(address), int(port, 16)))
    return found


def _address(hex_address: str) -> str:
    """/proc/net/tcp's address: 32-bit words in host (little-endian) order."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(words))


def kill_under(directory: Path) -> None:
    """Kill processes working inside `directory`: daemons a direct command left running."""
    prefix = os.path.realpath(directory) + "/"
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit() or int(pid_dir.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(pid_dir / "cwd")
            if (cwd + "/").startswith(prefix):
                os.kill(int(pid_dir.name), signal.SIGKILL)
        except OSError:
            continue  # gone already, or not ours to look at


def run(preparing: AbstractContextManager[Launch], timeout: float,
        tracker: _Tracker | None = None, on_tick: Callable[[], object] | None = None,
        ) -> ExecResult:
    """Run to completion; on timeout or once the shell exits, its whole process group is killed.
    `preparing` yields the launch, and is left once the process has started. Output is kept up
    to OUTPUT_CAP bytes a stream."""
    buffers = {"stdout": bytearray(), "stderr": bytearray()}
    truncated = False
    pieces = stream(preparing, timeout, tracker)
    while True:
        try:
            kind, chunk = next(pieces)
        except StopIteration as done:
            result: ExecResult = done.value
            break
        if kind not in buffers:  # started, tick
            if kind == "tick" and on_tick is not None:
                on_tick()
            continue
        buffer = buffers[kind]
        room = OUTPUT_CAP - len(buffer)
        truncated = truncated or len(chunk) > room
        buffer += chunk[: max(room, 0)]
    return dataclasses.replace(
        result, stdout=buffers["stdout"].decode("utf-8", errors="replace"),
        stderr=buffers["stderr"].decode("utf-8", errors="replace"), truncated=truncated)


def exit_code(returncode: int) -> int:
    """A shell's way of telling a signal: 128 + its number."""
    return 128 - returncode if returncode < 0 else returncode


def start(launch: Launch, *, stdout: Any, stderr: Any) -> subprocess.Popen[bytes]:
    """Start the launch in a process group of its own."""
    with _stdin(launch.stdin_data) as stdin:
        return subprocess.Popen(
            [*launch.prefix, *launch.argv],
            cwd=launch.cwd,
            env=launch.env,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
            pass_fds=launch.pass_fds,
        )


@contextmanager
def _stdin(data: bytes | None) -> Iterator[int]:
    if data is None:
        yield subprocess.DEVNULL
        return
    # A memory file rather than a pipe: it cannot fill up and block us before the command reads.
    fd = os.memfd_create("sandbox-env", os.MFD_CLOEXEC)
    try:
        remaining = memoryview(data)
        while remaining:
            remaining = remaining[os.write(fd, remaining) :]
        os.lseek(fd, 0, os.SEEK_SET)
        yield fd
    finally:
        os.close(fd)


def _exited(pid: int) -> bool:
    # WNOWAIT leaves the zombie in place, so the group id stays ours until proc.wait().
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


@contextmanager
def _exit_fd(pid: int) -> Iterator[int | None]:
    """A descriptor that becomes readable when `pid` exits, where the kernel has pidfds."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        yield None
        return
    try:
        yield fd
    finally:
        os.close(fd)


def stream(preparing: AbstractContextManager[Launch], timeout: float,
           tracker: _Tracker | None = None) -> Generator[tuple[str, bytes], None, ExecResult]:
    """Each piece of output as it comes: ("stdout" | "stderr", bytes), ("started", b"") once the
    command runs (refusals to launch it come before that, from the first next()), and
    ("tick", b"") after every TICK_SECONDS of silence, so a consumer can give up on a quiet
    command. The result (its output fields empty) is the generator's return value."""
    started = time.monotonic()
    with preparing as launch:
        proc = start(launch, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if tracker is not None:  # while launching still holds the sandbox's lock
            tracker.started(proc.pid)
    timed_out = True
    try:
        yield "started", b""
        timed_out = yield from _chunks(proc, started + timeout)
    finally:
        kill_group(proc.pid)
        if tracker is not None:
            tracker.release()
        proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    return ExecResult(stdout="", stderr="",
                      exit_code=TIMEOUT_EXIT_CODE if timed_out else exit_code(proc.returncode),
                      duration_ms=int((time.monotonic() - started) * 1000), timed_out=timed_out)


def _chunks(proc: subprocess.Popen[bytes],
            deadline: float) -> Generator[tuple[str, bytes], None, bool]:
    """Output as it comes, until the command has exited and closed its pipes or the deadline;
    returns whether the deadline came first."""
    assert proc.stdout is not None and proc.stderr is not None
    kinds = {proc.stdout.fileno(): "stdout", proc.stderr.fileno(): "stderr"}
    exited = False
    quiet_since = time.monotonic()
    with selectors.DefaultSelector() as selector, _exit_fd(proc.pid) as exit_fd:
        for fd in kinds:
            selector.register(fd, selectors.EVENT_READ)
        if exit_fd is not None:
            selector.register(exit_fd, selectors.EVENT_READ)
        while True:
            now = time.monotonic()
            if not exited and _exited(proc.pid):
                exited = True
                # Background jobs of the shell do not outlive the exec (background processes
                # are what POST /processes is for).
                kill_group(proc.pid)
                deadline = min(deadline, now + _DRAIN_GRACE)
                if exit_fd is not None:
                    selector.unregister(exit_fd)
            pipes_open = any(fd in selector.get_map() for fd in kinds)
            if (exited and not pipes_open) or now >= deadline:
                return not exited
            # Without a pidfd, an exit is only noticed by polling.
            wait = min(deadline - now, TICK_SECONDS if exit_fd is not None else 0.05)
            ready = selector.select(wait)
            if not ready and time.monotonic() - quiet_since >= TICK_SECONDS:
                quiet_since = time.monotonic()
                yield "tick", b""
            for key, _ in ready:
                if key.fd == exit_fd:
                    continue  # handled at the top of the loop
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fd)
                    continue
                quiet_since = time.monotonic()
                yield kinds[key.fd], chunk
