"""Click groups and commands built from the operation records, lazily, one level at a time.

Path parameters become positional arguments (in path order); query, JSON body and form fields become
--flags with the spec's own names. Operations sharing a command name merge into one command that picks
the operation from the positional arguments given
(`bot-fields update --fields ...` vs `bot-fields update <idOrName> --value ...`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click

from chatbotx.cli.operations import Field, Operation
from chatbotx.cli.runtime import get_runtime
from chatbotx.cli.transport import Upload

KIND_HINTS = {
    "array": "List: a,b,c or a JSON array (or @file.json).",
    "object": "JSON object or @file.json.",
    "json": "JSON value or @file.json.",
}
KIND_METAVARS = {
    "string": "TEXT",
    "scalar": "VALUE",
    "integer": "INTEGER",
    "number": "NUMBER",
    "array": "LIST",
    "object": "JSON",
    "json": "JSON",
    "boolean": "[true|false]",
}


# Operations whose generated command gets extra client-side behaviour (by operationId).
SPECIAL_COMMANDS = {"importContacts": "chatbotx.cli.importer:ImportCommand"}


class SpecGroup(click.Group):
    """A command group over one node of the command tree; children are built only when asked for."""

    def __init__(self, name: str, node: dict[str, Any], words: tuple[str, ...]):
        super().__init__(name, help=_group_help(node, words), no_args_is_help=True)
        self.node = node
        self.words = words

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.node)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        child = self.node.get(cmd_name)
        if child is None:
            return None
        return build(cmd_name, child, (*self.words, cmd_name))


def _first_op(node: dict[str, Any] | list[Operation]) -> Operation | None:
    if isinstance(node, list):
        return node[0] if node else None
    for child in node.values():
        op = _first_op(child)
        if op is not None:
            return op
    return None


def _group_help(node: dict[str, Any], words: tuple[str, ...]) -> str:
    """E.g. "AI Agents: list." or "Contacts, tag: add, delete." (the spec's tag names the area)."""
    op = _first_op(node)
    area = (op.tag if op and op.tag else words[0].replace("-", " ").capitalize()) if len(words) == 1 else None
    label = area or f"{' '.join(words[:-1]).capitalize()} {words[-1]}"
    return f"{label}: {', '.join(sorted(node))}."


def build(name: str, node: dict[str, Any] | list[Operation], words: tuple[str, ...]) -> click.Command:
    if isinstance(node, dict):
        return SpecGroup(name, node, words)
    if any(op.operation_id in SPECIAL_COMMANDS for op in node) and len(node) == 1:
        module, _, attr = SPECIAL_COMMANDS[node[0].operation_id].partition(":")
        import importlib

        cls: type[SpecCommand] = getattr(importlib.import_module(module), attr)
        return cls(name, node, words)
    return SpecCommand(name, node, words)


def _dest(prefix: str, name: str, index: int) -> str:
    # click lower-cases argument names, so dests are lower case throughout
    return f"{prefix}{index}_{re.sub(r'[^0-9a-zA-Z_]', '_', name)}".lower()


def _example(words: tuple[str, ...], op: Operation) -> str:
    parts = ["chatbotx", *words, *(f"<{p.name}>" for p in op.path_params)]
    wanted = [f for f in op.options if f.required]
    if not wanted and op.body:
        wanted = [f for f in op.options if f.location in ("body", "form")][:2]
    for f in wanted:
        parts.append(f"--{f.name} {_placeholder(f)}")
    return " ".join(parts)


def _placeholder(f: Field) -> str:
    if f.is_file:
        return "./file.csv"
    if f.kind == "array":
        return f"<{f.name}>" if f.schema.get("items", {}).get("type") == "object" else "<id1,id2>"
    if f.kind in ("object", "json"):
        return "@value.json"
    return f"<{f.name}>"


def _option_help(f: Field, forms: str) -> str:
    text = f.description.strip().rstrip(".")
    text = (text + ". ") if text else ""
    enum = f.schema.get("enum") or (f.schema.get("items") or {}).get("enum")
    if enum:
        text += f"One of: {', '.join(map(str, enum))}. "
    if f.is_file:
        text += "Path of a local file to upload. "
    elif f.kind in KIND_HINTS:
        text += KIND_HINTS[f.kind] + " "
    if f.location == "query" and f.kind == "array":
        text = text.replace(" (or @file.json)", "")
    if f.required:
        text += "[required] "
    return (text + forms).strip()


class SpecCommand(click.Command):
    """One command for one operation (or several sharing a name)."""

    def __init__(self, name: str, ops: list[Operation], words: tuple[str, ...]):
        # The form with most positional arguments decides their order; the others use a prefix of them.
        self.ops = sorted(ops, key=lambda o: -len(o.path_params))
        self.words = words
        self.arg_dests: list[str] = []
        self.option_dests: dict[str, str] = {}
        self.negative_dests: dict[str, str] = {}
        self.data_dest: str | None = None
        super().__init__(
            name,
            params=self._params(),
            callback=self._run,
            help=self._help(),
            epilog=self._epilog(),
            short_help=" / ".join(o.summary for o in reversed(self.ops) if o.summary) or None,
        )

    # building
    def _help(self) -> str:
        if len(self.ops) == 1:
            text = self.ops[0].help_text
            if self.ops[0].streaming:
                text += (
                    "\n\nPrints each event as it arrives (id, type and a summary; --json for one JSON object"
                    " per line) until Ctrl-C or the server ends the stream."
                )
        else:
            forms = "\n".join(f"  {_example(self.words, o)}\n      {o.summary}" for o in reversed(self.ops))
            text = "Several forms, chosen by the arguments given:\n\n\b\n" + forms
        args = [p for p in self.ops[0].path_params]
        if args:
            text += "\n\n\b\nArguments:\n" + "\n".join(
                f"  {p.name.upper():<16} {p.description or p.name}" for p in args
            )
        return text

    def _epilog(self) -> str:
        examples = [_example(self.words, o) for o in reversed(self.ops)]
        return (
            "\b\nExample" + ("s" if len(examples) > 1 else "") + ":\n" + "\n".join(f"  {e}" for e in examples)
        )

    def _params(self) -> list[click.Parameter]:
        params: list[click.Parameter] = []
        longest = self.ops[0].path_params
        for i, p in enumerate(longest):
            dest = _dest("arg", p.name, i)
            self.arg_dests.append(dest)
            needed = all(len(o.path_params) > i for o in self.ops)
            metavar = p.name.upper() if needed else f"[{p.name.upper()}]"
            params.append(click.Argument([dest], required=needed, metavar=metavar))
        fields: dict[str, Field] = {}
        owners: dict[str, list[str]] = {}
        for op in self.ops:
            for f in op.options:
                fields.setdefault(f.name, f)
                owners.setdefault(f.name, []).append(op.operation_id)
        for i, (name, f) in enumerate(fields.items()):
            forms = ""
            if len(self.ops) > 1 and len(owners[name]) < len(self.ops):
                forms = "(" + " / ".join(owners[name]) + " form)"
            params.extend(self._option(f, _dest("opt", name, i), forms))
        if any(o.body == "json" for o in self.ops):
            self.data_dest = "data_body"
            params.append(
                click.Option(
                    ["--data", self.data_dest],
                    metavar="JSON",
                    help="The whole request body as JSON or @file.json; flags override its keys.",
                )
            )
        streaming = any(o.streaming for o in self.ops)
        json_help = (
            'Print one JSON object per event: {"id", "event", "data"}.'
            if streaming
            else "Print the raw JSON response."
        )
        ids_help = "Print only the event ids." if streaming else "Print only the ids of the results."
        params.append(click.Option(["--json", "as_json"], is_flag=True, help=json_help))
        params.append(click.Option(["-q", "--quiet"], is_flag=True, help=ids_help))
        return params

    def _option(self, f: Field, dest: str, forms: str) -> list[click.Option]:
        self.option_dests[f.name] = dest
        help_text = _option_help(f, forms)
        kind = f.kind
        if kind == "boolean":
            neg = dest + "_no"
            self.negative_dests[f.name] = neg
            return [
                click.Option(
                    [f"--{f.name}", dest],
                    type=click.BOOL,
                    is_flag=False,
                    flag_value="true",
                    default=None,
                    metavar="[true|false]",
                    help=help_text,
                ),
                click.Option(
                    [f"--no-{f.name}", neg], is_flag=True, default=False, help=f"Same as --{f.name} false."
                ),
            ]
        if f.is_file:
            return [
                click.Option(
                    [f"--{f.name}", dest],
                    type=click.Path(exists=True, dir_okay=False, path_type=Path),
                    metavar="PATH",
                    help=help_text,
                )
            ]
        ptype: Any = {"integer": click.INT, "number": click.FLOAT}.get(kind, click.STRING)
        enum = f.schema.get("enum")
        if enum and kind == "string":
            ptype = click.Choice([str(e) for e in enum])
        return [
            click.Option(
                [f"--{f.name}", dest],
                type=ptype,
                multiple=kind == "array",
                default=None,
                metavar="CHOICE" if isinstance(ptype, click.Choice) else KIND_METAVARS.get(kind, "VALUE"),
                help=help_text,
            )
        ]

    # running
    def choose(self, positionals: list[str]) -> Operation:
        for op in self.ops:
            if len(op.path_params) == len(positionals):
                return op
        raise click.UsageError(f"Unexpected number of arguments ({len(positionals)}).")

    def values(self, op: Operation, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The given flags of `op`, converted to JSON values; flags of another form are a usage error."""
        out: dict[str, Any] = {}
        mine = {f.name for f in op.options}
        for name, dest in self.option_dests.items():
            raw = kwargs.get(dest)
            neg = self.negative_dests.get(name)
            if neg and kwargs.get(neg):
                raw = False
            if raw is None or raw == ():
                continue
            if name not in mine:
                others = [o for o in self.ops if name in {f.name for f in o.options}]
                hint = _example(self.words, others[0]) if others else ""
                raise click.UsageError(f"--{name} is not used by this form; did you mean: {hint}")
            field = next(f for f in op.options if f.name == name)
            out[name] = convert(field, raw)
        return out

    def _run(self, **kwargs: Any) -> None:
        ctx = click.get_current_context()
        rt = get_runtime(ctx)
        positionals = [kwargs[d] for d in self.arg_dests if kwargs.get(d) is not None]
        op = self.choose(positionals)
        if op.streaming:
            # imported here: only the event-stream commands need it
            from chatbotx.cli.streaming import run

            parts = self.request_parts(op, positionals, kwargs)
            run(rt, op, parts, as_json=kwargs.get("as_json", False), quiet=kwargs.get("quiet", False))
            return
        resp = self.invoke_op(rt, op, positionals, kwargs)
        data = rt.check(resp)
        from chatbotx.cli.render import emit

        emit(
            resp.body,
            data,
            as_json=kwargs.get("as_json", False),
            quiet=kwargs.get("quiet", False),
            content_type=resp.content_type,
        )

    def invoke_op(self, rt: Any, op: Operation, positionals: list[str], kwargs: dict[str, Any]) -> Any:
        parts = self.request_parts(op, positionals, kwargs)
        return rt.send(op, parts["path_values"], query=parts["query"], body=parts["body"], form=parts["form"])

    def request_parts(self, op: Operation, positionals: list[str], kwargs: dict[str, Any]) -> dict[str, Any]:
        """path_values, query, body and form of the request the arguments describe (usage errors raised)."""
        values = self.values(op, kwargs)
        body: Any = None
        if op.body == "json":
            data_raw = kwargs.get(self.data_dest or "")
            body = parse_json_value(data_raw, "--data") if data_raw else ({} if not op.free_body else None)
            if isinstance(body, dict):
                body.update(
                    {f.name: values[f.name] for f in op.options if f.location == "body" and f.name in values}
                )
        present = set(values) | (set(body) if isinstance(body, dict) else set())
        missing = [f.name for f in op.options if f.required and f.name not in present]
        if missing:
            raise click.UsageError(f"Missing option '--{missing[0]}'.")
        query = {f.name: values[f.name] for f in op.options if f.location == "query" and f.name in values}
        form = None
        if op.body == "form":
            form = {
                f.name: (Upload(values[f.name]) if f.is_file else values[f.name])
                for f in op.options
                if f.location == "form" and f.name in values
            }
        path_values = {p.name: v for p, v in zip(op.path_params, positionals, strict=True)}
        return {"path_values": path_values, "query": query, "body": body, "form": form}


def parse_json_value(raw: str, label: str) -> Any:
    """JSON text, or @path to a JSON file."""
    text = raw
    if raw.startswith("@"):
        try:
            text = Path(raw[1:]).expanduser().read_text()
        except OSError as exc:
            raise click.BadParameter(f"cannot read {raw[1:]}: {exc.strerror}", param_hint=label) from None
    try:
        return json.loads(text)
    except ValueError:
        raise click.BadParameter(f"not valid JSON: {raw[:80]!r}", param_hint=label) from None


def _item(value: str, schema: dict[str, Any], label: str) -> Any:
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a {kind}", param_hint=label) from None
    if kind == "boolean":
        return value.strip().lower() in ("1", "true", "yes", "on")
    if kind in ("object", "array"):
        return parse_json_value(value, label)
    return value


def convert(f: Field, raw: Any) -> Any:
    """A flag's text as the JSON value the spec asks for."""
    label = f"--{f.name}"
    kind = f.kind
    if kind == "array":
        items: list[Any] = []
        item_schema = f.schema.get("items") or {}
        for chunk in raw:
            text = chunk.strip()
            if text.startswith(("[", "@")):
                parsed = parse_json_value(text, label)
                items.extend(parsed if isinstance(parsed, list) else [parsed])
            elif item_schema.get("type") in ("object", "array") or text.startswith("{"):
                items.append(parse_json_value(text, label))
            else:
                items.extend(_item(p.strip(), item_schema, label) for p in text.split(",") if p.strip())
        return items
    if kind in ("object", "json"):
        return parse_json_value(raw, label)
    if kind == "scalar" and isinstance(raw, str) and raw.startswith(("{", "[")):
        # a union that allows text: only an obvious JSON object/array is parsed
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw
