"""Keyword search over 1,000,000 contacts on PostgreSQL: p95 of `GET /api/v1/contacts?keyword=...` < 50 ms.

Loads the contacts with COPY into a fresh database, starts the real server, then sends a few hundred searches
one at a time (names, email fragments, phone fragments, misses) and reports p50/p95/p99, beside the same list
without a keyword (the baseline).
Run: `python -m bench keyword_search` (BENCH_KEYWORD_CONTACTS, BENCH_KEYWORD_REQUESTS).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time

import httpx

from bench.common import FIRST, LAST, chatbotx_server, fresh_store, log, seed_contacts

CONTACTS = int(os.environ.get("BENCH_KEYWORD_CONTACTS", "1000000"))
REQUESTS = int(os.environ.get("BENCH_KEYWORD_REQUESTS", "300"))
TARGET_P95_MS = 50.0


KINDS = ("last name", "email prefix", "phone digits", "common first name", "miss")


def keyword_kinds(count: int, contacts: int) -> list[tuple[str, str]]:
    """(kind, keyword) pairs: one contact's last name, email prefix or phone digits, a first name shared by a
    tenth of the contacts, or a miss."""
    rng = random.Random(42)
    out = []
    for _ in range(count):
        i = rng.randrange(contacts)
        kind = rng.randrange(5)
        if kind == 0:
            word = f"{LAST[(i // 10) % 10]}{i}"
        elif kind == 1:
            word = f"{FIRST[i % 10].lower()}.{LAST[(i // 10) % 10].lower()}{i}@"
        elif kind == 2:
            word = f"555{i:07d}"
        elif kind == 3:
            word = FIRST[i % 10]
        else:
            word = f"nobody{i}x"
        out.append((KINDS[kind], word))
    return out


def keywords(count: int, contacts: int) -> list[str]:
    return [word for _, word in keyword_kinds(count, contacts)]


def timed(client: httpx.Client, url: str, params: dict[str, str]) -> float:
    started = time.perf_counter()
    response = client.get(url, params=params)
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return elapsed


def summary(name: str, samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=100)
    return f"{name}: n={len(samples)}  p50 {q[49]:7.2f} ms  p95 {q[94]:7.2f} ms  p99 {q[98]:7.2f} ms"


def main() -> None:
    log(f"== keyword_search: {CONTACTS:,} contacts on PostgreSQL, {REQUESTS} sequential searches")
    with fresh_store("postgres") as store:
        seconds = asyncio.run(seed_contacts(store, CONTACTS, chunk=100_000))
        log(f"seeded {CONTACTS:,} contacts with COPY in {seconds:.1f}s")
        with (
            chatbotx_server(store) as server,
            httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {store.token}"}, timeout=60
            ) as client,
        ):
            pairs = keyword_kinds(REQUESTS, CONTACTS)
            for _, word in pairs[:10]:
                timed(client, "/api/v1/contacts", {"keyword": word})  # warm-up
            by_kind: dict[str, list[float]] = {kind: [] for kind in KINDS}
            searched = []
            for kind, word in pairs:
                searched.append(timed(client, "/api/v1/contacts", {"keyword": word, "perPage": "20"}))
                by_kind[kind].append(searched[-1])
            baseline = [
                timed(client, "/api/v1/contacts", {"perPage": "20"}) for _ in range(min(REQUESTS, 100))
            ]
    p95 = statistics.quantiles(searched, n=100)[94]
    base95 = statistics.quantiles(baseline, n=100)[94]
    log(summary("keyword search      ", searched))
    log(summary("no keyword (baseline)", baseline))
    for kind, samples in by_kind.items():
        if len(samples) >= 2:
            log(summary(f"  {kind:18}", samples))
    verdict = "OK" if p95 < TARGET_P95_MS else "OVER TARGET"
    log(
        f"p95 {p95:.2f} ms vs target {TARGET_P95_MS:.0f} ms: {verdict}; "
        f"ratio to baseline p95 {p95 / base95:.2f}x"
    )


if __name__ == "__main__":
    main()
