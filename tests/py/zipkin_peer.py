"""A py_zipkin peer for traced's interop tests (tests/tests/interop_py_zipkin.rs).

Written the way the py_zipkin tutorials write services, reporting v2 JSON to the test's
Zipkin receiver.

  client --url URL --zipkin ENDPOINT [--headers new-span|current|b3-single]
      Starts a trace (root span "checkout"), opens a CLIENT span "call rust" inside it, and GETs
      URL with B3 headers from py_zipkin's helpers. Prints one JSON line: the ids py_zipkin
      used and the status the server answered.

  server --zipkin ENDPOINT
      Serves HTTP on 127.0.0.1 (a free port, printed as "PORT <n>"). Each GET continues the
      B3 context it carries (py_zipkin's extract_zipkin_attrs_from_headers) in a SERVER span
      named "GET <path>" with a child span "db lookup", and answers 200 with the B3 headers it
      received as JSON ("/fail" answers 500). Exits when its stdin closes or after --lifetime
      seconds, so a test that dies never leaves it behind.
"""

import argparse
import json
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import peer_server

from py_zipkin import Encoding, Kind
from py_zipkin.request_helpers import create_http_headers, extract_zipkin_attrs_from_headers
from py_zipkin.transport import BaseTransportHandler
from py_zipkin.zipkin import create_http_headers_for_new_span, zipkin_client_span, zipkin_span

TIMEOUT_SECONDS = 10


class HttpTransport(BaseTransportHandler):
    """POSTs each encoded batch to the Zipkin v2 endpoint."""

    def __init__(self, endpoint):
        self.endpoint = endpoint

    def get_max_payload_bytes(self):
        return None

    def send(self, payload):
        body = payload if isinstance(payload, bytes) else payload.encode("utf-8")
        request = urllib.request.Request(
            self.endpoint,
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            response.read()


def b3_headers(style):
    """B3 headers for the outgoing call, made by py_zipkin's own helpers."""
    if style in ("current", "b3-single"):
        # The current (client) span's own id: the server's parent is the client span.
        headers = create_http_headers()
    else:
        # The tutorials' helper: a fresh span id whose parent is the current span. py_zipkin
        # never reports that id itself; a server that joins it (shared span) fills it in.
        headers = create_http_headers_for_new_span()
    headers = {name: value for name, value in headers.items() if value is not None}
    if style == "b3-single":
        fields = [headers["X-B3-TraceId"], headers["X-B3-SpanId"], headers["X-B3-Sampled"]]
        if "X-B3-ParentSpanId" in headers:
            fields.append(headers["X-B3-ParentSpanId"])
        headers = {"b3": "-".join(fields)}
    return headers


def run_client(args):
    transport = HttpTransport(args.zipkin)
    with zipkin_span(
        service_name="py-client",
        span_name="checkout",
        transport_handler=transport,
        sample_rate=100.0,
        encoding=Encoding.V2_JSON,
        use_128bit_trace_id=True,
    ) as root:
        with zipkin_client_span(service_name="py-client", span_name="call rust") as client:
            headers = b3_headers(args.headers)
            request = urllib.request.Request(args.url, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                    status = response.status
            except urllib.error.HTTPError as error:
                status = error.code
            client.update_binary_annotations({"http.status_code": str(status)})
    print(
        json.dumps(
            {
                "trace_id": root.zipkin_attrs.trace_id,
                "root": root.zipkin_attrs.span_id,
                "client": client.zipkin_attrs.span_id,
                "sent": headers,
                "status": status,
            }
        ),
        flush=True,
    )


def make_handler(transport):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            # self.headers matches names in any case, as B3 requires.
            attrs = extract_zipkin_attrs_from_headers(
                self.headers, sample_rate=100.0, use_128bit_trace_id=True
            )
            path = self.path.split("?", 1)[0]
            status = 500 if path == "/fail" else 200
            with zipkin_span(
                service_name="py-server",
                span_name="GET " + path,
                zipkin_attrs=attrs,
                # Without a caller's context the server starts (and samples) a trace itself.
                sample_rate=None if attrs else 100.0,
                transport_handler=transport,
                kind=Kind.SERVER,
                encoding=Encoding.V2_JSON,
                port=self.server.server_address[1],
                host="127.0.0.1",
            ) as span:
                with zipkin_span(service_name="py-server", span_name="db lookup"):
                    pass
                span.update_binary_annotations({"http.status_code": str(status)})
                if status >= 500:
                    span.update_binary_annotations({"error": str(status)})
            received = {
                name.lower(): value
                for name, value in self.headers.items()
                if name.lower() == "b3" or name.lower().startswith("x-b3-")
            }
            body = json.dumps({"received": received}).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):
            pass

    return Handler


def run_server(args):
    transport = HttpTransport(args.zipkin)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(transport))
    peer_server.serve(server, args.lifetime)


def main():
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    client = commands.add_parser("client")
    client.add_argument("--url", required=True)
    client.add_argument("--zipkin", required=True)
    client.add_argument("--headers", choices=["new-span", "current", "b3-single"], default="new-span")
    server = commands.add_parser("server")
    server.add_argument("--zipkin", required=True)
    server.add_argument("--lifetime", type=float, default=120.0)
    args = parser.parse_args()
    if args.command == "client":
        run_client(args)
    else:
        run_server(args)


if __name__ == "__main__":
    main()
