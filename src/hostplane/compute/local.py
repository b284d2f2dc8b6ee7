"""The local compute driver: sandboxes as directories and processes on this machine."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import re
import secrets
import shutil
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Generator, Iterator, Mapping
from pathlib import Path

from hostplane import errors
from hostplane.compute import (
    _desktop,
    _disk,
    _holder,
    _layout,
    _paths,
    _processes,
    _runner,
    _staging,
    _uids,
)
from hostplane.compute._files import SandboxFiles, not_running
from hostplane.compute._limits import Cgroups, Limits, join_command
from hostplane.compute._uids import UidRange
from hostplane.compute.port import (
    DESKTOP,
    SANDBOX,
    WORKSPACE,
    DriverStatus,
    ExecResult,
    OutputChunk,
    ProcessInfo,
    SandboxSpec,
)

log = logging.getLogger("hostplane.compute")
ISOLATION_MODES = ("auto", "bubblewrap", "none")
_SANDBOX_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ENV_FILE = "env.json"
_LIMITS_FILE = "limits.json"
_IDENTITY_FILE = "identity"
_ACTIVITY_FILE = "activity"
_STOPPED_FILE = "stopped"
# Variables the shell sets itself, whatever the environment says (or refuses some values of).
_SHELL_OWN = frozenset({"PWD", "OLDPWD", "PPID", "OPTIND", "OPTARG", "IFS", "PS1", "PS2", "PS4",
                        "LINENO", "ENV"})
# The kernel refuses any one argument or environment string past 128 KiB (MAX_ARG_STRLEN), and
# all of them together past a share of the stack; stay well inside both.
_ARG_BYTES = 128 * 1024 - 1
_ENV_BYTES = 512 * 1024


@dataclasses.dataclass(frozen=True)
class _Checked:
    """A command ready to launch: where, how, and with what."""

    sandbox_id: str
    runner: _runner.Runner
    cwd: tuple[str, ...]
    env: dict[str, str]
    command: str


class LocalDriver(SandboxFiles, _desktop.LocalDesktops):
    """Each sandbox is `root/<id>/workspace`; commands run in bubblewrap when it works."""

    name = "local"

    def __init__(self, root: Path, *, isolation: str = "auto", cgroups: Cgroups | None = None,
                 uids: UidRange | None = None, desktops: bool = True) -> None:
        if isolation not in ISOLATION_MODES:
            raise ValueError(f"isolation must be one of {ISOLATION_MODES}, not {isolation!r}")
        # Absolute: bwrap and the subprocess cwd must not depend on where the API was started.
        self.root = Path(root).absolute()
        self.isolation = isolation
        self.desktops = desktops  # whether computers get a desktop (settings.computer_desktops)
        self._probe_lock = threading.Lock()
        self._probed: tuple[_runner.Runner | None, str | None] | None = None
        self._processes = _runner.ProcessTable()
        self._lock = threading.Lock()
        self._holders: dict[str, subprocess.Popen[bytes]] = {}  # started here: reaped on stop
        self._background: list[subprocess.Popen[bytes]] = []  # started here: reaped when done
        self.cgroups = cgroups if cgroups is not None else Cgroups()
        self.uids = uids if uids is not None else UidRange()
        self._staging = _staging.Staging(
            needed=[*_layout.sources(), "/etc", "/proc", "/dev", "/sys", str(self.root)],
            skipped=[str(self.root)])
        # Why sandboxes get no disk quota here (None: each workspace is a filesystem of its own).
        self.disk_problem = _disk.unavailable()
        if self.disk_problem:
            log.warning("Sandbox disk quotas are off: %s. disk_mb is recorded but not enforced; "
                        "see docs/security.md.", self.disk_problem)

    # Lifecycle

    @property
    def isolation_mode(self) -> str:
        """What commands run under: "bubblewrap" or "none" (the host, at the real path)."""
        runner, _ = self._runner()
        if runner is None:
            return "bubblewrap"  # required, though not usable: nothing runs at all
        return runner.mode

    def capabilities(self) -> frozenset[str]:
        # Desktops only where each sandbox has its own network and /tmp: their display and VNC
        # servers must never be another sandbox's (or the host's).
        desktops = self.desktops and self.isolation_mode == "bubblewrap"
        return frozenset({SANDBOX, DESKTOP} if desktops else {SANDBOX})

    def create_sandbox(self, spec: SandboxSpec) -> DriverStatus:
        workspace = self._workspace(spec.id)
        env = _checked_env(spec.env)
        # Only hostplane may enter the sandboxes' tree: a file a sandbox marks setuid must never
        # be reachable by other users of the host.
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        home = workspace.parent
        home.mkdir(exist_ok=True)
        _write_private_json(home / _ENV_FILE, env)
        limits = Limits(memory_mb=spec.memory_mb, cpu_count=spec.cpu_count, disk_mb=spec.disk_mb)
        _write_private_json(home / _LIMITS_FILE, dataclasses.asdict(limits))
        (home / _IDENTITY_FILE).write_text(spec.id + "\n")
        self.cgroups.prepare(spec.id, limits)
        owner = self._owner(spec.id)  # refused (503) when no uid is left
        try:
            if self.disk_problem is None and not workspace.exists():
                # Under bubblewrap it is mounted where its holder starts (see _holder).
                _disk.make(home, workspace, spec.disk_mb, owner or 0,
                           mounted=owner is None)
            workspace.mkdir(exist_ok=True)
        except OSError as exc:
            return DriverStatus("error", reason=f"its disk could not be made: {exc}")
        return self.start_sandbox(spec.id)

    def start_sandbox(self, sandbox_id: str) -> DriverStatus:
        """Bring a stopped sandbox's processes back (its files are where they were)."""
        runner, reason = self._runner()
        if runner is None:
            return DriverStatus("error", reason=reason)
        if not self._workspace(sandbox_id).is_dir():
            return self.sandbox_status(sandbox_id)
        try:
            if isinstance(runner, _runner.BubblewrapRunner):
                self._holder(sandbox_id, runner)  # mounts its disk in the sandbox's namespace
            else:
                self._mounted(sandbox_id)
                with _holder.locked(self._workspace(sandbox_id).parent):
                    (self._workspace(sandbox_id).parent / _STOPPED_FILE).unlink(missing_ok=True)
        except errors.HostplaneError as exc:
            return DriverStatus("error", reason=exc.message)
        except OSError as exc:  # its disk could not be mounted
            return DriverStatus("error", reason=str(exc))
        self._touch(sandbox_id)  # idle_timeout_sec counts from here
        return DriverStatus("running")

    def sandbox_status(self, sandbox_id: str) -> DriverStatus:
        workspace = self._workspace(sandbox_id)
        if not workspace.is_dir():
            return DriverStatus("stopped", reason="the sandbox has no workspace on this machine")
        runner, reason = self._runner()
        if runner is None:
            return DriverStatus("error", reason=reason)
        if not self._up(runner, workspace.parent):
            return DriverStatus("stopped", reason="its processes are not running")
        if self.cgroups.frozen(sandbox_id):
            return DriverStatus("paused")
        return DriverStatus("running")

    def stop_sandbox(self, sandbox_id: str) -> None:
        """End every process of the sandbox; its files stay."""
        home = self._workspace(sandbox_id).parent
        with contextlib.suppress(_holder.Gone), _holder.locked(home):
            self._stop(sandbox_id, home)

    def _stop(self, sandbox_id: str, home: Path) -> None:
        """Under the sandbox's lock: no command can start meanwhile."""
        (home / _STOPPED_FILE).touch()  # what says so where there is no holder (isolation none)
        _processes.mark_all_stopped(home)
        self._processes.kill(sandbox_id)
        self.cgroups.thaw(sandbox_id)  # frozen processes cannot die
        _holder.stop(home)
        self._reap(sandbox_id)  # bubblewrap, which started it, reaps it, then is reaped here
        self.cgroups.remove(sandbox_id)  # every process of the sandbox, however far it forked
        _runner.kill_under(home)

    def pause_sandbox(self, sandbox_id: str) -> None:
        """Freeze every process of the sandbox where they are; `resume_sandbox` thaws them.
        Commands running through exec end first: frozen, they could not keep their timeout."""
        home = self._workspace(sandbox_id).parent
        with _holder.locked(home):
            self._processes.kill(sandbox_id, wait=5)  # dead before the freeze, not frozen dying
            if not self.cgroups.freeze(sandbox_id):
                raise errors.Conflict(
                    "This machine cannot pause sandboxes: no freezer cgroup is writable.",
                    code="PAUSE_NOT_SUPPORTED", fix="Stop the sandbox instead.")

    def resume_sandbox(self, sandbox_id: str) -> None:
        with _holder.locked(self._workspace(sandbox_id).parent):
            self.cgroups.thaw(sandbox_id)
        self._touch(sandbox_id)

    def destroy_sandbox(self, sandbox_id: str) -> None:
        home = self._workspace(sandbox_id).parent
        gone = self.root / f".destroyed-{sandbox_id}-{secrets.token_hex(4)}"
        try:
            with _holder.locked(home):  # waits for commands being started
                # Moved aside first: from here on nothing can start in it, nor make it again.
                os.rename(home, gone)
                self._stop(sandbox_id, gone)
        except _holder.Gone:
            self.cgroups.remove(sandbox_id)  # nothing on disk; cgroups of a half-made one
            return
        uid = _uids.read(gone)
        _disk.unmount(gone / "workspace", flush=False)
        # rmtree works through directory descriptors, so links inside are removed, not followed.
        shutil.rmtree(gone, ignore_errors=True)
        if gone.exists():
            shutil.rmtree(gone)  # report what is still in the way
        _uids.release(self.root, uid, sandbox_id)

    def last_activity(self, sandbox_id: str) -> float | None:
        """When a command, process or file operation last used the sandbox (POSIX seconds)."""
        try:
            return (self._workspace(sandbox_id).parent / _ACTIVITY_FILE).stat().st_mtime
        except FileNotFoundError:
            return None

    def held_since(self, sandbox_id: str) -> float:
        """When this machine made the sandbox (POSIX seconds; now if it holds nothing)."""
        try:
            return (self._workspace(sandbox_id).parent / _IDENTITY_FILE).stat().st_mtime
        except FileNotFoundError:
            return time.time()

    def sandbox_ids(self) -> list[str]:
        """Every sandbox that has files on this machine (for reconciling with the database)."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if _SANDBOX_ID.fullmatch(p.name))

    # Network

    def list_ports(self, sandbox_id: str) -> list[int]:
        """TCP ports something in the sandbox listens on."""
        runner = self._running_runner(sandbox_id)
        if isinstance(runner, _runner.BubblewrapRunner):
            holder = _holder.read(self._workspace(sandbox_id).parent)
            # Its own network namespace: whatever listens there is the sandbox's.
            return [] if holder is None else _runner.listening_ports(f"/proc/{holder.pid}/net")
        # The host's network: only the sockets of the sandbox's own processes.
        return _runner.listening_ports(
            "/proc/net", inodes=_runner.socket_inodes(self.cgroups.pids_in(sandbox_id)))

    def open_connection(self, sandbox_id: str, port: int, *, timeout: float = 5.0) -> socket.socket:
        """A TCP connection to `port` inside the sandbox, as the edge router will make them."""
        if not 1 <= port <= 65535:
            raise errors.Invalid(f"port {port} is not a TCP port.", field="port",
                                 rule="1 <= port <= 65535", fix="give the port the server uses")
        runner = self._running_runner(sandbox_id)
        self._touch(sandbox_id)  # a visitor of its preview is activity
        try:
            if isinstance(runner, _runner.BubblewrapRunner):
                holder = _holder.read(self._workspace(sandbox_id).parent)
                if holder is None:
                    raise ConnectionRefusedError("its processes are not running")
                return _holder.connect(holder, port, timeout)
            # The host's network: reach only a socket the sandbox's own processes listen on, at
            # the very address it is bound to, never another service of this machine (its
            # database, the API) through a preview URL.
            home = self._workspace(sandbox_id).parent
            address = self._own_address(sandbox_id, port) if self._up(runner, home) else None
            if address is None:
                raise ConnectionRefusedError("no process of the sandbox listens there")
            return socket.create_connection((address, port), timeout=timeout)
        except OSError as exc:
            raise errors.Unavailable(
                f"Nothing in sandbox {sandbox_id} accepts connections on port {port} "
                f"({exc.strerror or exc}).", code="PORT_NOT_LISTENING",
                fix="Start a server on that port in the sandbox (it may listen on any address).",
            ) from None

    def _own_address(self, sandbox_id: str, port: int) -> str | None:
        """Where to reach the sandbox's own listening socket on `port` (isolation none)."""
        own = _runner.listening_sockets(
            "/proc/net", inodes=_runner.socket_inodes(self.cgroups.pids_in(sandbox_id)))
        for address, found in own:
            if found == port:
                return {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(address, address)
        return None

    # Commands

    def exec(
        self,
        sandbox_id: str,
        command: str,
        *,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> ExecResult:
        checked = self._check(sandbox_id, command, timeout, cwd, env)
        with self._processes.track(sandbox_id) as tracker, contextlib.ExitStack() as held:
            # A long command is activity: idle_timeout_sec does not stop the sandbox under it.
            return _runner.run(self._launching(checked, held), timeout, tracker,
                               on_tick=lambda: self._touch(sandbox_id))

    def exec_stream(
        self,
        sandbox_id: str,
        command: str,
        *,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> Generator[tuple[str, bytes], None, ExecResult]:
        checked = self._check(sandbox_id, command, timeout, cwd, env)  # refusals come now
        return self._stream(checked, timeout)

    def _stream(self, checked: _Checked,
                timeout: float) -> Generator[tuple[str, bytes], None, ExecResult]:
        with self._processes.track(checked.sandbox_id) as tracker, contextlib.ExitStack() as held:
            pieces = _runner.stream(self._launching(checked, held), timeout, tracker)
            try:
                while True:
                    try:
                        piece = next(pieces)
                    except StopIteration as done:
                        return done.value  # type: ignore[no-any-return]
                    if piece[0] == "tick":
                        self._touch(checked.sandbox_id)
                    yield piece
            finally:
                pieces.close()  # a consumer that stops listening ends the command

    # Background processes

    def start_process(self, sandbox_id: str, command: str, *, cwd: str | None = None,
                      env: Mapping[str, str] | None = None,
                      timeout: float | None = None) -> ProcessInfo:
        checked = self._check(sandbox_id, command, timeout or 1.0, cwd, env)
        home = self._workspace(sandbox_id).parent
        with self._launching(checked) as launch:
            info, proc = _processes.start(home, launch, command, _paths.view(checked.cwd),
                                          timeout)
        with self._lock:
            self._background.append(proc)
            self._background = [p for p in self._background if p.poll() is None]  # reaped
        return info

    def list_processes(self, sandbox_id: str) -> list[ProcessInfo]:
        self._running_runner(sandbox_id)
        return _processes.list_all(self._workspace(sandbox_id).parent)

    def get_process(self, sandbox_id: str, process_id: str) -> ProcessInfo:
        self._running_runner(sandbox_id)
        return _processes.get(self._workspace(sandbox_id).parent, process_id)

    def stop_process(self, sandbox_id: str, process_id: str) -> ProcessInfo:
        self._running_runner(sandbox_id)
        return _processes.stop(self._workspace(sandbox_id).parent, process_id)

    def read_output(self, sandbox_id: str, process_id: str, *, offset: int | None = None,
                    tail: int | None = None) -> OutputChunk:
        self._running_runner(sandbox_id)
        return _processes.read_output(self._workspace(sandbox_id).parent, process_id,
                                      offset=offset, tail=tail)

    def _check(self, sandbox_id: str, command: str, timeout: float, cwd: str | None,
               env: Mapping[str, str] | None) -> _Checked:
        """The command, its working directory and environment, checked before anything runs."""
        _check_command(command, timeout)
        workspace = self._workspace(sandbox_id)
        runner = self._running_runner(sandbox_id)
        self._touch(sandbox_id)
        shown = cwd if cwd is not None else WORKSPACE
        with self._resolve(sandbox_id, shown, field="cwd") as found:
            if found.name is not None:
                info = _paths.lstat(found.dir_fd, found.name)
                if info is None:
                    raise _paths.not_found(shown, "cwd")
                if not stat.S_ISDIR(info.st_mode):
                    raise _paths.not_a_directory(shown, "cwd")
            cwd_parts = found.parts
        merged = _checked_env(
            {
                **_runner.base_env(runner.home(workspace)),
                **self._spec_env(sandbox_id),
                **(env or {}),
            }
        )
        return _Checked(sandbox_id, runner, cwd_parts, merged, command)

    @contextlib.contextmanager
    def _launching(self, checked: _Checked,
                   held: contextlib.ExitStack | None = None) -> Iterator[_runner.Launch]:
        """How to run the command in the sandbox now, in its cgroups. Holds the sandbox's lock
        (shared) until the caller has started it: a stop or destroy waits for that, then ends
        it with the rest. With `held`, the descriptors the command enters the sandbox through
        stay open until `held` closes (once the command has ended: see Pinned.argv)."""
        sandbox_id, runner = checked.sandbox_id, checked.runner
        workspace = self._workspace(sandbox_id)
        # Never started from here: a command that comes just after a stop must not undo it.
        with _holder.locked(workspace.parent, shared=True):
            if self.cgroups.frozen(sandbox_id):
                raise errors.Conflict(f"Sandbox {sandbox_id} is paused.", code="SANDBOX_PAUSED",
                                      fix="Resume it (POST /sandboxes/{id}/resume).")
            holder = None
            if isinstance(runner, _runner.BubblewrapRunner):
                holder = _holder.read(workspace.parent)
            if not self._up(runner, workspace.parent, holder):
                raise not_running(sandbox_id, "its processes are not running (it was stopped, or "
                                              "its machine restarted); start it again")
            prefix = tuple(join_command(
                self.cgroups.join(sandbox_id, lambda: self._limits(sandbox_id))))
            if isinstance(runner, _runner.DirectRunner):
                self._mounted(sandbox_id)  # commands use the host's path: the disk must be on it
                launch = runner.launch(workspace, checked.cwd, checked.env, checked.command)
                yield dataclasses.replace(launch, prefix=prefix)
                return
            assert isinstance(runner, _runner.BubblewrapRunner) and holder is not None
            uid = _uids.read(workspace.parent)
            assert uid is not None  # claimed before its holder started
            if held is not None:
                pinned = held.enter_context(_holder.pin(holder))
                launch = runner.launch(pinned, sandbox_id, uid, checked.cwd, checked.env,
                                       checked.command, held=True)
                yield dataclasses.replace(launch, prefix=prefix)
                return
            with _holder.pin(holder) as pinned:
                launch = runner.launch(pinned, sandbox_id, uid, checked.cwd, checked.env,
                                       checked.command)
                yield dataclasses.replace(launch, prefix=prefix)

    # Helpers

    def _limits(self, sandbox_id: str) -> Limits:
        try:
            found = json.loads((self._workspace(sandbox_id).parent / _LIMITS_FILE).read_text())
            return Limits(int(found["memory_mb"]), int(found["cpu_count"]), int(found["pids"]),
                          int(found.get("disk_mb", Limits.disk_mb)))
        except (OSError, ValueError, KeyError, TypeError):
            return Limits(memory_mb=2048, cpu_count=1)  # a sandbox made before limits existed

    def _running_runner(self, sandbox_id: str) -> _runner.Runner:
        runner, reason = self._runner()
        if runner is None:
            raise not_running(sandbox_id, reason or "")
        if not self._workspace(sandbox_id).is_dir():
            raise not_running(sandbox_id, "it has no workspace on this machine")
        return runner

    def _holder(self, sandbox_id: str, runner: _runner.BubblewrapRunner) -> _holder.Holder:
        """The sandbox's holder, started if it is not running (first use, or after a crash)."""
        workspace = self._workspace(sandbox_id)
        home = workspace.parent
        found = _holder.read(home)
        if found is not None and not found.outdated:
            return found
        with _holder.locked(home):
            found = _holder.read(home)
            if found is not None and found.outdated:
                _holder.stop(home)
                found = None
            if found is None:
                if not workspace.is_dir():  # destroyed while we waited for the lock
                    raise not_running(sandbox_id, "it was destroyed")
                uid = self._owner(sandbox_id, locked=True)
                assert uid is not None
                procs = self.cgroups.join(sandbox_id, lambda: self._limits(sandbox_id))
                disk = _disk.has_image(home)
                with _layout.made() as layout:
                    argv = runner.holder_argv(sandbox_id, workspace, uid,
                                              self._limits(sandbox_id).disk_mb, layout)

                    def start() -> tuple[_holder.Holder, subprocess.Popen[bytes]]:
                        # Its disk is mounted where bubblewrap starts only until bubblewrap has
                        # bound it into the sandbox's namespace (see _disk).
                        if disk:
                            _disk.mount(home, workspace)
                            if os.stat(workspace).st_uid != uid:
                                os.chown(workspace, uid, uid)
                        try:
                            return _holder.start(home, argv, join_command(procs),
                                                 {"PATH": _runner.BASE_PATH}, pass_fds=layout.fds)
                        finally:
                            if disk:
                                _disk.unmount(workspace)

                    if disk:
                        _disk.unmount(workspace)  # the host's mount (stopped, files read)
                    found, proc = self._staging.run(start) or start()
                with self._lock:
                    self._holders[sandbox_id] = proc
            return found

    def _owner(self, sandbox_id: str, *, locked: bool = False) -> int | None:
        """The host uid the sandbox's processes run as and its files belong to (claimed on first
        use); None under isolation none, where they are hostplane's own. `locked`: the caller
        holds the sandbox's lock."""
        runner, _ = self._runner()
        if not isinstance(runner, _runner.BubblewrapRunner):
            return None
        workspace = self._workspace(sandbox_id)
        uid, claimed = _uids.claim(self.root, workspace.parent, self.uids)
        if claimed and workspace.is_dir():  # a sandbox made before each had a uid of its own
            fd = self._open_workspace(sandbox_id, locked=locked)
            try:
                _chown_tree(f"/proc/self/fd/{fd}", uid)
            finally:
                os.close(fd)
        return uid

    def _mounted(self, sandbox_id: str) -> None:
        """Its disk on its workspace on the host (see _disk for when it is there)."""
        workspace = self._workspace(sandbox_id)
        if _disk.has_image(workspace.parent):
            _disk.mount(workspace.parent, workspace)

    def _open_workspace(self, sandbox_id: str, *, locked: bool = False) -> int:
        """A descriptor of the sandbox's workspace as its commands see it: in its holder's
        namespace while it runs (its disk is mounted only there), else on the host, its disk
        mounted there first. `locked`: the caller holds the sandbox's lock."""
        workspace = self._workspace(sandbox_id)
        home = workspace.parent
        runner, _ = self._runner()
        if (isinstance(runner, _runner.BubblewrapRunner) and _disk.has_image(home)
                and not os.path.ismount(workspace)):
            # Shared: no start or stop moves the disk between the host and a namespace meanwhile.
            with contextlib.nullcontext() if locked else _holder.locked(home, shared=True):
                holder = _holder.read(home)
                if holder is not None:
                    with contextlib.suppress(ProcessLookupError):
                        return _holder.open_workspace(holder)
                self._mounted(sandbox_id)
                return os.open(workspace, _paths.DIR_FLAGS)
        self._mounted(sandbox_id)
        return os.open(workspace, _paths.DIR_FLAGS)

    @staticmethod
    def _up(runner: _runner.Runner, home: Path,
            holder: _holder.Holder | None = None) -> bool:
        """Whether the sandbox's processes may run: its holder is there (bubblewrap; pass it if
        it was read already), or it was not stopped (isolation none, where nothing holds a
        sandbox)."""
        if isinstance(runner, _runner.BubblewrapRunner):
            found = holder or _holder.read(home)
            return found is not None and not found.outdated
        return not (home / _STOPPED_FILE).exists()

    def touch(self, sandbox_id: str) -> None:
        """Count now as activity of the sandbox (its preview had a visitor)."""
        self._touch(sandbox_id)

    def _touch(self, sandbox_id: str) -> None:
        with contextlib.suppress(OSError):  # a sandbox without a home fails just after
            (self._workspace(sandbox_id).parent / _ACTIVITY_FILE).touch(mode=0o600)

    def _reap(self, sandbox_id: str) -> None:
        with self._lock:
            proc = self._holders.pop(sandbox_id, None)
        if proc is not None:
            try:
                proc.wait(timeout=1)  # bubblewrap ends once its child has
            except subprocess.TimeoutExpired:
                _runner.kill_group(proc.pid)  # a holder that was not found where recorded
                proc.wait()

    def _workspace(self, sandbox_id: str) -> Path:
        # Ids come from our own database; anything else reaching here is a bug, not user input.
        if not isinstance(sandbox_id, str) or not _SANDBOX_ID.fullmatch(sandbox_id):
            raise ValueError(f"not a safe sandbox id: {sandbox_id!r}")
        return self.root / sandbox_id / "workspace"

    def _runner(self) -> tuple[_runner.Runner | None, str | None]:
        with self._probe_lock:
            if self._probed is None:
                self._probed = _runner.probe(self.isolation, self.root)
            return self._probed

    def _spec_env(self, sandbox_id: str) -> dict[str, str]:
        try:
            text = (self._workspace(sandbox_id).parent / _ENV_FILE).read_text()
        except FileNotFoundError:
            return {}
        return dict(json.loads(text))


def _check_command(command: str, timeout: float) -> None:
    if "\0" in command or len(command.encode(errors="surrogateescape")) > _ARG_BYTES:
        raise errors.Invalid(
            "command cannot be passed to a process.",
            field="command",
            rule=f"no NUL byte, at most {_ARG_BYTES} bytes",
            fix="remove the NUL byte, or write a long script to a file and run that",
        )
    if not timeout > 0:
        raise errors.Invalid(
            "timeout must be more than 0 seconds.", field="timeout", rule="timeout > 0",
            fix="pass the number of seconds the command may run",
        )  # fmt: skip


def _checked_env(env: Mapping[str, str]) -> dict[str, str]:
    checked = {str(key): str(value) for key, value in env.items()}
    sizes = [len(f"{k}={v}".encode(errors="surrogateescape")) for k, v in checked.items()]
    bad = [k for k, v in checked.items()
           if not _runner.SHELL_NAME.fullmatch(k) or k in _SHELL_OWN or "\0" in v]
    if bad or any(size > _ARG_BYTES for size in sizes) or sum(sizes) > _ENV_BYTES:
        raise errors.Invalid(
            f"environment {'variable ' + repr(bad[0]) if bad else 'too large'}: "
            "it cannot be passed to a process.",
            field="env",
            rule="names are shell identifiers ([A-Za-z_][A-Za-z0-9_]*: commands run through "
            f"/bin/sh, which drops any other) and not one the shell sets itself "
            f"({', '.join(sorted(_SHELL_OWN))}), values have no NUL, each entry is at "
            f"most {_ARG_BYTES} bytes and all together at most {_ENV_BYTES}",
            fix="rename the variable (letters, digits and _), remove the NUL byte, or put large "
                "values in a file",
        )
    return checked


def _chown_tree(top: str, uid: int) -> None:
    os.chown(top, uid, uid)
    for parent, dirs, files in os.walk(top):
        for name in (*dirs, *files):
            os.chown(os.path.join(parent, name), uid, uid, follow_symlinks=False)


def _write_private_json(path: Path, value: object) -> None:
    # The sandbox's env may hold its secrets: readable by us only, replaced whole.
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(value, handle)
    os.replace(temp, path)
