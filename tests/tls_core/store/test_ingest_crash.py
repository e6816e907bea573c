"""Random SIGKILLs during Repository.ingest: the row count is always before or before + n.

Each ingest runs in a child forked from a warm "zygote" process (this file run as a script):
the zygote imports the store and the adapters once, then forks one child per file on request,
so a child starts in milliseconds and the kills land inside the ingest (read, stage, dedup,
the Delta commits, the marker) rather than inside interpreter start-up. The zygote runs with
``NUMBA_DISABLE_JIT=1``: the files are tiny, and it starts no thread before it forks (a JIT
cache load per child would cost more than the ingest). Kill times are drawn up to 1.3 times a
calibrated whole ingest, so some kills land inside ingests and some ingests complete; an
ingest costs a little more as the repository grows (more batches to list and check), so the
whole ingest is calibrated again every :data:`RECALIBRATE` files.
"""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tls_core.store import Repository

N = 20
RECALIBRATE = 10
CASE = "C1"
HERE = Path(__file__).resolve()


def write_return(folder: Path, index: int, n: int = N) -> Path:
    """A T-Mobile-layout return of ``n`` calls unique to ``index``, plus one bad-date row."""
    from penlink_adapters import get_layout_or_raise
    from penlink_adapters._synth_render import SynthCall, call_fields, render_rows

    layout = get_layout_or_raise("tmobile")
    start = datetime(2021, 3, 1, tzinfo=UTC) + timedelta(days=index)
    rows = [
        call_fields(
            layout,
            SynthCall(
                target="2125550142",
                other=f"312555{(index * n + i) % 10000:04d}",
                start=start + timedelta(minutes=i),
                duration=60 + i,
                direction="outgoing",
                event="voice",
            ),
            None,
        )
        for i in range(n)
    ]
    text = render_rows(layout, rows)
    last = text.rstrip("\r\n").rsplit("\r\n", 1)[1]
    bad = "99/99/2021," + last.split(",", 1)[1]
    path = folder / f"return-{index:04d}.csv"
    path.write_text(text + bad + "\r\n", newline="")
    return path


class Zygote:
    """A warm process that forks one ingesting child per request (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE), "zygote", str(root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=HERE.parent,
        )
        assert self._read() == "ready"

    def start(self, path: Path) -> int:
        self._send(f"go {path}")
        return int(self._read().split()[1])

    def wait(self, pid: int) -> int:
        self._send(f"wait {pid}")
        return int(self._read().split()[1])

    def close(self) -> None:
        self._send("quit")
        self.proc.wait(30)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()

    def _send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def _read(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()


def _kill_after(pid: int, delay: float, zygote: Zygote) -> int:
    time.sleep(delay)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, 9)
    return zygote.wait(pid)


def _loop(tmp_path: Path, iterations: int, seed: int, rerun_sample: int | None) -> None:
    root = tmp_path / "repo"
    repo = Repository.open(root)
    zygote = Zygote(root)
    rng = random.Random(seed)
    calibrations = 0
    try:
        span = _calibrate(zygote, write_return(tmp_path, 0))
        before = repo.snapshot().row_count("call_records")
        assert before == N
        visible: dict[int, bool] = {}
        for i in range(1, iterations + 1):
            if i % RECALIBRATE == 0:  # an extra whole ingest, not killed
                span = _calibrate(zygote, write_return(tmp_path, iterations + i))
                calibrations += 1
                before += N
                assert repo.snapshot().row_count("call_records") == before
            path = write_return(tmp_path, i)
            status = _kill_after(zygote.start(path), rng.uniform(0.0, span), zygote)
            assert status in (0, -9), status
            after = repo.snapshot().row_count("call_records")
            assert after in (before, before + N), (i, before, after)
            visible[i] = after > before
            before = after
            if i % 25 == 0:
                assert repo.verify().ok
    finally:
        zygote.close()
    _rerun(repo, tmp_path, visible, rng, rerun_sample, calibrations)


def _calibrate(zygote: Zygote, path: Path) -> float:
    """Ingest ``path`` to the end; return the span kill times are drawn from (1.3 times it)."""
    start = time.perf_counter()
    assert zygote.wait(zygote.start(path)) == 0
    return 1.3 * (time.perf_counter() - start)


def _rerun(
    repo: Repository, folder: Path, visible: dict[int, bool], rng, sample, calibrations: int
) -> None:
    """Killed ingests load exactly N when re-run; completed ones are no-ops."""
    killed = [i for i, seen in visible.items() if not seen]
    completed = [i for i, seen in visible.items() if seen]
    assert killed, "no kill landed inside an ingest"
    assert completed, "no ingest ever completed"
    if sample is not None:
        killed = rng.sample(killed, min(sample, len(killed)))
        completed = rng.sample(completed, min(sample // 3, len(completed)))
    for i in killed + completed:
        (report,) = repo.ingest(folder / f"return-{i:04d}.csv", case_ids=[CASE], actor="tester")
        assert report.loaded == (0 if visible[i] else N)
        assert report.noop is visible[i]
    stored = N * (1 + calibrations + sum(visible.values()) + len(killed))
    assert repo.snapshot().row_count("call_records") == stored
    assert repo.snapshot().row_count("rejects") == stored // N  # one bad row per file
    report = repo.verify()
    assert report.ok, report.problems
    assert report.orphans == ()
    assert not any((repo.root / "_tls" / "tmp").glob("rejects-*"))


def test_random_kills_during_ingest(tmp_path):
    _loop(tmp_path, 100, seed=11, rerun_sample=20)


@pytest.mark.slow
def test_random_kills_during_ingest_many(tmp_path):
    _loop(tmp_path, 500, seed=12, rerun_sample=90)  # every kill checked; a sample re-run


def _zygote(root: str) -> None:
    """Serve ``go PATH`` (fork an ingesting child, answer its pid) and ``wait PID``."""
    import warnings

    warnings.simplefilter("ignore")
    _import_what_an_ingest_imports()
    print("ready", flush=True)
    for line in sys.stdin:
        verb, _, arg = line.strip().partition(" ")
        if verb == "go":
            pid = os.fork()
            if pid == 0:
                _child(root, arg)
            print(f"pid {pid}", flush=True)
        elif verb == "wait":
            _, status = os.waitpid(int(arg), 0)
            code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            print(f"status {code}", flush=True)
        else:
            return


def _import_what_an_ingest_imports() -> None:
    """Import (only import: no thread may start before a fork) what a real ingest loads.

    A throwaway process ingests one file and lists its modules; most of a cold ingest's time
    is imports (and the phone metadata of every region, loaded by importing its module).
    """
    import importlib

    listed = subprocess.run(
        [sys.executable, str(HERE), "modules"], capture_output=True, text=True, check=True
    )
    for name in listed.stdout.split():
        try:
            importlib.import_module(name)
        except Exception:  # a module that imports only in a context
            continue
    from penlink_adapters import list_layouts

    list_layouts()  # parses and caches the layout files (pure Python)


def _list_modules() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = write_return(Path(tmp), 0)
        Repository.open(Path(tmp) / "repo").ingest(path, case_ids=[CASE], actor="tester")
    print("\n".join(n for n in sorted(sys.modules) if not n.startswith("__")))


def _child(root: str, path: str) -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    code = 1
    try:
        Repository.open(root).ingest(path, case_ids=[CASE], actor="tester")
        code = 0
    finally:
        os._exit(code)


if __name__ == "__main__" and sys.argv[1] == "zygote":
    _zygote(sys.argv[2])
elif __name__ == "__main__" and sys.argv[1] == "modules":
    _list_modules()
