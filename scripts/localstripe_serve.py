"""Serve localstripe on 127.0.0.1 only, keeping nothing on disk between runs.

Run with var/localstripe/venv/bin/python (scripts/localstripe.sh install makes it):
its own `localstripe` command binds every interface and pickles its store to /tmp.

    var/localstripe/venv/bin/python scripts/localstripe_serve.py PORT
"""

import socket
import sys

from aiohttp import web
from localstripe import server


def main() -> None:
    port = int(sys.argv[1])
    server.store.dump_to_disk = lambda: None  # no /tmp pickle shared between runs
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    web.run_app(server.app, sock=sock, access_log=None, print=None)


if __name__ == "__main__":
    main()
