"""A jaeger-client peer for traced's interop tests (tests/tests/interop_jaeger_client.rs).

Written the way the Jaeger (OpenTracing) tutorials write services: a jaeger_client.Tracer, its
HTTP_HEADERS codec for `uber-trace-id` and `uberctx-*` baggage, spans as scopes. Spans go to an
in-memory reporter and what matters is printed: the test checks ids and baggage, not Jaeger's
storage.

  client --url URL [--bits 64|128]
      Starts a trace (root span "checkout") with baggage tenant="acme corp" and user.id=42,
      opens a CLIENT span "call rust" inside it, injects it into the request headers and GETs
      URL. Prints one JSON line: the ids jaeger-client used (lower hex), the headers it sent,
      the status and body of the answer.

  server
      Serves HTTP on 127.0.0.1 (a free port, printed as "PORT <n>"). Each GET extracts the
      caller's context with the tracer, opens a SERVER span "handle" as its child, sets the
      baggage item py.hop=python on it, and answers 200 with JSON: what it extracted (ids,
      sampled, debug, baggage), the ids of its own span, and the headers the tracer injects for
      that span (how it would call on). Exits when its stdin closes or after --lifetime seconds,
      so a test that dies never leaves it behind.
"""

import argparse
import json
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import peer_server

from jaeger_client import ConstSampler, Tracer
from jaeger_client.reporter import InMemoryReporter
from opentracing.ext import tags
from opentracing.propagation import Format

TIMEOUT_SECONDS = 10


def tracer(service, bits=64):
    return Tracer(
        service_name=service,
        reporter=InMemoryReporter(),
        sampler=ConstSampler(True),
        generate_128bit_trace_id=bits == 128,
    )


def hex_id(value):
    return "%x" % value


def run_client(args):
    client_tracer = tracer("py-client", args.bits)
    with client_tracer.start_active_span("checkout") as root:
        root.span.set_baggage_item("tenant", "acme corp")
        root.span.set_baggage_item("user.id", "42")
        with client_tracer.start_active_span(
            "call rust", tags={tags.SPAN_KIND: tags.SPAN_KIND_RPC_CLIENT}
        ) as call:
            headers = {}
            client_tracer.inject(call.span.context, Format.HTTP_HEADERS, headers)
            request = urllib.request.Request(args.url, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                    status, body = response.status, response.read().decode("utf-8")
            except urllib.error.HTTPError as error:
                status, body = error.code, ""
    print(
        json.dumps(
            {
                "trace_id": hex_id(root.span.trace_id),
                "root": hex_id(root.span.span_id),
                "client": hex_id(call.span.span_id),
                "client_parent": hex_id(call.span.parent_id),
                "sent": headers,
                "status": status,
                "body": body,
            }
        ),
        flush=True,
    )


def make_handler(server_tracer):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            # The codec matches header names in any case, as HTTP does.
            carrier = {name: value for name, value in self.headers.items()}
            extracted = server_tracer.extract(Format.HTTP_HEADERS, carrier)
            with server_tracer.start_active_span(
                "handle",
                child_of=extracted,
                tags={tags.SPAN_KIND: tags.SPAN_KIND_RPC_SERVER},
            ) as scope:
                span = scope.span
                span.set_baggage_item("py.hop", "python")
                onward = {}
                server_tracer.inject(span.context, Format.HTTP_HEADERS, onward)
                answer = {
                    "extracted": None
                    if extracted is None
                    else {
                        "trace_id": hex_id(extracted.trace_id),
                        "span_id": hex_id(extracted.span_id),
                        "sampled": extracted.flags & 1 == 1,
                        "debug": extracted.flags & 2 == 2,
                        "baggage": dict(extracted.baggage or {}),
                    },
                    "span": {
                        "trace_id": hex_id(span.trace_id),
                        "span_id": hex_id(span.span_id),
                        "parent_id": hex_id(span.parent_id or 0),
                        "baggage": dict(span.context.baggage or {}),
                    },
                    "onward": onward,
                }
            body = json.dumps(answer).encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):
            pass

    return Handler


def run_server(args):
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(tracer("py-server")))
    peer_server.serve(server, args.lifetime)


def main():
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    client = commands.add_parser("client")
    client.add_argument("--url", required=True)
    client.add_argument("--bits", type=int, choices=[64, 128], default=64)
    server = commands.add_parser("server")
    server.add_argument("--lifetime", type=float, default=120.0)
    args = parser.parse_args()
    if args.command == "client":
        run_client(args)
    else:
        run_server(args)


if __name__ == "__main__":
    main()
