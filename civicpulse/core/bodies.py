"""Throwing away a request body that was refused unread."""

from django.http import HttpRequest

# Large reads: the reader below copies what it reads once, so the chunk size only bounds
# the memory a discard holds at a time.
DISCARD_CHUNK_BYTES = 256 * 1024


def request_body_discard(request: HttpRequest) -> None:
    """Read and drop what is left of the request's body before answering a refusal.

    A keep-alive connection can carry its next request only once this body has arrived.
    gunicorn drains a body the application left unread after the response, in 8 KB reads
    of its body, each copying what is left of the piece its reader holds (through
    gunicorn's own body buffer, a kilobyte per step: about 4 ms of CPU with the GIL held
    for a 600 KB photo), against under 1 ms reading its body reader directly in large
    chunks. Under a flood of refused uploads those milliseconds were what other requests
    of the same process queued behind.

    gunicorn's readers (`wsgi.input.reader`) stop at the end of the body, bounded by its
    Content-Length or its last chunk, so a request pipelined behind it is left intact.
    Another server's stream has no such reader and is left for the server to drain.
    """
    reader = getattr(request.META.get("wsgi.input"), "reader", None)
    read = getattr(reader, "read", None)
    if not callable(read):
        return
    try:
        while read(DISCARD_CHUNK_BYTES):
            pass
    except Exception:  # an aborted upload or a malformed chunk: the answer still goes
        return  # out, and gunicorn closes the connection when its own drain fails too
