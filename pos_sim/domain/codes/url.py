"""A web link read from a code (a wallet's entry page, a static QR pointing to a shop)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pos_sim.domain.errors import CodeError
from pos_sim.language import N_, Phrase


@dataclass(frozen=True)
class Link:
    url: str
    kind = "url"

    def fields(self) -> dict[str, Any]:
        parts = urlsplit(self.url)
        return {"scheme": parts.scheme, "host": parts.hostname, "path": parts.path, "query": parts.query or None}

    def as_objects(self) -> list[dict[str, Any]]:
        return []

    def validate(self, strict: bool = False) -> None:
        """A link is valid when it is http(s) with a host (the same in both modes)."""
        try:
            parts = urlsplit(self.url)
            host = parts.hostname
        except ValueError as exc:
            raise CodeError(Phrase(N_("malformed link: {problem}"), problem=str(exc)), offset=0) from None
        if parts.scheme not in ("http", "https") or not host:
            raise CodeError(Phrase(N_("a link needs http:// or https:// and a host")), offset=0)
        bad = next((i for i, ch in enumerate(self.url) if ch.isspace() or not ch.isprintable()), None)
        if bad is not None:
            raise CodeError(Phrase(N_("a link may not hold spaces or control characters")), offset=bad)


def is_link(text: str) -> bool:
    return text[:8].lower().startswith(("http://", "https://"))


def decode(text: str) -> Link:
    if not is_link(text):
        raise CodeError(Phrase(N_("not an http(s) link")), offset=0)
    return Link(text)
