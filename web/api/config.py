"""``/api/v1/sites/{site}/config``: the versions of a site's devices, posts and rules that the hub
manages and its agent receives on sync (role admin)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from rules.site import Format as ConfigFormat
from sync.hub import site_config
from sync.hub.errors import InvalidConfig
from web.schemas import ConfigOut, ConfigTextOut, ConfigVersionOut, Items, items
from web.security import ApiUser, Hub

YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})

router = APIRouter()


@router.put("/sites/{site}/config", tags=["config"], status_code=201)
async def put_config(site: str, request: Request, user: ApiUser, hubdb: Hub) -> ConfigVersionOut:
    """Store a new version of the site's devices, posts and rules (role admin): a YAML
    (``application/yaml``) or JSON (``application/json``) mapping with ``devices``, ``posts``
    and ``rules``, at most 1 MiB. It is validated as the agent validates it (all but whether
    apprise can use a notify URL, which the agent checks) and refused with one line per problem
    (422, ``errors``); the agent receives it on its next sync. The answer names the version."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in YAML_TYPES and kind != "application/json":
        raise InvalidConfig(["send application/yaml or application/json"])
    fmt: ConfigFormat = "json" if kind == "application/json" else "yaml"
    body = await request.body()
    stored = await run_in_threadpool(
        site_config.put_config, hubdb, user, site, body, fmt, time.time()
    )
    return ConfigVersionOut.model_validate(stored)


@router.get("/sites/{site}/config", tags=["config"])
def get_config(site: str, user: ApiUser, hubdb: Hub) -> ConfigOut:
    """The site's newest configuration version and what its agent reports (role admin)."""
    return ConfigOut.model_validate(site_config.status(hubdb, user, site))


@router.get("/sites/{site}/config/versions", tags=["config"])
def config_versions(site: str, user: ApiUser, hubdb: Hub) -> Items[ConfigVersionOut]:
    """Every configuration version of the site, newest first (role admin)."""
    return items(ConfigVersionOut, site_config.versions(hubdb, user, site))


@router.get("/sites/{site}/config/versions/{version}", tags=["config"])
def config_version(site: str, version: int, user: ApiUser, hubdb: Hub) -> ConfigTextOut:
    """One configuration version, with its text as it was sent (role admin)."""
    return ConfigTextOut.model_validate(site_config.get_version(hubdb, user, site, version))
