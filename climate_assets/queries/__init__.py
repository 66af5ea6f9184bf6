"""The project's named queries: one ``.sql`` file each, in SQL that DuckDB and Athena both run.

The same text is saved as an Athena named query in the workgroup (on AWS) and run by
``climate-assets query NAME`` against the DuckDB views (embedded default). A file starts with a
``-- `` comment line: the query's description.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class NamedQuery:
    name: str
    description: str
    sql: str


def named_queries() -> dict[str, NamedQuery]:
    """Every ``.sql`` file of this package, by name (the file name without ``.sql``)."""
    queries = {}
    for entry in sorted(resources.files(__package__).iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        text = entry.read_text(encoding="utf-8").strip()
        first = text.splitlines()[0] if text else ""
        description = first[2:].strip() if first.startswith("--") else ""
        name = entry.name[: -len(".sql")]
        queries[name] = NamedQuery(name=name, description=description, sql=text)
    return queries
