"""The identifier occurrence index: sorted runs per data file, merged, cases applied at read time.

The index is a set of sorted runs (:mod:`tls_core.search._runs`) in ``_tls/cache/search/``:
a level-0 run per group of new batches (data files are content-addressed, so a run never goes
stale: its files either are still in the repository or are not), merged ``FAN_IN`` at a time
into runs of the next level. An ingest costs one run for its new files (and, now and then, a
merge of ``FAN_IN`` runs of one level); a purge that rewrites or removes files means their
runs are rewritten without them (no purged value stays in the index).

Cases are never baked into the runs: a run's rows carry the batch; the batch -> cases map
(``case_links``) and the record -> referencing batches map (``record_refs``) are copied from
the snapshot into a small ``links`` file and applied when a search reads the rows, so a link,
unlink or purge of case links rebuilds nothing.

``manifest.json`` holds the key (index format, build SQL, every table's log version), the runs
(their sources, which are dead, and the SHA-256 of every row group and footer) and the links
file. Nothing is trusted blindly: a key that is not the current one means a refresh
(``stale``); a part failing its check means its run is rebuilt from its files (``corrupt``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

import pyarrow as pa

from tls_core.errors import IntegrityError
from tls_core.search._links import Links, load_links, write_links
from tls_core.search._parts import SortedFile, warm
from tls_core.search._runs import (
    BUILD_ROWS,
    OCCURRENCES_SCHEMA,
    ROLE_BITS,
    SUMMARY_SCHEMA,
    build_run,
    merge_runs,
    step_sql,
)
from tls_core.store import Repository, Snapshot
from tls_core.store._files import DataFile, fsync
from tls_core.store._layout import TABLES, Layout

__all__ = [
    "FAN_IN",
    "OCCURRENCES_SCHEMA",
    "ROLE_BITS",
    "SUMMARY_SCHEMA",
    "IndexState",
    "OccurrenceIndex",
    "Run",
    "RunsView",
    "index_dir",
    "open_index",
    "with_index",
]

_T = TypeVar("_T")
INDEX_FORMAT: Final = "3"
FAN_IN: Final = 8
"""Runs of one level merged at once (bounded fan-in: a merge holds one key range of each)."""
KEEP_RECENT_S: Final = 60.0
"""Index files younger than this are not deleted by another build (it may be in progress)."""
SPILL_KEEP_S: Final = 6 * 3600
"""Age after which a build's leftover spill directory is removed (its build was killed)."""
_RECORD_TABLES: Final = ("call_records", "subscriber_records", "misc_records")

IndexState = Literal["current", "built", "stale", "corrupt"]
"""How the index was found: ``current`` (key and bytes checked), ``built`` (there was none),
``stale`` (refreshed: the repository changed), ``corrupt`` (a part failed its check: its run
was rebuilt from the data files)."""

_DAMAGE = (IntegrityError, OSError, ValueError, KeyError, TypeError, pa.ArrowException)


@dataclass(frozen=True)
class Run:
    """One sorted run, its files checked (footer on load, each row group before it is read)."""

    level: int
    """0 for a run of one data file; n + 1 for a merge of level-n runs."""
    batches: tuple[str, ...]
    """Batch of each source (``source`` column of the rows)."""
    files: tuple[str, ...]
    """Data file names of each source (NUL-separated: they sort the groups of one batch)."""
    live: frozenset[int]
    """Sources whose data file is in the repository (rows of the others are left out)."""
    occurrences: SortedFile
    """One row per occurrence."""
    summary: SortedFile
    """One row per match key, identifier, kind, variant and source."""


@dataclass(frozen=True)
class OccurrenceIndex:
    """A checked, current occurrence index (see the module docstring)."""

    key: Mapping[str, Any]
    """What it was built from (format, build SQL hash, registry version, table versions)."""
    runs: tuple[Run, ...]
    """The runs, oldest first."""
    links: Links
    """Batch -> cases and record -> referencing batches, as of the snapshot."""

    @property
    def version(self) -> int:
        """The registry version it was built from."""
        return int(self.key["version"])

    @property
    def occurrences(self) -> RunsView:
        """The occurrence rows of every run (live sources only), for point lookups."""
        return RunsView(self.runs, "occurrences")

    @property
    def summary(self) -> RunsView:
        """The summary rows of every run (live sources only), for point lookups."""
        return RunsView(self.runs, "summary")


