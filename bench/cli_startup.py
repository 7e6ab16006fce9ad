"""Whole-process time of `chatbotx tags list --json` with a warm spec cache, beside `python -c pass`.

Starts a throwaway server (SQLite in a temp dir), configures a temp HOME, warms the cache once, then times
both commands alternately in the same run. Target: the CLI's median under 300 ms.
Run: `python -m bench.cli_startup` (main() is what bench/__main__.py can call).
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

RUNS = int(os.environ.get("BENCH_CLI_RUNS", "20"))
TARGET_MS = 300.0
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited early")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def _time(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data, home = Path(tmp) / "data", Path(tmp) / "home"
        home.mkdir()
        port = _free_port()
        # As installed: bytecode caches are written (the first, warming run compiles), so measure with them.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("CHATBOTX_") and k != "PYTHONDONTWRITEBYTECODE"
        }
        server_env = {**env, "CHATBOTX_RATE_LIMIT_PER_MINUTE": "0", "CHATBOTX_LOG_LEVEL": "warning"}
        proc = subprocess.Popen(
            [str(BIN / "chatbotx"), "server", "start", "--port", str(port), "--data-dir", str(data)],
            env=server_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait(url, proc)
            token = (data / "first-token").read_text().strip()
            cli_env = {**env, "HOME": str(home)}
            chatbotx = [str(BIN / "chatbotx")]
            subprocess.run(
                [*chatbotx, "config", "set", "--apiKey", token, "--apiUrl", url + "/api"], env=cli_env
            )
            subprocess.run(
                [*chatbotx, "tags", "create", "--name", "bench"], env=cli_env, stdout=subprocess.DEVNULL
            )
            _time([*chatbotx, "tags", "list", "--json"], cli_env)  # warms the spec cache
            baseline, cli = [], []
            for _ in range(RUNS):
                baseline.append(_time([sys.executable, "-c", "pass"], cli_env))
                cli.append(_time([*chatbotx, "tags", "list", "--json"], cli_env))
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    base_ms, cli_ms = statistics.median(baseline), statistics.median(cli)
    result = {
        "benchmark": "cli_startup",
        "runs": RUNS,
        "python_c_pass_ms": round(base_ms, 1),
        "chatbotx_tags_list_json_ms": round(cli_ms, 1),
        "chatbotx_min_ms": round(min(cli), 1),
        "ratio_to_python": round(cli_ms / base_ms, 1),
        "target_ms": TARGET_MS,
        "ok": cli_ms < TARGET_MS,
    }
    print(f"python -c pass              median {base_ms:7.1f} ms")
    print(
        f"chatbotx tags list --json   median {cli_ms:7.1f} ms  (min {min(cli):.1f}, x{cli_ms / base_ms:.1f})"
    )
    print(f"target < {TARGET_MS:.0f} ms: {'OK' if cli_ms < TARGET_MS else 'TOO SLOW'}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
