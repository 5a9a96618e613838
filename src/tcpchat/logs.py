"""The server's log on stderr (the journal or the container runtime keeps it): `text` for
people, as it always was, or `json` for machines, one object a line.

Log calls pass what an operator filters on with `extra=`: `event` (a short name that stays
the same from release to release: `connect`, `register`, `disconnect`, ...), `conn` (the
connection's id, the same from its connect to its disconnect), `addr` (the peer's address),
`nick`, and whatever else fits the event. The text format shows the sentence alone; the
JSON one shows the sentence as `message`, beside every field.

Standard library only: anything that reads JSON lines (jq, journald, Loki, Elasticsearch)
reads these.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# A record's own attributes (whatever this Python's LogRecord has): what `extra=` added
# is everything else.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (ISO 8601, UTC), level, logger, event, message, then
    the fields the call gave with `extra=`. A line without an event is `log`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": iso_time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": getattr(record, "event", "log"),
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # ASCII only: a line stays valid JSON whatever encoding stderr has.
        return json.dumps(entry, default=str)


def iso_time(created: float) -> str:
    """`2024-05-01T12:00:00.123Z`: when the record was made, in UTC."""
    moment = datetime.fromtimestamp(created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def formatter(form: str) -> logging.Formatter:
    """The formatter for `--log-format` (one of FORMATS)."""
    if form == "json":
        return JsonFormatter()
    return logging.Formatter(TEXT_FORMAT)


def setup_logging(level: str, form: str = "text") -> None:
    """Log at `level` and above to stderr in `form`. Like `logging.basicConfig`, it leaves
    a root logger that already has handlers (a test's capture) alone."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(form))
    logging.basicConfig(level=level.upper(), handlers=[handler])
