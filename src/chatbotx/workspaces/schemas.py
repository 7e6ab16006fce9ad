from __future__ import annotations

import datetime as dt

from chatbotx.kit.schemas import IdStr, Schema


class Workspace(Schema):
    id: IdStr
    created_at: dt.datetime
    updated_at: dt.datetime
    name: str
    timezone: str
