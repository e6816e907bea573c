"""The TLS repository: atomic, idempotent, verified Delta Lake tables of canonical records.

Open a :class:`Repository`, ingest carrier return files with :meth:`Repository.ingest` (or
commit already-read canonical tables with :meth:`Repository.commit_batch`), read a
:class:`Snapshot` (exact committed file list, locked-down DuckDB connection),
:meth:`Repository.verify` the files against their SHA-256, and purge records past retention.
``docs/storage.md`` describes the layout and the commit protocol.

Importing this package is cheap: ``deltalake`` and ``duckdb`` are imported on first use.
"""

from __future__ import annotations

from tls_core.retention import CaseFacts as CaseFacts
from tls_core.retention import IntoCaseFacts as IntoCaseFacts
from tls_core.retention import retention_end as retention_end
from tls_core.store._commit import CommitStep as CommitStep
from tls_core.store._commit import IntoRecords as IntoRecords
from tls_core.store._commit import PurgeStep as PurgeStep
from tls_core.store._commit import StepHook as StepHook
from tls_core.store._files import DataFile as DataFile
from tls_core.store._gc import GcReport as GcReport
from tls_core.store._ingest_report import IngestPhase as IngestPhase
from tls_core.store._ingest_report import IngestProgress as IngestProgress
from tls_core.store._ingest_report import IngestReport as IngestReport
from tls_core.store._ingest_report import IntoPaths as IntoPaths
from tls_core.store._ingest_report import ProgressCallback as ProgressCallback
from tls_core.store._layout import RecordType as RecordType
from tls_core.store._layout import TableName as TableName
from tls_core.store._purge import PurgeReport as PurgeReport
from tls_core.store._repository import CommitReport as CommitReport
from tls_core.store._repository import LinkReport as LinkReport
from tls_core.store._repository import Repository as Repository
from tls_core.store._snapshot import Snapshot as Snapshot
from tls_core.store._verify import VerifyReport as VerifyReport

__all__ = [
    "CaseFacts",
    "CommitReport",
    "CommitStep",
    "DataFile",
    "GcReport",
    "IngestPhase",
    "IngestProgress",
    "IngestReport",
    "IntoCaseFacts",
    "IntoPaths",
    "IntoRecords",
    "LinkReport",
    "ProgressCallback",
    "PurgeReport",
    "PurgeStep",
    "RecordType",
    "Repository",
    "Snapshot",
    "StepHook",
    "TableName",
    "VerifyReport",
    "retention_end",
]
