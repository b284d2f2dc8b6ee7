"""The local compute driver: sandboxes as directories and processes on this machine."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import re
import secrets
import shutil
import socket
import stat
import subprocess
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

from hostplane import errors
from hostplane.compute import _holder, _paths, _runner
from hostplane.compute._limits import Cgroups, Limits, join_command
from hostplane.compute.port import (
    SANDBOX,
    WORKSPACE,
    DriverStatus,
    ExecResult,
    FileEntry,
    SandboxSpec,
)

ISOLATION_MODES = ("auto", "bubblewrap", "none")
MAX_LIST_DEPTH = 10
MAX_LIST_ENTRIES = 10_000
_SANDBOX_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ENV_FILE = "env.json"
_LIMITS_FILE = "limits.json"
_IDENTITY_FILE = "identity"
# The kernel refuses any one argument or environment string past 128 KiB (MAX_ARG_STRLEN), and
# all of them together past a share of the stack; stay well inside both.
_ARG_BYTES = 128 * 1024 - 1
_ENV_BYTES = 512 * 1024


class LocalDriver:
    """Each sandbox is `root/<id>/workspace`; commands run in bubblewrap when it works."""

    name = "local"

    def __init__(self, root: Path, *, isolation: str = "auto",
                 cgroups: Cgroups | None = None) -> None:
        if isolation not in ISOLATION_MODES:
            raise ValueError(f"isolation must be one of {ISOLATION_MODES}, not {isolation!r}")
        # Absolute: bwrap and the subprocess cwd must not depend on where the API was started.
        self.root = Path(root).absolute()
        self.isolation = isolation
        self._probe_lock = threading.Lock()
        self._probed: tuple[_runner.Runner | None, str | None] | None = None
        self._processes = _runner.ProcessTable()
        self._lock = threading.Lock()
        self._holders: dict[str, subprocess.Popen[bytes]] = {}  # started here: reaped on stop
        self.cgroups = cgroups if cgroups is not None else Cgroups()

    # Lifecycle

    @property
    def isolation_mode(self) -> str:
        """What commands run under: "bubblewrap" or "none" (the host, at the real path)."""
        runner, _ = self._runner()
        if runner is None:
            return "bubblewrap"  # required, though not usable: nothing runs at all
        return runner.mode

    def capabilities(self) -> frozenset[str]:
        return frozenset({SANDBOX})

    def create_sandbox(self, spec: SandboxSpec) -> DriverStatus:
        workspace = self._workspace(spec.id)
        env = _checked_env(spec.env)
        # Only hostplane may enter the sandboxes' tree: a file a sandbox marks setuid must never
        # be reachable by other users of the host.
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        workspace.mkdir(parents=True, exist_ok=True)
        home = workspace.parent
        _write_private_json(home / _ENV_FILE, env)
        limits = Limits(memory_mb=spec.memory_mb, cpu_count=spec.cpu_count)
        _write_private_json(home / _LIMITS_FILE,
                            {"memory_mb": limits.memory_mb, "cpu_count": limits.cpu_count,
                             "pids": limits.pids})
        (home / _IDENTITY_FILE).write_text(spec.id + "\n")
        self.cgroups.prepare(spec.id, limits)
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
                self._holder(sandbox_id, runner)
        except errors.HostplaneError as exc:
            return DriverStatus("error", reason=exc.message)
        return DriverStatus("running")

    def sandbox_status(self, sandbox_id: str) -> DriverStatus:
        workspace = self._workspace(sandbox_id)
        if not workspace.is_dir():
            return DriverStatus("stopped", reason="the sandbox has no workspace on this machine")
        runner, reason = self._runner()
        if runner is None:
            return DriverStatus("error", reason=reason)
        if isinstance(runner, _runner.BubblewrapRunner) and _holder.read(workspace.parent) is None:
            return DriverStatus("stopped", reason="its processes are not running")
        if self.cgroups.frozen(sandbox_id):
            return DriverStatus("paused")
        return DriverStatus("running")

    def stop_sandbox(self, sandbox_id: str) -> None:
        """End every process of the sandbox; its files stay."""
        home = self._workspace(sandbox_id).parent
        if not home.is_dir():
            return
        with _holder.locked(home):
            self._processes.kill(sandbox_id)
            self.cgroups.thaw(sandbox_id)  # frozen processes cannot die
            _holder.stop(home)
            self._reap(sandbox_id)  # bubblewrap, which started it, reaps it, then is reaped here
            self.cgroups.remove(sandbox_id)  # every process of the sandbox, however far it forked
            _runner.kill_under(home)

    def pause_sandbox(self, sandbox_id: str) -> None:
        """Freeze every process of the sandbox where they are; `resume_sandbox` thaws them."""
        home = self._workspace(sandbox_id).parent
        with _holder.locked(home):
            if not self.cgroups.freeze(sandbox_id):
                raise errors.Conflict(
                    "This machine cannot pause sandboxes: no freezer cgroup is writable.",
                    code="PAUSE_NOT_SUPPORTED", fix="Stop the sandbox instead.")

    def resume_sandbox(self, sandbox_id: str) -> None:
        with _holder.locked(self._workspace(sandbox_id).parent):
            self.cgroups.thaw(sandbox_id)

    def destroy_sandbox(self, sandbox_id: str) -> None:
        home = self._workspace(sandbox_id).parent
        self._processes.kill(sandbox_id)
        self.stop_sandbox(sandbox_id)
        self.cgroups.remove(sandbox_id)
        if not home.exists():
            return
        # rmtree works through directory descriptors, so links inside are removed, not followed.
        shutil.rmtree(home, ignore_errors=True)
        if home.exists():
            shutil.rmtree(home)  # report what is still in the way

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
            return _holder.listening_ports(self._holder(sandbox_id, runner))
        return _runner.listening_ports(self.cgroups.pids_in(sandbox_id))

    def open_connection(self, sandbox_id: str, port: int, *, timeout: float = 5.0) -> socket.socket:
        """A TCP connection to `port` inside the sandbox, as the edge router will make them."""
        if not 1 <= port <= 65535:
            raise errors.Invalid(f"port {port} is not a TCP port.", field="port",
                                 rule="1 <= port <= 65535", fix="give the port the server uses")
        runner = self._running_runner(sandbox_id)
        try:
            if isinstance(runner, _runner.BubblewrapRunner):
                return _holder.connect(self._holder(sandbox_id, runner), port, timeout)
            return socket.create_connection(("127.0.0.1", port), timeout=timeout)
        except OSError as exc:
            raise errors.Unavailable(
                f"Nothing in sandbox {sandbox_id} accepts connections on port {port} "
                f"({exc.strerror or exc}).", code="PORT_NOT_LISTENING",
                fix="Start a server on that port in the sandbox (it may listen on any address).",
            ) from None

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
        _check_command(command, timeout)
        launch = self._launch(sandbox_id, command, cwd, env)
        with self._processes.track(sandbox_id) as tracker:
            return _runner.run(launch, timeout, tracker)

    def _launch(self, sandbox_id: str, command: str, cwd: str | None,
                env: Mapping[str, str] | None) -> _runner.Launch:
        """How to run `command` in the sandbox now: checked cwd and env, in its cgroups."""
        workspace = self._workspace(sandbox_id)
        runner = self._running_runner(sandbox_id)
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
        if isinstance(runner, _runner.BubblewrapRunner):
            holder = self._holder(sandbox_id, runner)
            launch = runner.launch(holder, sandbox_id, cwd_parts, merged, command)
        else:
            launch = _runner.DirectRunner().launch(workspace, cwd_parts, merged, command)
        procs = self.cgroups.join(sandbox_id, lambda: self._limits(sandbox_id))
        return dataclasses.replace(launch, prefix=tuple(join_command(procs)))

    # Files

    def write_file(self, sandbox_id: str, path: str, data: bytes) -> FileEntry:
        with self._resolve(sandbox_id, path, create_dirs=True) as found:
            if found.name is None:
                raise _paths.is_a_directory(path, "path")
            info = _write_atomic(found.dir_fd, found.name, bytes(data), path)
            return _paths.entry(found.parts, info)

    def read_file(self, sandbox_id: str, path: str, *, max_bytes: int) -> bytes:
        if max_bytes < 0:
            raise errors.Invalid(
                "max_bytes must not be negative.", field="max_bytes", rule="max_bytes >= 0",
                fix="pass the largest size you are ready to receive",
            )  # fmt: skip
        with self._resolve(sandbox_id, path) as found:
            if found.name is None:
                raise _paths.is_a_directory(path, "path")
            fd = _open_regular(found.dir_fd, found.name, path)
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise errors.TooLarge(
                f"{path!r} is larger than the {max_bytes} bytes asked for.",
                code="FILE_TOO_LARGE",
                field="path",
                rule=f"files are read whole, up to max_bytes ({max_bytes})",
                fix="raise max_bytes, or read a part of it with exec (e.g. head -c)",
            )
        return data

    def list_files(self, sandbox_id: str, path: str, *, depth: int = 1) -> list[FileEntry]:
        if depth < 1:
            raise errors.Invalid(
                "depth must be at least 1.", field="depth", rule="1 <= depth",
                fix="pass depth=1 for the directory's own entries",
            )  # fmt: skip
        with self._resolve(sandbox_id, path) as found:
            if found.name is None:
                return _paths.walk_tree(
                    found.dir_fd, (), min(depth, MAX_LIST_DEPTH), MAX_LIST_ENTRIES
                )
            info = _paths.lstat(found.dir_fd, found.name)
            if info is None:
                raise _paths.not_found(path, "path")
            if not stat.S_ISDIR(info.st_mode):
                raise _paths.not_a_directory(path, "path")
            try:
                fd = _paths.open_dir(found.dir_fd, found.name)
            except FileNotFoundError:
                raise _paths.not_found(path, "path") from None
            except Exception:
                raise _paths.outside(path, "path") from None  # swapped for a link meanwhile
        try:
            return _paths.walk_tree(fd, found.parts, min(depth, MAX_LIST_DEPTH), MAX_LIST_ENTRIES)
        finally:
            os.close(fd)

    def stat(self, sandbox_id: str, path: str) -> FileEntry:
        with self._resolve(sandbox_id, path) as found:
            if found.name is None:
                return _paths.entry((), os.fstat(found.dir_fd))
            info = _paths.lstat(found.dir_fd, found.name)
            if info is None:
                raise _paths.not_found(path, "path")
            return _paths.entry(found.parts, info)

    # Helpers

    def _limits(self, sandbox_id: str) -> Limits:
        try:
            found = json.loads((self._workspace(sandbox_id).parent / _LIMITS_FILE).read_text())
            return Limits(int(found["memory_mb"]), int(found["cpu_count"]), int(found["pids"]))
        except (OSError, ValueError, KeyError, TypeError):
            return Limits(memory_mb=2048, cpu_count=1)  # a sandbox made before limits existed

    def _running_runner(self, sandbox_id: str) -> _runner.Runner:
        runner, reason = self._runner()
        if runner is None:
            raise _not_running(sandbox_id, reason or "")
        if not self._workspace(sandbox_id).is_dir():
            raise _not_running(sandbox_id, "it has no workspace on this machine")
        return runner

    def _holder(self, sandbox_id: str, runner: _runner.BubblewrapRunner) -> _holder.Holder:
        """The sandbox's holder, started if it is not running (first use, or after a crash)."""
        workspace = self._workspace(sandbox_id)
        home = workspace.parent
        found = _holder.read(home)
        if found is not None:
            return found
        with _holder.locked(home):
            found = _holder.read(home)
            if found is None:
                procs = self.cgroups.join(sandbox_id, lambda: self._limits(sandbox_id))
                found, proc = _holder.start(
                    home, runner.holder_argv(workspace, home / _IDENTITY_FILE),
                    join_command(procs), {"PATH": _runner.BASE_PATH})
                with self._lock:
                    self._holders[sandbox_id] = proc
            return found

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

    @contextlib.contextmanager
    def _resolve(
        self, sandbox_id: str, path: str, *, field: str = "path", create_dirs: bool = False
    ) -> Iterator[_paths.Resolved]:
        parts = _paths.parse(path, field)
        workspace = self._workspace(sandbox_id)
        try:
            root_fd = os.open(workspace, _paths.DIR_FLAGS)
        except OSError as exc:
            reason = f"its workspace cannot be opened ({exc.strerror})"
            raise _not_running(sandbox_id, reason) from None
        host_roots = tuple({os.path.normpath(workspace), os.path.realpath(workspace)})
        try:
            with _paths.resolve(
                root_fd, parts, host_roots=host_roots, shown=path, field=field,
                create_dirs=create_dirs,
            ) as found:  # fmt: skip
                yield found
        finally:
            os.close(root_fd)

    def _spec_env(self, sandbox_id: str) -> dict[str, str]:
        try:
            text = (self._workspace(sandbox_id).parent / _ENV_FILE).read_text()
        except FileNotFoundError:
            return {}
        return dict(json.loads(text))


