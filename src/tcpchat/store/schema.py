"""The database's schema: every migration, in order (each module adds its own tables)."""

from __future__ import annotations

from . import accounts, bans, history
from .database import Migration

MIGRATIONS: list[Migration] = [*accounts.MIGRATIONS, *history.MIGRATIONS, *bans.MIGRATIONS]
