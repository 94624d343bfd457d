"""The HTTP layer: everything between an endpoint's request body and the bytes of its answer.

Read bottom-up: `_http11` (the sans-I/O HTTP/1.1 reader and request heads), `_transport` (sockets,
timeouts, the connection pool; moves bytes, decides nothing), `_direct_sender` (requests sent on
the transport without httpx's client), `_retry` (when a failed request is sent again: pure
policy), `_session` (the pool per event loop, the path a request takes, API-key scope, the send
and retry loop). Nothing here imports the clients or the endpoints.
"""
