"""The asyncio edge: sockets, line framing, flood control, coalesced output. It knows nothing
of IRC beyond telling an IRC client from a person (or from another protocol) at the first line.

`framing` and `flood` are sans-IO parts; `connection` is one peer whatever carries it; `tcp`
frames TCP and TLS streams; `listener` accepts; `server` ties them to the core; `tls` makes
the server's TLS context; `sniff` tells strangers apart; `fdlimit` fits the open-file limit.
"""
