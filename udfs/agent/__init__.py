"""The tickml UDF agent: Kapacitor's UDF protocol and the handler API.

Everything a UDF module needs is importable from here::

    from udfs.agent import Handler, Option, main

    class MyUdf(Handler):
        options = (Option("field", "string", "value"),)
        def point(self, p):
            ...

    if __name__ == "__main__":
        sys.exit(main(MyUdf))

See ``udfs/agent/README.md`` for the full contract. The agent knows nothing
of statistics or models; it converts between Kapacitor messages and Python
(and numpy) values.
"""

from .connection import DEFAULT_HANG_LIMIT, DEFAULT_MAX_QUEUED_BYTES, Connection
from .framing import DEFAULT_MAX_MESSAGE_SIZE, FrameDecoder, FramingError, encode_frame, encode_varint
from .handler import Handler
from .options import REQUIRED, Duration, Option, OptionsError, parse_duration, parse_options
from .points import BadPoint, Batch, Point, new_point, set_fields
from udfs.ratelimit import RateLimitedLog
from .server import SocketServer, main, run_process, serve_socket
from udfs.entity_store import EntityStore
from .transports import PipeTransport, SocketTransport

__all__ = [
    "BadPoint",
    "Batch",
    "Connection",
    "DEFAULT_HANG_LIMIT",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "DEFAULT_MAX_QUEUED_BYTES",
    "Duration",
    "EntityStore",
    "FrameDecoder",
    "FramingError",
    "Handler",
    "Option",
    "OptionsError",
    "PipeTransport",
    "Point",
    "REQUIRED",
    "RateLimitedLog",
    "SocketServer",
    "SocketTransport",
    "encode_frame",
    "encode_varint",
    "main",
    "new_point",
    "parse_duration",
    "parse_options",
    "run_process",
    "serve_socket",
    "set_fields",
]
