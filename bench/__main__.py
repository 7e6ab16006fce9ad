"""Run the benchmarks: `make bench` (all) or `python -m bench NAME [NAME...]`.

Each prints its figures beside a baseline measured in the same run. Needs wrk (`apt-get install -y wrk`) and a
PostgreSQL server (CHATBOTX_BENCH_POSTGRES_URL, default postgresql+asyncpg://postgres@127.0.0.1:5432/postgres).
Figures and commands: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import importlib
import time
from pathlib import Path

ORDER = ["idle_rss", "list_contacts", "import_csv", "keyword_search", "cli_startup", "inbound", "outbound"]


def available() -> list[str]:
    here = Path(__file__).parent
    return [name for name in ORDER if (here / f"{name}.py").exists()]


def main() -> None:
    names = available()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", choices=[[], *names], metavar="NAME", help=f"one of {names}")
    args = parser.parse_args()
    failed = []
    for name in args.names or names:
        started = time.perf_counter()
        try:
            importlib.import_module(f"bench.{name}").main()
        except Exception as exc:  # one benchmark's failure should not hide the others' figures
            failed.append(name)
            print(f"!! {name} failed: {type(exc).__name__}: {exc}", flush=True)
        print(f"-- {name} took {time.perf_counter() - started:.0f}s\n", flush=True)
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
