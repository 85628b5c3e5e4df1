"""SQLite-flavoured ledger SQL, rewritten for PostgreSQL.

The daemon writes its SQL once (see base.py); this turns it into what psycopg sends:

- ``?`` placeholders become ``%s``, and a literal ``%`` becomes ``%%``;
- ``INSERT OR IGNORE INTO t ...`` becomes ``INSERT INTO t ... ON CONFLICT DO NOTHING``;
- ``INSERT OR REPLACE INTO t (cols) ...`` becomes an upsert on ``t``'s key that sets every
  listed column (what REPLACE leaves behind, since the statements list every column);
- ``json_each(?)`` (a JSON array given as one parameter) becomes
  ``json_array_elements_text(%s::json)``.

Statements are constants, so each is rewritten once and remembered.
"""

from __future__ import annotations

import functools
import re

__all__ = ["KEYS", "translate"]

#: The conflict target of each table that ``INSERT OR REPLACE`` is used on.
KEYS: dict[str, str] = {
    "runs": "id",
    "calls": "id",
    "conversations": "id",
    "fragments": "hash",
    "run_fragments": "run_id, position",
    "response_cache": "key",
    "gateway_tokens": "name",
    "users": "name",
    "teams": "name",
}

_OR_IGNORE = re.compile(r"^\s*INSERT\s+OR\s+IGNORE\s+INTO\s", re.IGNORECASE)
_OR_REPLACE = re.compile(
    r"^\s*INSERT\s+OR\s+REPLACE\s+INTO\s+(\w+)\s*\(([^)]*)\)", re.IGNORECASE | re.DOTALL
)
_JSON_EACH = re.compile(r"json_each\(\?\)", re.IGNORECASE)


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """``sql`` as PostgreSQL (through psycopg) takes it. ValueError for a REPLACE into a
    table whose key is not known here."""
    sql = _JSON_EACH.sub("json_array_elements_text(?::json) AS je (value)", sql)
    if _OR_IGNORE.match(sql):
        sql = _OR_IGNORE.sub("INSERT INTO ", sql, count=1).rstrip().rstrip(";")
        sql += " ON CONFLICT DO NOTHING"
    elif match := _OR_REPLACE.match(sql):
        table, columns = match.group(1), [c.strip() for c in match.group(2).split(",")]
        if table not in KEYS:
            raise ValueError(f"INSERT OR REPLACE INTO {table}: its key is not in pg_sql.KEYS")
        keys = {k.strip() for k in KEYS[table].split(",")}
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in keys)
        sql = "INSERT INTO " + sql[match.start(1) :]
        sql = sql.rstrip().rstrip(";") + f" ON CONFLICT ({KEYS[table]}) DO UPDATE SET {sets}"
    return _placeholders(sql)


def _placeholders(sql: str) -> str:
    """``?`` -> ``%s`` and ``%`` -> ``%%`` outside quoted literals (a ``?`` inside one is
    text); a ``%`` inside a literal still needs doubling for psycopg."""
    out: list[str] = []
    quoted = False
    for char in sql:
        if char == "'":
            quoted = not quoted
            out.append(char)
        elif char == "%":
            out.append("%%")
        elif char == "?" and not quoted:
            out.append("%s")
        else:
            out.append(char)
    return "".join(out)