@dataclass(frozen=True)
class RunsView:
    """One file of every run read as one: rows of a key from each run, dead sources left out.

    Rows carry the run's ``source`` (a batch's file), not cases: see ``tls_core.search._groups``.
    """

    runs: tuple[Run, ...]
    """The runs."""
    which: Literal["occurrences", "summary"]
    """Which of their files."""

    def iter_key(self, key: str) -> Iterator[pa.Table]:
        """Yield the rows equal to ``key``, one checked row group at a time, run after run."""
        import pyarrow.compute as pc

        for run in self.runs:
            live = pa.array(sorted(run.live), pa.int32())
            for table in getattr(run, self.which).iter_key(key):
                yield table.filter(pc.is_in(table.column("source"), live))

    def lookup(self, key: str) -> pa.Table:
        """Rows whose match key equals ``key`` in every run."""
        schema = OCCURRENCES_SCHEMA if self.which == "occurrences" else SUMMARY_SCHEMA
        return pa.concat_tables([schema.empty_table(), *self.iter_key(key)])


def index_dir(repo: Repository) -> Path:
    """The directory of the occurrence index of ``repo``."""
    return Layout(repo.root).cache / "search"


def index_key(snap: Snapshot) -> dict[str, Any]:
    """What the index must have been refreshed for to be served for ``snap``."""
    return {
        "format": INDEX_FORMAT,
        "step": _step_hash(),
        "version": snap.version,
        "tables": {name: int(v) for name, v in sorted(snap.table_versions.items())},
    }


def with_index(
    repo: Repository, use: Callable[[OccurrenceIndex], _T]
) -> tuple[_T, IndexState, int]:
    """Run ``use`` on the current index; return its result, the index state and version.

    When every table's log is still at the version the index was refreshed for, the index is
    served without taking a snapshot (listing the logs is cheap; opening them is not).
    Otherwise a snapshot is taken and the index refreshed. A part failing its check while
    ``use`` reads it means its run is rebuilt and ``use`` runs again.

    Raises:
        IntegrityError: a store file fails its check while the index is refreshed.
    """
    directory = index_dir(repo)
    manifest = _read_manifest(directory)
    state: IndexState = "built" if manifest is None else "stale"
    if manifest is not None and _current(repo, manifest):
        try:
            index = _load(directory, manifest)
            return use(index), "current", index.version
        except _DAMAGE as err:
            state, broken = "corrupt", _damaged(err)
            snap = repo.snapshot()
            index = _load(directory, _refresh(directory, snap, manifest, broken=broken))
            return use(index), state, index.version
    snap = repo.snapshot()
    index, found = open_index(repo, snap)
    state = state if found == "current" else found
    try:
        return use(index), state, index.version
    except _DAMAGE as err:
        manifest = _read_manifest(directory)
        index = _load(directory, _refresh(directory, snap, manifest, broken=_damaged(err)))
        return use(index), "corrupt", index.version


def open_index(repo: Repository, snap: Snapshot) -> tuple[OccurrenceIndex, IndexState]:
    """Return the index for ``snap``, refreshing it when it is missing, stale or damaged.

    Raises:
        IntegrityError: a store file fails its check while the index is refreshed.
        LinkError: an SQL step failed (names the step and its SQL).
    """
    directory = index_dir(repo)
    key = index_key(snap)
    manifest = _read_manifest(directory)
    state: IndexState = "built" if manifest is None else "stale"
    if manifest is not None and manifest.get("key") == key:
        try:
            return _load(directory, manifest), "current"
        except _DAMAGE as err:
            return _load(directory, _refresh(directory, snap, manifest, _damaged(err))), "corrupt"
    return _load(directory, _refresh(directory, snap, manifest)), state


def log_versions(repo: Repository) -> dict[str, int]:
    """Each table's latest Delta log version, from the log's file names (nothing parsed).

    A log directory's listing is reused while the directory is unchanged (same inode and
    modification time) and that time is over a second old: a file added since would have
    changed it (the "racy" second guards file systems with coarse timestamps).
    """
    layout = Layout(repo.root)
    versions: dict[str, int] = {}
    now = time.time_ns()
    for table in TABLES:
        log = layout.table(table) / "_delta_log"
        st = log.stat()
        if now - st.st_mtime_ns > _RACY_NS:
            versions[table] = _latest_version(log, st.st_ino, st.st_mtime_ns)
        else:
            versions[table] = _latest_version.__wrapped__(log, st.st_ino, st.st_mtime_ns)
    return dict(sorted(versions.items()))


_RACY_NS: Final = 1_000_000_000


@lru_cache(maxsize=64)
def _latest_version(log: Path, ino: int, mtime_ns: int) -> int:
    names = os.listdir(log)
    return max((int(n[:-5]) for n in names if n.endswith(".json") and n[:-5].isdigit()), default=-1)


@lru_cache(maxsize=1)
def _step_hash() -> str:
    return hashlib.sha256(step_sql().encode()).hexdigest()


def _current(repo: Repository, manifest: Mapping[str, Any]) -> bool:
    key = manifest.get("key")
    if not isinstance(key, dict) or key.get("format") != INDEX_FORMAT:
        return False
    return key.get("step") == _step_hash() and key.get("tables") == log_versions(repo)


def _read_manifest(directory: Path) -> dict[str, Any] | None:
    path = directory / "manifest.json"
    try:
        st = path.stat()
        return _parse_manifest(path, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    except (OSError, ValueError):
        return None


@lru_cache(maxsize=8)
def _parse_manifest(path: Path, *stat: int) -> dict[str, Any] | None:
    # Memoized on (inode, size, mtime, ctime): the manifest is replaced, never edited in place.
    data = json.loads(path.read_text())
    return data if isinstance(data, dict) else None


def _load(directory: Path, manifest: Mapping[str, Any]) -> OccurrenceIndex:
    runs = tuple(_load_run(directory, entry) for entry in manifest["runs"])
    names = tuple(str(r.occurrences.path) for r in runs)
    if names not in _WARMED:
        # The first load of these runs in this process: their footers are parsed in the
        # background (a search would otherwise pay about 0.1 s for each file it first reads).
        _WARMED.add(names)
        warm([f for r in runs for f in (r.summary, r.occurrences)])
    return OccurrenceIndex(
        key=manifest["key"], runs=runs, links=load_links(directory, manifest["links"])
    )


_WARMED: set[tuple[str, ...]] = set()
"""Run sets whose footers were warmed (content-addressed names: one set, one content)."""


def _load_run(directory: Path, entry: Mapping[str, Any]) -> Run:
    files = entry["files"]
    dead = set(entry.get("dead", ()))
    sources = entry["sources"]
    return Run(
        level=int(entry["level"]),
        batches=tuple(str(s["batch"]) for s in sources),
        files=tuple("\x00".join(s["files"]) for s in sources),
        live=frozenset(i for i in range(len(sources)) if i not in dead),
        occurrences=SortedFile.from_manifest(directory, files["occurrences"], OCCURRENCES_SCHEMA),
        summary=SortedFile.from_manifest(directory, files["summary"], SUMMARY_SCHEMA),
    )


def _damaged(err: BaseException) -> str | None:
    """The index file an error names (its run is rebuilt); None: check every run."""
    file = getattr(err, "file", None)
    return Path(file).name if isinstance(file, str) else None


def _refresh(
    directory: Path,
    snap: Snapshot,
    manifest: Mapping[str, Any] | None,
    broken: str | None = "",
) -> dict[str, Any]:
    """Bring the runs up to ``snap``: keep what is sound, index new files, merge, relink.

    ``broken``: the name of an index file found damaged (``None``: unknown, every part of
    every run is hashed; ``""``: nothing known to be damaged).
    """
    directory.mkdir(parents=True, exist_ok=True)
    key = index_key(snap)
    kept = _sound_runs(directory, manifest, key, broken)
    current = {f.name: f for t in _RECORD_TABLES for f in snap.files[t]}
    spill = directory / f"spill-{uuid.uuid4().hex}"
    try:
        runs = _drop_dead(directory, kept, current)
        covered = {name for r in runs for s in r["sources"] for name in s["files"]}
        fresh: set[str] = set()
        for group in _new_files(current, covered):
            run = build_run(snap, group, directory, spill)
            fresh |= {f["file"] for f in run["files"].values()}
            runs.append({**run, "dead": []})
        runs = _compact(directory, runs, fresh)
    finally:
        shutil.rmtree(spill, ignore_errors=True)
    links = write_links(directory, snap)
    fsync(directory)
    out = {"format": INDEX_FORMAT, "key": key, "runs": runs, "links": links}
    _write_manifest(directory, out)
    keep = {f["file"] for r in runs for f in r["files"].values()} | {links["file"]}
    _remove_old(directory, keep)
    return out


def _sound_runs(
    directory: Path, manifest: Mapping[str, Any] | None, key: Mapping[str, Any], broken: str | None
) -> list[dict[str, Any]]:
    """Runs of ``manifest`` that can be kept: same format and build SQL, every file sound."""
    if manifest is None:
        return []
    old = manifest.get("key")
    if not isinstance(old, dict) or (old.get("format"), old.get("step")) != (
        key["format"],
        key["step"],
    ):
        return []
    kept = []
    for entry in manifest.get("runs", ()):
        try:
            run = _load_run(directory, entry)
            names = {run.occurrences.path.name, run.summary.path.name}
            if broken in names:
                continue
            if broken is None:
                for part in (run.occurrences, run.summary):
                    part.read(list(range(len(part.row_groups))), part.schema.names[:1])
        except _DAMAGE:
            continue
        kept.append(dict(entry))
    return kept


def _drop_dead(
    directory: Path, runs: list[dict[str, Any]], current: Mapping[str, DataFile]
) -> list[dict[str, Any]]:
    """Drop runs whose files are all gone; rewrite those with some gone.

    A file leaves the repository when a purge rewrites or removes it: no purged value stays
    in the index.
    """
    out = []
    for run in runs:
        dead = [
            i
            for i, s in enumerate(run["sources"])
            if any(name not in current for name in s["files"])
        ]
        if not dead:
            out.append({**run, "dead": []})
        elif len(dead) < len(run["sources"]):
            loaded = _load_run(directory, {**run, "dead": dead})
            entry = merge_runs(
                directory, [(run, loaded.occurrences)], [loaded.live], level=run["level"]
            )
            out.append({**entry, "dead": []})
    return out


def _new_files(current: Mapping[str, DataFile], covered: set[str]) -> list[list[DataFile]]:
    """Files no run covers, by batch, in groups of at most about ``BUILD_ROWS`` records.

    A large batch may be split over groups (a source is a batch's files within one run).
    """
    groups: list[list[DataFile]] = [[]]
    rows = 0
    for f in sorted((current[n] for n in set(current) - covered), key=_by_batch):
        if groups[-1] and rows + max(f.rows, 0) > BUILD_ROWS:
            groups.append([])
            rows = 0
        groups[-1].append(f)
        rows += max(f.rows, 0)
    return [g for g in groups if g]


def _by_batch(f: DataFile) -> tuple[str, str]:
    return (f.owner_id, f.name)


def _compact(directory: Path, runs: list[dict[str, Any]], fresh: set[str]) -> list[dict[str, Any]]:
    """Merge ``FAN_IN`` runs of a level into one of the next, while a level has that many.

    Inputs written by this refresh (``fresh``: no manifest names them) are deleted once
    merged, so a first build of a large repository holds about one copy of the index.
    """
    while True:
        levels: dict[int, list[int]] = {}
        for i, run in enumerate(runs):
            levels.setdefault(int(run["level"]), []).append(i)
        full = [lvl for lvl, members in sorted(levels.items()) if len(members) >= FAN_IN]
        if not full:
            return runs
        chosen = levels[full[0]][:FAN_IN]
        inputs = [(runs[i], _load_run(directory, runs[i]).occurrences) for i in chosen]
        live = [_load_run(directory, runs[i]).live for i in chosen]
        merged = merge_runs(directory, inputs, live, level=full[0] + 1)
        for i in chosen:
            for f in runs[i]["files"].values():
                if f["file"] in fresh:
                    (directory / f["file"]).unlink(missing_ok=True)
        fresh |= {f["file"] for f in merged["files"].values()}
        runs = [r for i, r in enumerate(runs) if i not in chosen] + [{**merged, "dead": []}]


def _remove_old(directory: Path, keep: Iterable[str]) -> None:
    # Files another process wrote in the last minute may belong to its build in progress (or
    # be read right now): leave them to the next refresh.
    keep = set(keep)
    horizon = time.time() - KEEP_RECENT_S
    for old in [*directory.glob("*.parquet"), *directory.glob("manifest.*.tmp")]:
        try:
            if old.name not in keep and old.stat().st_mtime < horizon:
                old.unlink()
        except FileNotFoundError:
            continue
    # Spill directories of a killed build; a running build's may sit untouched for minutes.
    for spill in directory.glob("spill-*"):
        try:
            if spill.stat().st_mtime < time.time() - SPILL_KEEP_S:
                shutil.rmtree(spill, ignore_errors=True)
        except FileNotFoundError:
            continue


def _write_manifest(directory: Path, manifest: Mapping[str, Any]) -> None:
    tmp = directory / f"manifest.{uuid.uuid4().hex}.tmp"
    tmp.write_text(json.dumps(manifest))
    fsync(tmp)
    os.replace(tmp, directory / "manifest.json")
    fsync(directory)
