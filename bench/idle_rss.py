"""Idle server memory: `chatbotx server start` (SQLite, fresh data dir) after it settles, beside a bare
`python -c` process. Target: under 150 MB. Run: `python -m bench idle_rss`."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx

from bench.common import chatbotx_server, fresh_store, log, rss_mb

TARGET_MB = 150.0
SETTLE_S = 5.0


def main() -> None:
    log("== idle_rss")
    with fresh_store("sqlite") as store, chatbotx_server(store) as server:
        httpx.get(server.url + "/api/v1/contacts", headers={"Authorization": f"Bearer {store.token}"})
        time.sleep(SETTLE_S)
        server_mb = rss_mb(server.pid)
    bare = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(1.0)
        bare_mb = rss_mb(bare.pid)
    finally:
        bare.kill()
        bare.wait()
    verdict = "OK" if server_mb < TARGET_MB else "OVER TARGET"
    log(
        f"idle server RSS {server_mb:6.1f} MB (after one request and {SETTLE_S:.0f}s idle; "
        f"target < {TARGET_MB:.0f})"
        f"  {verdict}"
    )
    log(f"bare python   RSS {bare_mb:6.1f} MB   ratio {server_mb / bare_mb:5.1f}x")


if __name__ == "__main__":
    main()
