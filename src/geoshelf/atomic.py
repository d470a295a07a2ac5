"""Publishing a directory written aside: one rename puts it in place, the old one goes last."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path


def replace_directory(partial: Path, target: Path) -> None:
    """Move the finished directory ``partial`` to ``target``; an existing ``target`` is moved aside first
    and removed only once the new one is in place (it is put back if that rename fails)."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        os.rename(target, old)
    try:
        os.rename(partial, target)
    except BaseException:
        if old is not None:
            os.rename(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
