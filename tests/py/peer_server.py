"""What both Python peers' servers share: serve on a loopback port, say which on stdout, and
end when the test that started them ends (its end of stdin closes) or after `lifetime` seconds."""

import os
import sys
import threading


def serve(server, lifetime):
    server.daemon_threads = True

    def exit_when_parent_leaves():
        while sys.stdin.buffer.read(4096):
            pass
        os._exit(0)

    threading.Thread(target=exit_when_parent_leaves, daemon=True).start()
    threading.Timer(lifetime, lambda: os._exit(3)).start()
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()
