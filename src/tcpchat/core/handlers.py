"""The command table: every IRC command the core understands, and its handler."""

from . import channels, messaging, modes, operators, queries, registration

HANDLERS = {
    **registration.HANDLERS,
    **channels.HANDLERS,
    **modes.HANDLERS,
    **messaging.HANDLERS,
    **queries.HANDLERS,
    **operators.HANDLERS,
}
