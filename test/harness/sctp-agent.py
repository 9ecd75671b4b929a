#!/usr/bin/env python3
# The SCTP side of the traffic agent (agent.mjs): Node has no SCTP sockets,
# Python's socket module has (IPPROTO_SCTP, one-to-one style). Same protocol
# and output as agent.mjs's tcp mode, so the suite reads both alike:
#
#   serve --name NAME --port P     listen on 0.0.0.0:P and [::]:P (IPv6 only);
#                                  greet each association with "NAME peer\n",
#                                  then echo every line as "NAME line\n"
#   probe --target IP:PORT|[IP6]:PORT --count N --timeout MS [--concurrency C]
#                                  N fresh associations, each reading the
#                                  greeting; one JSON line per attempt:
#                                  {"ok":true,"name":..,"peer":..,"ms":..} or
#                                  {"ok":false,"error":"ECONNREFUSED"|..,"ms":..}
#   check                          exit 0 if this kernel can open an SCTP socket
#
# Run inside a test's namespace (ip netns exec); it never binds outside it.
import argparse
import errno
import json
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

IPPROTO_SCTP = getattr(socket, "IPPROTO_SCTP", 132)


def split_target(text):
    if text.startswith("["):
        host, _, port = text[1:].partition("]:")
    else:
        host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        sys.exit(f"--target IP:PORT or [IP6]:PORT is required, got {text!r}")
    return host, int(port)


def show(addr):
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def serve(args):
    def handle(conn, peer):
        with conn:
            try:
                conn.sendall(f"{args.name} {show(peer)}\n".encode())
                buf = b""
                while True:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                    while b"\n" in buf:
                        line, buf = buf.split(b"\n", 1)
                        conn.sendall(args.name.encode() + b" " + line + b"\n")
            except OSError:
                return  # aborts from clients are normal

    def accept_loop(sock):
        while True:
            conn, peer = sock.accept()
            threading.Thread(target=handle, args=(conn, peer), daemon=True).start()

    listeners = []
    for family, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        s = socket.socket(family, socket.SOCK_STREAM, IPPROTO_SCTP)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((host, args.port))
        s.listen(128)
        listeners.append(s)
    for s in listeners:
        threading.Thread(target=accept_loop, args=(s,), daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()


def once(host, port, timeout_ms):
    t0 = time.monotonic()
    ms = lambda: round((time.monotonic() - t0) * 1000, 1)  # noqa: E731
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM, IPPROTO_SCTP)
    s.settimeout(timeout_ms / 1000)
    try:
        s.connect((host, port))
        buf = b""
        while b"\n" not in buf:
            data = s.recv(4096)
            if not data:
                return {"ok": False, "error": "ECLOSED", "ms": ms()}
            buf += data
        name, _, peer = buf.split(b"\n", 1)[0].decode().partition(" ")
        return {"ok": True, "name": name, "peer": peer, "ms": ms()}
    except socket.timeout:
        return {"ok": False, "error": "ETIMEDOUT", "ms": ms()}
    except OSError as e:
        return {"ok": False, "error": errno.errorcode.get(e.errno, str(e)), "ms": ms()}
    finally:
        s.close()


def probe(args):
    host, port = split_target(args.target)
    with ThreadPoolExecutor(max_workers=max(1, args.concurrency)) as pool:
        for r in pool.map(lambda _: once(host, port, args.timeout), range(args.count)):
            print(json.dumps(r), flush=True)


def check(_args):
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_SCTP).close()
    except OSError as e:
        sys.exit(f"no SCTP sockets here: {e}")


def main():
    p = argparse.ArgumentParser(description="SCTP traffic agent for the namespace cluster")
    sub = p.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--name", required=True)
    s.add_argument("--port", type=int, required=True)
    s.set_defaults(run=serve)
    c = sub.add_parser("probe")
    c.add_argument("--target", required=True)
    c.add_argument("--count", type=int, default=1)
    c.add_argument("--timeout", type=int, default=2000)
    c.add_argument("--concurrency", type=int, default=1)
    c.set_defaults(run=probe)
    k = sub.add_parser("check")
    k.set_defaults(run=check)
    args = p.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
