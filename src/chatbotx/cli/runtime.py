"""What a client command needs at run time: resolved settings, the spec, a way to call an operation."""

from __future__ import annotations

from functools import cached_property
from typing import Any
from urllib.parse import quote

import click

from chatbotx.cli import config, render
from chatbotx.cli import spec as spec_mod
from chatbotx.cli.operations import Operation
from chatbotx.cli.transport import ConnectionFailed, Response, Stream, open_stream, request

EXIT_API_ERROR = 1
EXIT_USAGE = 2
EXIT_CONNECTION = 3


class Runtime:
    def __init__(self, api_key: str | None = None, api_url: str | None = None, refresh_spec: bool = False):
        self.api_key_flag = api_key
        self.api_url_flag = api_url
        self.refresh_spec = refresh_spec
        self._spec: dict[str, Any] | None = None
        self.spec_source = ""

    @cached_property
    def config(self) -> config.ClientConfig:
        return config.resolve(self.api_key_flag, self.api_url_flag)

    def spec(self) -> dict[str, Any]:
        """The spec, loaded once per process; raises spec_mod.SpecError."""
        if self._spec is None:
            cfg = self.config
            self._spec, self.spec_source = spec_mod.load(
                cfg.api_url, refresh=self.refresh_spec, allow_self_signed=cfg.allow_self_signed
            )
        return self._spec

    @cached_property
    def tree(self) -> dict[str, Any]:
        from chatbotx.cli.operations import build_tree, parse_operations

        return build_tree(parse_operations(self.spec()))

    def subtree(self, group: str) -> Any:
        """The tree under one top-level word, parsing only its operations (the common, fast path)."""
        if "tree" in self.__dict__:
            return self.tree.get(group)
        from chatbotx.cli.operations import build_tree, parse_operations

        return build_tree(parse_operations(self.spec(), group)).get(group)

    def send(
        self,
        op: Operation,
        path_values: dict[str, str],
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        form: dict[str, Any] | None = None,
    ) -> Response:
        """Call one operation; a connection failure exits with code 3."""
        cfg = self.config
        try:
            return request(
                op.method,
                self.url(op, path_values),
                token=cfg.api_key,
                params=query,
                json_body=body,
                form=form,
                allow_self_signed=cfg.allow_self_signed,
            )
        except ConnectionFailed as exc:
            render.fail(f"Error: {exc}", EXIT_CONNECTION)
            raise  # unreachable: fail() exits

    def url(self, op: Operation, path_values: dict[str, str]) -> str:
        path = op.path
        for name, value in path_values.items():
            path = path.replace("{" + name + "}", quote(str(value), safe=""))
        return spec_mod.operation_url(self.config.api_url, path)

    def open_stream(self, op: Operation, path_values: dict[str, str], query: dict[str, Any]) -> Stream:
        """Open an event-stream operation; a connection failure exits with code 3, an API error with 1."""
        cfg = self.config
        try:
            stream = open_stream(
                self.url(op, path_values),
                token=cfg.api_key,
                params=query,
                allow_self_signed=cfg.allow_self_signed,
            )
        except ConnectionFailed as exc:
            render.fail(f"Error: {exc}", EXIT_CONNECTION)
            raise  # unreachable: fail() exits
        if not stream.ok:
            with stream:
                self.check(stream.whole())
        return stream

    def check(self, resp: Response) -> Any:
        """The parsed body of a success; an API error goes to stderr and exits with code 1."""
        try:
            data = resp.json()
        except ValueError:
            data = None
        if not resp.ok:
            line = render.error_line(resp.status, data, resp.body)
            if resp.status == 401 and not self.config.api_key:
                line += "\nHint: set a token with `chatbotx config set --apiKey <token>` or CHATBOTX_API_KEY."
            render.fail(line, EXIT_API_ERROR)
        return data


def get_runtime(ctx: click.Context) -> Runtime:
    """One Runtime per process, made from the root command's global options (they may not be parsed yet)."""
    root = ctx.find_root()
    rt = root.meta.get("chatbotx.runtime")
    if rt is None:
        params = root.params
        rt = Runtime(params.get("api_key"), params.get("api_url"), bool(params.get("refresh_spec")))
        root.meta["chatbotx.runtime"] = rt
    return rt
