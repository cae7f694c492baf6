"""A stage attempt's driver log, kept in the bucket beside its result: `<stageUri>/logs/attempt-<N>.log`.

A Ray job's own log lives on its head node and goes when the head (or the KubeRay cluster) goes. So the job keeps a
copy itself, as it runs: `run_stage` starts a `DriverLog` once the stage input is parsed, and closes it last (after the
one-line failure reason, if any). The log catches, at the file-descriptor level, everything this process writes to
its stdout and stderr: print() and logging, Ray's forwarded worker lines ("(RayTrainWorker pid=…) …"), Tune's progress
output, and C/C++ libraries writing to fds 1 and 2. All of it still reaches the original stdout/stderr, so Ray's
own job log (and what the control plane reads from it) is unchanged.

Where the log goes is where the result goes: a local folder (appended to, flushed every second) or an object store
such as s3:// through fsspec (`storage.py`). Object stores cannot append, so each flush rewrites the whole object
with one PUT (atomic on S3: a reader sees the previous or the new log, never part of one). Why not numbered parts:
one object per attempt is what a person (the S3 console, `aws s3 cp`) and `sentinel logs` read without listing and
concatenating, and a log only grows, so a reader following it reads the object from the byte it had reached
(a ranged GET). Rewriting costs bytes, not requests: the flush interval grows with the log's size (every 2 s up to
8 MiB, then proportionally, at most every 30 s), and the log stops growing at 64 MiB with a note saying so.

The attempt number comes from the Ray submission id, which is the job name on both backends
(`<pipeline>-<runId>-<stage>-<attempt>`, core/names.ts jobNameFor); Ray hands it to the driver in its job config.
A stage run outside a Ray job (a unit test calling the entrypoint directly) has no attempt and keeps no log.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime
from types import FrameType
from typing import IO, Any

from sentinel_sdk import storage

#: The folder beside result.json; core/artifacts.ts stageLogUri names the same one.
LOG_FOLDER = "logs"
#: Ray's environment variable with the driver's job config ({"metadata": {"job_submission_id": …, …}}).
RAY_JOB_CONFIG_ENV = "RAY_JOB_CONFIG_JSON_ENV_VAR"
SUBMISSION_ID_KEY = "job_submission_id"

LOCAL_FLUSH_SECONDS = 1.0
REMOTE_FLUSH_SECONDS = 2.0
REMOTE_FLUSH_MAX_SECONDS = 30.0
#: Above this size the remote flush interval grows in proportion (bytes re-uploaded per second stay bounded).
REMOTE_STEADY_BYTES = 8 * 1024 * 1024
MAX_BYTES = 64 * 1024 * 1024


def log_uri(stage_uri: str, attempt: int) -> str:
    return storage.join(stage_uri, LOG_FOLDER, f"attempt-{attempt}.log")


def attempt_from_job(pipeline: str, run_id: str, stage: str, env: Mapping[str, str] | None = None) -> int | None:
    """The attempt of this Ray job, from its submission id `<pipeline>-<runId>-<stage>-<N>`; None outside such a job."""
    raw = (os.environ if env is None else env).get(RAY_JOB_CONFIG_ENV)
    if not raw:
        return None
    try:
        config = json.loads(raw)
    except json.JSONDecodeError:
        return None
    metadata = config.get("metadata") if isinstance(config, dict) else None
    name = metadata.get(SUBMISSION_ID_KEY) if isinstance(metadata, dict) else None
    prefix = f"{pipeline}-{run_id}-{stage}-"
    if not isinstance(name, str) or not name.startswith(prefix):
        return None
    tail = name[len(prefix):]
    if not tail.isdigit() or len(tail) > 2:
        return None
    attempt = int(tail)
    return attempt if 1 <= attempt <= 99 else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Stream:
    """One captured file descriptor: a pipe in its place, a thread copying the pipe to the original and the log."""

    def __init__(self, fd: int, log: DriverLog) -> None:
        self.fd = fd
        self.log = log
        self.saved = os.dup(fd)
        read_end, write_end = os.pipe()
        self.read_end = read_end
        os.dup2(write_end, fd)
        os.close(write_end)
        self.thread = threading.Thread(target=self._pump, name=f"sentinel-driver-log-fd{fd}", daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        while True:
            try:
                data = os.read(self.read_end, 65536)
            except OSError:
                return
            if not data:
                return
            self._forward(data)
            self.log._append(self.fd, data)

    def _forward(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.saved, view)
            except OSError:
                return  # the original reader is gone; keep logging
            view = view[n:]

    def restore(self, timeout: float) -> bool:
        """Puts the original back; True when the pipe was drained (False: a child process still holds it)."""
        os.dup2(self.saved, self.fd)  # closes the pipe's last write end here, so the pump reads to EOF
        self.thread.join(timeout)
        if self.thread.is_alive():
            return False
        os.close(self.read_end)
        os.close(self.saved)
        return True


class _Tee:
    """Python-level fallback (when fds 1/2 cannot be replaced): writes go to the original stream and to the log."""

    def __init__(self, original: IO[str], fd: int, log: DriverLog) -> None:
        self._original = original
        self._fd = fd
        self._log = log

    def write(self, text: str) -> int:
        n = self._original.write(text)
        self._log._append(self._fd, text.encode("utf-8", "replace"))
        return n

    def flush(self) -> None:
        self._original.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


class DriverLog:
    """Captures this process's stdout and stderr into `uri` until `close()`; flushes periodically and at the end."""

    def __init__(
        self,
        uri: str,
        *,
        header: str | None = None,
        fd_level: bool = True,
        flush_seconds: float | None = None,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self.uri = uri
        self.local = storage.is_local(uri)
        self.flush_seconds = flush_seconds if flush_seconds is not None else (LOCAL_FLUSH_SECONDS if self.local else REMOTE_FLUSH_SECONDS)
        self.max_bytes = max_bytes
        self._header = header
        self._fd_level = fd_level
        self._lock = threading.Lock()
        self._partial: dict[int, bytearray] = {1: bytearray(), 2: bytearray()}
        self._partial_seen: dict[int, bool] = {1: False, 2: False}
        self._written = 0  # bytes in the log so far
        self._uploaded = -1  # bytes in the object store's copy (remote)
        self._last_upload = 0.0
        self._truncated = False
        self._closed = False
        self._started = 0.0
        self._streams: list[_Stream] = []
        self._tees: list[tuple[str, IO[str]]] = []
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        self._spool: IO[bytes] | None = None
        self._spool_path: str | None = None
        self.upload_errors = 0

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> DriverLog:
        self._started = time.monotonic()
        if self.local:
            path = storage._fs(self.uri)[1]
            os.makedirs(os.path.dirname(path), exist_ok=True)
            self._spool = open(path, "wb")  # kept open until close()
        else:
            fd, self._spool_path = tempfile.mkstemp(prefix="sentinel-driver-log-", suffix=".log")
            self._spool = os.fdopen(fd, "w+b")
        if self._header:
            self._write_line(f"[sentinel] {self._header}\n".encode())
        self._flush_python_streams()
        if self._fd_level:
            try:
                for fd in (1, 2):
                    self._streams.append(_Stream(fd, self))
            except OSError:
                for s in self._streams:
                    s.restore(1.0)
                self._streams = []
                self._fd_level = False
        if not self._fd_level:
            for name, fd in (("stdout", 1), ("stderr", 2)):
                original = getattr(sys, name)
                self._tees.append((name, original))
                setattr(sys, name, _Tee(original, fd, self))
        self.flush(force=True)
        self._flusher = threading.Thread(target=self._flush_loop, name="sentinel-driver-log-flush", daemon=True)
        self._flusher.start()
        atexit.register(self.close)
        return self

    def close(self, note: str | None = None) -> None:
        """Restores stdout/stderr, writes what is left and a closing line, and uploads the log one last time."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._flush_python_streams()
        drained = all([s.restore(2.0) for s in self._streams])
        for name, original in self._tees:
            setattr(sys, name, original)
        if self._flusher is not None:
            self._flusher.join(5.0)
        with self._lock:
            for fd in (1, 2):
                self._take_partial(fd)
        seconds = time.monotonic() - self._started
        end = f"[sentinel] log closed at {_now()} after {seconds:.1f} s" + (f" ({note})" if note else "")
        if not drained:
            end += " (a child process still holds stdout/stderr; its later output is in Ray's own job log only)"
        self._write_line(f"{end}\n".encode())
        self.flush(force=True)
        if self._spool is not None:
            self._spool.close()
        if self._spool_path is not None:
            try:
                os.remove(self._spool_path)
            except OSError:
                pass
        atexit.unregister(self.close)

    def __enter__(self) -> DriverLog:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: Any) -> None:
        self.close_on(value)

    def close_on(self, error: BaseException | None) -> None:
        """Closes the log; an exception that ends the process goes into it first (the interpreter prints it later)."""
        if error is not None and not self._closed and not isinstance(error, SystemExit):
            self._flush_python_streams()
            text = "".join(traceback.format_exception(error))
            with self._lock:
                for fd in (1, 2):
                    self._take_partial(fd)
                self._write_locked(text.encode("utf-8", "replace"))
        self.close(None if error is None else f"ended by {type(error).__name__}{f' {error.code}' if isinstance(error, SystemExit) else ''}")

    # -- writing -----------------------------------------------------------------------------------------------

    def _append(self, fd: int, data: bytes) -> None:
        """Whole lines go into the log (so stdout and stderr interleave by line); a partial one waits for its end."""
        with self._lock:
            buf = self._partial[fd]
            buf.extend(data)
            cut = buf.rfind(b"\n")
            if cut >= 0:
                self._write_locked(bytes(buf[: cut + 1]))
                del buf[: cut + 1]
                self._partial_seen[fd] = False

    def _take_partial(self, fd: int) -> None:
        buf = self._partial[fd]
        if buf:
            self._write_locked(bytes(buf))
            buf.clear()
        self._partial_seen[fd] = False

    def _write_line(self, data: bytes) -> None:
        with self._lock:
            self._write_locked(data)

    def _write_locked(self, data: bytes) -> None:
        if self._spool is None or self._truncated:
            return
        if self._written + len(data) > self.max_bytes:
            note = f"\n[sentinel] the log reached {self.max_bytes} bytes and stops here; the rest is in Ray's own job log\n".encode()
            self._spool.write(data[: max(0, self.max_bytes - self._written)] + note)
            self._written = self.max_bytes + len(note)
            self._truncated = True
            return
        self._spool.write(data)
        self._written += len(data)

    # -- flushing ----------------------------------------------------------------------------------------------

    def _flush_python_streams(self) -> None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):
                pass

    def _flush_loop(self) -> None:
        # Python's own buffers are not flushed from here (TextIOWrapper is not thread-safe); Ray runs drivers with
        # PYTHONUNBUFFERED=1, so what the stage prints reaches fd 1/2 at once anyway.
        while not self._stop.wait(self.flush_seconds):
            with self._lock:
                # A partial line waiting a whole interval (a progress bar, a prompt) goes in as it is.
                for fd in (1, 2):
                    if self._partial[fd] and self._partial_seen[fd]:
                        self._take_partial(fd)
                    elif self._partial[fd]:
                        self._partial_seen[fd] = True
            self.flush()

    def _remote_interval(self) -> float:
        scaled = self.flush_seconds * max(1.0, self._written / REMOTE_STEADY_BYTES)
        return min(REMOTE_FLUSH_MAX_SECONDS, scaled)

    def flush(self, force: bool = False) -> None:
        """Local: the file is flushed (appends are visible at once). Remote: the whole log is PUT when it changed."""
        with self._lock:
            if self._spool is None or self._spool.closed:
                return
            self._spool.flush()
            if self.local:
                return
            if self._written == self._uploaded:
                return
            if not force and time.monotonic() - self._last_upload < self._remote_interval():
                return
            self._spool.seek(0)
            body = self._spool.read()
            self._spool.seek(0, os.SEEK_END)
            size = self._written
        try:
            storage.write_bytes(self.uri, body)
            self._uploaded = size
        except Exception:  # noqa: BLE001 - a failed upload must never fail the stage; the next flush retries
            self.upload_errors += 1
        self._last_upload = time.monotonic()


_current: DriverLog | None = None


def _on_sigterm(signum: int, _frame: FrameType | None) -> None:
    # As Ray's own driver handler does: exit through SystemExit, so run_stage's `finally` closes the log.
    sys.exit(128 + signum)


def start(stage_input: Any, env: Mapping[str, str] | None = None) -> DriverLog | None:
    """Starts this attempt's log (run_stage's hook); None outside a Ray job or when the log cannot be opened."""
    global _current
    attempt = attempt_from_job(stage_input.pipeline, stage_input.run_id, stage_input.stage, env)
    if attempt is None or _current is not None:
        return None
    header = f"{stage_input.stage} attempt {attempt} of run {stage_input.run_id} ({stage_input.pipeline}), pid {os.getpid()}, started {_now()}"
    try:
        log = DriverLog(log_uri(stage_input.stage_uri, attempt), header=header).start()
    except Exception as e:  # noqa: BLE001 - no log is better than no stage
        print(f"[sentinel] no driver log: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        return None
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)
    _current = log
    return log


def stop() -> None:
    """Closes the log `start` opened, if any (run_stage calls this last)."""
    global _current
    log, _current = _current, None
    if log is not None:
        log.close_on(sys.exc_info()[1])  # in run_stage's `finally`: what is ending the stage, if anything
