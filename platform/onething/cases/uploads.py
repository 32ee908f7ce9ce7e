"""Uploaded files: checked while streaming, stored on disk under their SHA-256.

Materials (drafts and corrections) and issued certificates (the inbox) are
stored the same way; every download finds a file through `stored_path`.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from flask import current_app

from onething.storage.models import StoredFile
from onething.web.extensions import get_session
from onething.web.settings import upload_dir

# The first bytes of each accepted content type: the declared type is not trusted.
SIGNATURES = {
    "application/pdf": (b"%PDF-",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
}
CHUNK = 64 * 1024


def files_folder() -> Path:
    """Where stored files live: UPLOAD_DIR (files/ in the instance folder by default)."""
    return upload_dir(current_app)


def stored_path(sha256: str) -> Path:
    """The path of a stored file, by its SHA-256 (fanned out by its first two digits)."""
    return files_folder() / sha256[:2] / sha256


def store_upload(upload) -> tuple[StoredFile | None, str | None]:
    """Copy an upload in chunks to content-addressed storage, checking its type and size."""
    limit = current_app.config["UPLOAD_MAX_BYTES"]
    allowed = current_app.config["UPLOAD_TYPES"]
    folder = files_folder()
    folder.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    head = upload.stream.read(16)
    if not head:
        return None, "empty"  # a file of 0 bytes: said so, not called the wrong type
    content_type = next((kind for kind in allowed
                         if any(head.startswith(sig) for sig in SIGNATURES.get(kind, ()))), None)
    if content_type is None:
        # Named as an accepted file but not one inside (a Word file or an HEIC photo given
        # a .pdf or .jpg name, or a damaged one): "only PDF…" would read as nonsense.
        name = (getattr(upload, "filename", None) or "").lower()
        return None, "renamed" if name.endswith((".pdf", ".jpg", ".jpeg", ".png")) else "wrong_type"
    with tempfile.NamedTemporaryFile(dir=folder, delete=False) as out:
        chunk = head
        while chunk:
            size += len(chunk)
            if size > limit:
                out.close()
                Path(out.name).unlink(missing_ok=True)
                return None, "too_large"
            digest.update(chunk)
            out.write(chunk)
            chunk = upload.stream.read(CHUNK)
    sha = digest.hexdigest()
    target = stored_path(sha)
    target.parent.mkdir(exist_ok=True)
    Path(out.name).replace(target)
    session = get_session()
    stored = session.get(StoredFile, sha)
    if stored is None:
        stored = StoredFile(sha256=sha, size=size, content_type=content_type)
        session.add(stored)
        session.flush()
    return stored, None


def uploaded_entry(stored: StoredFile, filename: str) -> dict:
    """How a draft or a submission records an uploaded material."""
    # The name is the applicant's: kept for downloads, cut to a sane length.
    return {"state": "uploaded", "file": stored.sha256, "filename": filename[:200],
            "size": stored.size, "content_type": stored.content_type}


def slice_material(task, material_id: str) -> tuple[dict, Path] | None:
    """An uploaded material of a task's slice and its file, or None (not there, not routed)."""
    entry = next((m for m in task.slice_materials
                  if m.get("id") == material_id and m.get("state") == "uploaded"), None)
    if entry is None:
        return None
    path = stored_path(entry["file"])
    return (entry, path) if path.exists() else None
