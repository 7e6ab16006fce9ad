"""Reading sequences with their steps and enrollment counts; every query is scoped to the workspace."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.kit.errors import NotFound
from chatbotx.kit.pagination import PageParams, paginate, parse_sort
from chatbotx.models import Sequence, SequenceEnrollment, SequenceStep

SORTS = {"createdAt": Sequence.created_at, "updatedAt": Sequence.updated_at, "name": Sequence.name}
NAMED_STATUSES = ("active", "completed", "cancelled")


def enrollment_counts(by_status: dict[str, int]) -> dict[str, int]:
    """The counts object from per-status counts (statuses not named here still count in the total)."""
    counts = {status: by_status.get(status, 0) for status in NAMED_STATUSES}
    counts["total"] = sum(by_status.values())
    return counts


async def _counts(
    session: AsyncSession, sequence_ids: Iterable[int]
) -> tuple[dict[int, int], dict[int, Any]]:
    """Step counts and enrollment counts of many sequences, in two grouped queries."""
    ids = list(sequence_ids)
    if not ids:
        return {}, {}
    steps = await session.execute(
        select(SequenceStep.sequence_id, func.count())
        .where(SequenceStep.sequence_id.in_(ids))
        .group_by(SequenceStep.sequence_id)
    )
    enrollments = await session.execute(
        select(SequenceEnrollment.sequence_id, SequenceEnrollment.status, func.count())
        .where(SequenceEnrollment.sequence_id.in_(ids))
        .group_by(SequenceEnrollment.sequence_id, SequenceEnrollment.status)
    )
    by_sequence: dict[int, dict[str, int]] = {i: {} for i in ids}
    for sequence_id, status, count in enrollments:
        by_sequence[sequence_id][status] = count
    return {sid: count for sid, count in steps}, {i: enrollment_counts(c) for i, c in by_sequence.items()}


def _out(sequence: Sequence, step_count: int, counts: dict[str, int]) -> dict[str, Any]:
    return {
        "id": sequence.id,
        "created_at": sequence.created_at,
        "updated_at": sequence.updated_at,
        "name": sequence.name,
        "description": sequence.description,
        "active": sequence.active,
        "folder_id": sequence.folder_id,
        "workspace_id": sequence.workspace_id,
        "step_count": step_count,
        "enrollment_counts": counts,
    }


async def list_sequences(
    session: AsyncSession, workspace_id: int, params: PageParams, sort: str | None
) -> tuple[list[dict[str, Any]], int]:
    order = [*parse_sort(sort, SORTS, [Sequence.created_at.desc()]), Sequence.id.desc()]
    stmt = select(Sequence).where(Sequence.workspace_id == workspace_id).order_by(*order)
    rows, page_count = await paginate(session, stmt, params)
    steps, counts = await _counts(session, (s.id for s in rows))
    return [_out(s, steps.get(s.id, 0), counts[s.id]) for s in rows], page_count


async def get_sequence(session: AsyncSession, workspace_id: int, sequence_id: int | None) -> dict[str, Any]:
    sequence = None
    if sequence_id is not None:
        sequence = await session.scalar(
            select(Sequence).where(Sequence.id == sequence_id, Sequence.workspace_id == workspace_id)
        )
    if sequence is None:
        raise NotFound("Sequence not found.", resource="sequence")
    steps = (
        (
            await session.execute(
                select(SequenceStep)
                .where(SequenceStep.sequence_id == sequence.id)
                .order_by(SequenceStep.position, SequenceStep.id)
            )
        )
        .scalars()
        .all()
    )
    _, counts = await _counts(session, [sequence.id])
    return {**_out(sequence, len(steps), counts[sequence.id]), "steps": steps}
