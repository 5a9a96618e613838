"""Command handlers, by topic. Each takes (core, session, message), checks the command against
the state, replies to the session and emits events; `core.commands` says which runs when."""
