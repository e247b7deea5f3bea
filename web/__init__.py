"""The hub's HTTP face: the agents' sync endpoint, the JSON read API and the dashboard pages."""

from web.app import create_app

__all__ = ["create_app"]
