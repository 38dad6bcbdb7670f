"""An upload between its preview and its confirmation, carried by the confirm form itself.

Nothing is kept on the server in between: the preview page's form holds the file (compressed, in
base64 pieces each under the form parser's limit on one field), its name and kind, the preview's
digest, when the preview was made, and a seal over all of them, an HMAC keyed with the session's
cookie token as the form token is. So a preview is confirmed only in the session that made it,
within `PREVIEW_SECONDS`, and only with the very file previewed; every server process, and one
restarted meanwhile, reads it the same.
"""

import base64
import hashlib
import hmac
import json
import zlib
from dataclasses import dataclass
from typing import get_args

from starlette.datastructures import FormData

from service.domain.bundles import FileKind
from service.errors import Forbidden
from service.web.sessions import WebSession

__all__ = ["PendingImport", "PREVIEW_SECONDS"]

PREVIEW_SECONDS = 3600
# under Starlette's 1 MiB limit on one form field
PIECE = 512 * 1024


def _seal(session: WebSession, *parts: str) -> str:
    key = hmac.new(session.token.encode("utf-8"), b"twinning import", hashlib.sha256).digest()
    return hmac.new(key, json.dumps(parts).encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class PendingImport:
    """A previewed upload: the file as uploaded, and the digest of the preview it was shown with."""

    filename: str
    kind: FileKind
    body: bytes
    preview: str
    issued: int

    @property
    def sha256(self) -> str:
        """The file's SHA-256, shown on the preview so a person can tell which file it is of."""
        return hashlib.sha256(self.body).hexdigest()

    def form_fields(self, session: WebSession) -> list[tuple[str, str]]:
        """The confirm form's hidden fields, sealed for `session` (URL-safe base64: sent as it is)."""
        carried = base64.urlsafe_b64encode(zlib.compress(self.body)).decode("ascii")
        pieces = [carried[i : i + PIECE] for i in range(0, len(carried), PIECE)] or [""]
        seal = _seal(session, self.filename, self.kind, self.preview, str(self.issued), carried)
        fixed = [("filename", self.filename), ("kind", self.kind), ("preview", self.preview)]
        return [*fixed, ("issued", str(self.issued)), *(("upload", p) for p in pieces), ("seal", seal)]

    @classmethod
    def opened(cls, form: FormData, session: WebSession, *, now: float) -> "PendingImport":
        """The upload a confirm form carries; `Forbidden` unless this session sealed it, unaltered, and
        its preview is under `PREVIEW_SECONDS` old."""
        fields = [form.get(name) for name in ("filename", "kind", "preview", "issued", "seal")]
        pieces = form.getlist("upload")
        texts = [f for f in fields if isinstance(f, str)] + [p for p in pieces if isinstance(p, str)]
        if len(texts) != len(fields) + len(pieces) or not pieces:
            raise Forbidden("this form does not carry a previewed file: choose the file again")
        filename, kind, preview, issued, seal = fields
        carried = "".join(pieces)
        expected = _seal(session, filename, kind, preview, issued, carried)
        if not hmac.compare_digest(seal.encode(), expected.encode()) or kind not in get_args(FileKind):
            raise Forbidden(
                "this preview was made in another session or changed since: nothing was stored; choose the file again"
            )
        if not (issued.isascii() and issued.isdigit()) or now - int(issued) > PREVIEW_SECONDS:
            raise Forbidden(
                f"this preview is over {PREVIEW_SECONDS // 60} minutes old: nothing was stored; choose the file again"
            )
        body = zlib.decompress(base64.urlsafe_b64decode(carried))
        return cls(filename=filename, kind=kind, body=body, preview=preview, issued=int(issued))
