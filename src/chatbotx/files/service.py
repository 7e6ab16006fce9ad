"""Storing uploads: streamed to `files_dir/<workspace>/<id>` while hashing, never held whole in memory."""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import os
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.kit.errors import NotFound, PayloadTooLarge
from chatbotx.kit.ids import new_id
from chatbotx.models import StoredFile
from chatbotx.settings import get_settings

CHUNK = 1024 * 1024
FILENAME_MAX = 500
DEFAULT_CONTENT_TYPE = "application/octet-stream"


def files_root() -> Path:
    return get_settings().files_dir


def clean_filename(raw: str | None) -> str:
    """The last path component of what the client sent (browsers may send full Windows paths)."""
    name = PureWindowsPath(PurePosixPath(raw or "").name).name.strip().replace("\x00", "")
    return (name or "upload")[-FILENAME_MAX:]


def content_type_for(filename: str, declared: str | None) -> str:
    declared = (declared or "").strip()
    if declared and declared != DEFAULT_CONTENT_TYPE:
        return declared[:200]
    guessed, _ = mimetypes.guess_type(filename)
    return guessed or declared or DEFAULT_CONTENT_TYPE


def copy_hashed(source: BinaryIO, target: Path, max_bytes: int) -> tuple[int, str]:
    """Copy `source` to `target` in chunks; (size, sha256). Over `max_bytes`: delete `target`, 413."""
    digest = hashlib.sha256()
    size = 0
    try:
        with target.open("wb") as out:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(f"File is larger than {max_bytes} bytes.", limit=max_bytes)
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return size, digest.hexdigest()


async def store(
    session: AsyncSession,
    workspace_id: int,
    source: BinaryIO,
    filename: str | None,
    content_type: str | None,
    max_bytes: int,
) -> StoredFile:
    """Write `source` to disk (via a temporary name, renamed when complete) and record it."""
    file_id = new_id()
    relative = f"{workspace_id}/{file_id}"
    target = files_root() / relative
    partial = target.with_name(f".{file_id}.part")
    await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
    size, sha256 = await asyncio.to_thread(copy_hashed, source, partial, max_bytes)
    await asyncio.to_thread(os.replace, partial, target)
    name = clean_filename(filename)
    stored = StoredFile(
        id=file_id,
        workspace_id=workspace_id,
        filename=name,
        content_type=content_type_for(name, content_type),
        size=size,
        sha256=sha256,
        path=relative,
    )
    session.add(stored)
    try:
        await session.flush()
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return stored


async def get(session: AsyncSession, workspace_id: int, file_id: int | None) -> StoredFile:
    stored = None
    if file_id is not None:
        stored = await session.scalar(
            select(StoredFile).where(StoredFile.id == file_id, StoredFile.workspace_id == workspace_id)
        )
    if stored is None:
        raise NotFound("File not found.", resource="file")
    return stored


def disk_path(stored: StoredFile) -> Path:
    """Where the content of `stored` lives (paths are kept relative to the files directory)."""
    return files_root() / stored.path


async def content_path(
    session: AsyncSession, workspace_id: int, file_id: int | None
) -> tuple[StoredFile, Path]:
    stored = await get(session, workspace_id, file_id)
    path = disk_path(stored)
    if not await asyncio.to_thread(path.is_file):
        raise NotFound("The file's content is missing from storage.", resource="file")
    return stored, path