def _not_running(sandbox_id: str, reason: str) -> errors.Conflict:
    return errors.Conflict(
        f"Sandbox {sandbox_id} is not running on this machine: {reason}.",
        code="SANDBOX_NOT_RUNNING",
        fix="check the sandbox's status and start it again",
    )


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
    bad = [k for k, v in checked.items() if not _runner.SHELL_NAME.fullmatch(k) or "\0" in v]
    if bad or any(size > _ARG_BYTES for size in sizes) or sum(sizes) > _ENV_BYTES:
        raise errors.Invalid(
            f"environment {'variable ' + repr(bad[0]) if bad else 'too large'}: "
            "it cannot be passed to a process.",
            field="env",
            rule="names are shell identifiers ([A-Za-z_][A-Za-z0-9_]*: commands run through "
            "/bin/sh, which drops any other), values have no NUL, each entry is at "
            f"most {_ARG_BYTES} bytes and all together at most {_ENV_BYTES}",
            fix="rename the variable (letters, digits and _), remove the NUL byte, or put large "
                "values in a file",
        )
    return checked


def _write_private_json(path: Path, value: object) -> None:
    # The sandbox's env may hold its secrets: readable by us only, replaced whole.
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(value, handle)
    os.replace(temp, path)


def _open_regular(dir_fd: int, name: str, shown: str) -> int:
    # O_NONBLOCK: a FIFO made in the workspace must not hang the API; regular files ignore it.
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except FileNotFoundError:
        raise _paths.not_found(shown, "path") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # swapped for a link since it was resolved
            raise _paths.outside(shown, "path") from None
        if exc.errno == errno.ENXIO:  # a socket
            raise _not_regular(shown) from None
        raise errors.Conflict(f"{shown!r} cannot be read: {exc.strerror}.", code="FILE_UNREADABLE",
                              field="path", fix="Check the file's permissions.") from None
    mode = os.fstat(fd).st_mode
    if stat.S_ISREG(mode):
        return fd
    os.close(fd)
    if stat.S_ISDIR(mode):
        raise _paths.is_a_directory(shown, "path")
    raise _not_regular(shown)


def _not_regular(shown: str) -> errors.Invalid:
    return errors.Invalid(
        f"{shown!r} is not a regular file.",
        code="NOT_A_REGULAR_FILE",
        field="path",
        rule="only regular files can be read",
        fix="read a regular file",
    )


def _write_atomic(dir_fd: int, name: str, data: bytes, shown: str) -> os.stat_result:
    existing = _paths.lstat(dir_fd, name)
    if existing is not None and stat.S_ISDIR(existing.st_mode):
        raise _paths.is_a_directory(shown, "path")
    keep_mode = existing is not None and stat.S_ISREG(existing.st_mode)
    mode = stat.S_IMODE(existing.st_mode) if keep_mode else 0o644  # type: ignore[union-attr]
    # The leading dot and random suffix keep the temporary name off anything a user would pick.
    temp = f".hostplane-{secrets.token_hex(8)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temp, flags, 0o600, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            os.fchmod(handle.fileno(), mode)
        # Atomic for readers; without fsync a crash may lose the write, which a sandbox can redo.
        os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp, dir_fd=dir_fd)
        if isinstance(exc, IsADirectoryError):
            raise _paths.is_a_directory(shown, "path") from None
        raise
    info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    return info
