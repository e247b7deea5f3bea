"""The query parameters several routes share, and the CSV negotiation of the ones that can answer
CSV."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query

from sync.hub import query

__all__ = ["Format", "From", "Limit", "To", "wants_csv"]

Limit = Annotated[int, Query(ge=1, le=query.MAX_LIMIT)]
From = Annotated[str | None, Query(alias="from", description="ISO 8601 or unix seconds")]
To = Annotated[str | None, Query(alias="to", description="ISO 8601 or unix seconds")]
Format = Annotated[Literal["json", "csv"] | None, Query(alias="format")]


def wants_csv(output: str | None, accept: str) -> bool:
    if output is not None:
        return output == "csv"
    return any(kind.split(";")[0].strip().lower() == "text/csv" for kind in accept.split(","))
