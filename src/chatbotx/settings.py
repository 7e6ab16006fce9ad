"""Every setting of ChatbotX, read once from the environment (CHATBOTX_*)."""

from __future__ import annotations

import functools
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHATBOTX_", extra="ignore")

    data_dir: Path = Field(default=Path("./data"), description="Where the embedded database and files live.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; empty means SQLite in the data directory. "
        "PostgreSQL: postgresql+asyncpg://user@host:5432/db",
    )
    redis_url: str | None = None
    broker_url: str | None = Field(
        default=None, description="taskiq broker (redis://...); empty means in-process."
    )
    no_worker: bool = Field(default=False, description="Do not consume jobs in the API process (scale-out).")
    workers: int = Field(
        default=1,
        ge=1,
        description="HTTP worker processes serving this data (set by `server start --workers`): above 1, "
        "realtime events cross processes without Redis and rate limits are counted across them.",
    )
    mcp_stateless: bool = Field(
        default=False,
        description="Serve MCP's streamable HTTP (/mcp) without sessions, each request on its own: for API "
        "processes behind a load balancer without sticky sessions (always so with --workers above 1).",
    )
    public_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    secret_key: str | None = Field(
        default=None,
        description="Key for encrypting credentials at rest; generated into the data dir if unset.",
    )
    rate_limit_per_minute: int = Field(
        default=600, description="Requests per minute per API token; 0 disables."
    )
    max_body_bytes: int = Field(default=1_048_576, description="Largest JSON body accepted.")
    max_upload_bytes: int = Field(default=50 * 1_048_576, description="Largest file upload accepted.")
    webchat_requests_per_minute: int = Field(
        default=60, description="Webchat public API: requests per minute per client IP and inbox; 0 disables."
    )
    webchat_messages_per_minute: int = Field(
        default=20,
        description="Webchat public API: visitor messages per minute per client IP and inbox; 0 disables.",
    )
    webchat_max_body_bytes: int = Field(
        default=32_768, description="Webchat public API: largest request body accepted."
    )
    db_pool_size: int = 10
    log_level: str = "info"
    telegram_api_base: str = "https://api.telegram.org"
    meta_graph_api_base: str = "https://graph.facebook.com"
    instagram_api_base: str = "https://graph.instagram.com"
    imap_poll_seconds: float = Field(
        default=60.0, gt=0, description="How often each email channel's IMAP mailbox is checked for new mail."
    )

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'chatbotx.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"


@functools.lru_cache
def get_settings() -> Settings:
    return Settings()
