"""indexes: list rows of a 100,000-row table with an indexed ``equal`` and with ``search`` on a
fulltext index, on SQLite and on PostgreSQL (median request time, keep-alive client); an
``equal`` on a column without an index is measured beside them, for scale."""

from __future__ import annotations

import contextlib
import json
import statistics
import sys
import urllib.parse
from pathlib import Path

from bench_client import Http, now
from benchmarks.cluster import _cluster_unavailable, bench_pg_database
from benchmarks.harness import ADMIN, Result, start_rtcli

DB, TABLE = "bench", "idx"
BASE = f"/v1/tablesdb/{DB}/tables/{TABLE}"
CATEGORIES = 1000  # 100 rows each
TARGET_MS = 20.0


def _row(k: int) -> dict:
    # Two words of 4 digits each: a search for one of them matches ~200 rows.
    return {"$id": f"r{k:07d}", "category": f"c{k % CATEGORIES:04d}", "n": k,
            "body": f"lorem ipsum k{k % 997:04d} dolor k{k % 1009:04d} sit amet"}


async def _setup(port: int, rows: int) -> dict:
    h = Http(port, ADMIN)
    for path, body in [("/v1/tablesdb", {"databaseId": DB, "name": DB}),
                       (f"/v1/tablesdb/{DB}/tables", {"tableId": TABLE, "name": TABLE, "permissions": ['read("any")']}),
                       (f"{BASE}/columns/varchar", {"key": "category", "size": 16, "required": False}),
                       (f"{BASE}/columns/integer", {"key": "n", "required": False}),
                       (f"{BASE}/columns/text", {"key": "body", "required": False})]:
        status, out = await h.request("POST", path, body)
        if status >= 300:
            raise RuntimeError(f"setup {path}: {status} {out[:300]!r}")
    t = now()
    for b in range(0, rows, 1000):
        status, out = await h.request("POST", f"{BASE}/rows", {"rows": [_row(k) for k in range(b, min(rows, b + 1000))]})
        if status != 201:
            raise RuntimeError(f"bulk create: {status} {out[:300]!r}")
    fill = now() - t
    t = now()
    for body in ({"key": "by_category", "type": "key", "columns": ["category"]},
                 {"key": "body_text", "type": "fulltext", "columns": ["body"]}):
        status, out = await h.request("POST", f"{BASE}/indexes", body)
        if status != 202:
            raise RuntimeError(f"index: {status} {out[:300]!r}")
    h.close()
    return {"fill_seconds": round(fill, 1), "index_build_seconds": round(now() - t, 2)}


async def _timed(port: int, queries_of, reps: int) -> tuple[float, int]:
    """Median ms of ``reps`` list requests (each with its own values), and the rows the last one found."""
    h = Http(port, ADMIN)
    times, found = [], 0
    for i in range(reps + 3):
        qs = "&".join(f"queries[{j}]={urllib.parse.quote(json.dumps(q))}" for j, q in enumerate(queries_of(i)))
        t = now()
        status, out = await h.request("GET", f"{BASE}/rows?{qs}")
        if status != 200:
            raise RuntimeError(f"list: {status} {out[:300]!r}")
        if i >= 3:  # the first ones warm the connection and the caches
            times.append((now() - t) * 1000)
        found = json.loads(out)["total"]
    h.close()
    return statistics.median(times), found


async def _one(backend: str, args, workdir: Path, rows: int) -> dict:
    with contextlib.ExitStack() as stack:
        extra = []
        if backend == "postgres":
            _, dsn = stack.enter_context(bench_pg_database(args))
            extra = ["--database", dsn]
        srv = start_rtcli(workdir, extra)
        stack.callback(srv.stop)
        info = await _setup(srv.port, rows)
        limit = {"method": "limit", "values": [25]}
        eq, eq_total = await _timed(srv.port, lambda i: [
            {"method": "equal", "attribute": "category", "values": [f"c{(i * 37) % CATEGORIES:04d}"]}, limit], args.index_reps)
        search, s_total = await _timed(srv.port, lambda i: [
            {"method": "search", "attribute": "body", "values": [f"k{(i * 13) % 997:04d}"]}, limit], args.index_reps)
        scan, _ = await _timed(srv.port, lambda i: [
            {"method": "equal", "attribute": "n", "values": [i * 7919 % rows]}, limit], max(3, args.index_reps // 5))
        print(f"  indexes {backend}: equal {eq:.1f} ms ({eq_total} rows), search {search:.1f} ms ({s_total} rows), "
              f"unindexed equal {scan:.1f} ms; fill {info['fill_seconds']} s, indexes {info['index_build_seconds']} s",
              file=sys.stderr)
        return {"equal_ms": eq, "search_ms": search, "unindexed_equal_ms": scan, "equal_matches": eq_total,
                "search_matches": s_total, **info}


async def scenario_indexes(args, workdir: Path) -> list[Result]:
    rows = args.index_rows
    out: list[Result] = []
    for backend in ("sqlite", "postgres"):
        if backend == "postgres":
            why = _cluster_unavailable(args)
            if why and "PostgreSQL" in why or why and "psql" in why:
                print(f"  indexes postgres: skipped ({why})", file=sys.stderr)
                continue
        d = await _one(backend, args, workdir, rows)
        for metric, key in (("indexed equal", "equal_ms"), ("fulltext search", "search_ms")):
            out.append(Result("indexes", f"{backend}: list {rows:,} rows, {metric} (25 per page)", "ms", d[key],
                              d["unindexed_equal_ms"], "equal on a column without an index", f"< {TARGET_MS:.0f} ms",
                              d[key] < TARGET_MS, "lower", {backend: d}))
    return out
