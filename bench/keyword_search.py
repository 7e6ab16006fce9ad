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


def keywords(count: int, contacts: int) -> list[str]:
    rng = random.Random(42)
    out = []
    for _ in range(count):
        i = rng.randrange(contacts)
        kind = rng.randrange(5)
        if kind == 0:
            out.append(f"{LAST[(i // 10) % 10]}{i}")  # one contact's last name
        elif kind == 1:
            out.append(f"{FIRST[i % 10].lower()}.{LAST[(i // 10) % 10].lower()}{i}@")  # email prefix
        elif kind == 2:
            out.append(f"555{i:07d}")  # phone digits
        elif kind == 3:
            out.append(FIRST[i % 10])  # a common first name: many matches
        else:
            out.append(f"nobody{i}x")  # no match
    return out


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
            words = keywords(REQUESTS, CONTACTS)
            for word in words[:10]:
                timed(client, "/api/v1/contacts", {"keyword": word})  # warm-up
            searched = [timed(client, "/api/v1/contacts", {"keyword": w, "perPage": "20"}) for w in words]
            baseline = [
                timed(client, "/api/v1/contacts", {"perPage": "20"}) for _ in range(min(REQUESTS, 100))
            ]
    p95 = statistics.quantiles(searched, n=100)[94]
    base95 = statistics.quantiles(baseline, n=100)[94]
    log(summary("keyword search      ", searched))
    log(summary("no keyword (baseline)", baseline))
    verdict = "OK" if p95 < TARGET_P95_MS else "OVER TARGET"
    log(
        f"p95 {p95:.2f} ms vs target {TARGET_P95_MS:.0f} ms: {verdict}; "
        f"ratio to baseline p95 {p95 / base95:.2f}x"
    )


if __name__ == "__main__":
    main()
