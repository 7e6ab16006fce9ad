"""`chatbotx contacts import [FILE]`: the generated importContacts command, plus a local file and progress.

With FILE the CSV is uploaded first (the spec's multipart POST /api/v1/files) and its id becomes --fileId.
Then the job is polled (GET /api/v1/contacts/imports/{id}) until the server says it is done, and summarised.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

import click

from chatbotx.cli import render
from chatbotx.cli.commands import SpecCommand
from chatbotx.cli.operations import Operation
from chatbotx.cli.runtime import EXIT_API_ERROR, Runtime, get_runtime
from chatbotx.cli.transport import Upload

DONE = frozenset({"finished", "failed", "completed", "done", "cancelled"})
POLL_SECONDS = 0.5
STATUS_PATH = "/api/v1/contacts/imports/{id}"
UPLOAD_PATH = "/api/v1/files"


class ImportCommand(SpecCommand):
    def __init__(self, name: str, ops: list[Operation], words: tuple[str, ...]):
        super().__init__(name, ops, words)
        self.params.insert(
            0,
            click.Argument(
                ["local_file"],
                required=False,
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                metavar="[FILE]",
            ),
        )
        self.params.insert(
            -3,
            click.Option(
                ["--wait/--no-wait"],
                default=True,
                help="Follow the import until it finishes (default), or return once it is queued.",
            ),
        )
        self.help = (self.help or "") + (
            "\n\nFILE is a local CSV: it is uploaded first and its id used as --fileId. The command then"
            " shows progress until the server reports the import finished, and a summary."
        )
        self.epilog = (
            "\b\nExamples:\n"
            "  chatbotx contacts import ./contacts.csv --channel whatsapp --inboxId <inboxId>\n"
            "  chatbotx contacts import --fileId <fileId> --channel <channel> --inboxId <inboxId>"
        )

    def _run(self, **kwargs: Any) -> None:
        ctx = click.get_current_context()
        rt = get_runtime(ctx)
        op = self.ops[0]
        as_json, quiet = kwargs.get("as_json", False), kwargs.get("quiet", False)
        local: Path | None = kwargs.pop("local_file", None)
        wait = kwargs.pop("wait", True)
        file_dest = self.option_dests.get("fileId")
        if local is not None:
            if file_dest and kwargs.get(file_dest):
                raise click.UsageError("Give either FILE or --fileId, not both.")
            if file_dest is None:
                raise click.UsageError("This server's import operation takes no fileId.")
            kwargs[file_dest] = upload(rt, local)
        job = rt.check(self.invoke_op(rt, op, [], kwargs))
        if wait and isinstance(job, dict) and job.get("id") is not None:
            job = follow(rt, job, show=not (as_json or quiet) and sys.stderr.isatty())
        if as_json:
            import json

            click.echo(json.dumps(job))
        elif quiet:
            click.echo(str((job or {}).get("id", "")))
        else:
            summarize(job)
        if isinstance(job, dict) and job.get("status") == "failed":
            sys.exit(EXIT_API_ERROR)


def _find(rt: Runtime, method: str, pattern: str) -> Operation | None:
    from chatbotx.cli.operations import parse_operations

    regex = re.compile("^" + re.sub(r"\\{[^}]*\\}", r"{[^}]+}", re.escape(pattern)) + "$")
    for op in parse_operations(rt.spec()):
        if op.method == method and regex.match(op.path):
            return op
    return None


def upload(rt: Runtime, path: Path) -> str:
    """Upload `path` through the spec's file upload operation; returns the new file id."""
    op = _find(rt, "POST", UPLOAD_PATH) or Operation("uploadFile", "POST", UPLOAD_PATH, ("files", "upload"))
    field = next((f.name for f in op.options if f.is_file), "file")
    data = rt.check(rt.send(op, {}, form={field: Upload(path)}))
    if not isinstance(data, dict) or data.get("id") is None:
        render.fail("Error: the upload answered without a file id.", EXIT_API_ERROR)
    return str(data["id"])


def follow(rt: Runtime, job: dict[str, Any], *, show: bool) -> dict[str, Any]:
    """Poll the import until it is done; a Rich progress bar on stderr when someone is watching."""
    op = _find(rt, "GET", STATUS_PATH) or Operation(
        "getContactImport", "GET", STATUS_PATH, ("contacts", "imports")
    )
    param = op.path_params[0].name if op.path_params else "id"
    if not show:
        while job.get("status") not in DONE:
            time.sleep(POLL_SECONDS)
            job = rt.check(rt.send(op, {param: str(job["id"])}))
        return job
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("Importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("import", total=None, status=job.get("status", ""))
        while True:
            total = job.get("totalRows") or None
            progress.update(
                task, total=total, completed=job.get("processedRows") or 0, status=job.get("status")
            )
            if job.get("status") in DONE:
                return job
            time.sleep(POLL_SECONDS)
            job = rt.check(rt.send(op, {param: str(job["id"])}))


def summarize(job: Any) -> None:
    if not isinstance(job, dict):
        render.print_human(job)
        return
    counts = ", ".join(
        f"{job[key]} {label}"
        for key, label in (
            ("totalRows", "rows"),
            ("createdCount", "created"),
            ("updatedCount", "updated"),
            ("skippedCount", "skipped"),
            ("failedCount", "failed"),
        )
        if key in job
    )
    click.echo(f"Import {job.get('id')} {job.get('status')}: {counts}")
    if job.get("error"):
        click.echo(f"Error: {job['error']}", err=True)
    failures = job.get("failures") or []
    if failures:
        from rich.console import Console
        from rich.table import Table

        table = Table("row", "column", "reason", title=f"Failed rows (first {min(len(failures), 20)})")
        for failure in failures[:20]:
            table.add_row(
                str(failure.get("row", "")), str(failure.get("column") or ""), str(failure.get("reason"))
            )
        Console().print(table)
