#!/usr/bin/python3
"""A TCP proxy on 127.0.0.1 between an IMAP client and a plain-text IMAP
server that cuts the connection in the middle of a FETCH response.

  cutproxy.py --listen PORT --upstream PORT --cut-literal K --cut-bytes B
              [--cut-connections C] [--pidfile F] [--log F]

Client to server bytes are forwarded as they come.  Server to client bytes
are read as IMAP: lines, and literals ({n} at the end of a line, then n
bytes) skipped exactly, so that a literal's content is never mistaken for
protocol.  On the K-th literal announced as `BODY[] {n}` on a connection,
the proxy forwards the line and only the first B bytes of the literal
(B < n), then closes both sides: the client sees the server vanish in the
middle of a message's bytes.  Only the first C connections are cut (default
all); later ones are plain forwarding.  Each cut is logged as one line
"cut connection N: literal K of UID U after B of n bytes" to --log.
"""
import argparse
import os
import re
import socket
import threading

LIT = re.compile(rb"\{(\d+)\}\r\n$")
BODY = re.compile(rb"BODY\[\] \{\d+\}\r\n$")
UID = re.compile(rb"\bUID (\d+)")


def close(*socks):
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()


def pump_up(client, server):
    """client -> server, unchanged"""
    try:
        while True:
            data = client.recv(65536)
            if not data:
                break
            server.sendall(data)
    except OSError:
        pass
    try:
        server.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def pump_down(server, client, args, conn_no, log):
    """server -> client, parsed; cut on the K-th BODY[] literal"""
    cut = args.cut_connections is None or conn_no <= args.cut_connections
    buf = b""
    literal = 0          # bytes of a literal still to forward
    nbody = 0
    try:
        while True:
            data = server.recv(65536)
            if not data:
                break
            buf += data
            out = b""
            while buf:
                if literal:
                    take = min(literal, len(buf))
                    out += buf[:take]
                    buf = buf[take:]
                    literal -= take
                    continue
                nl = buf.find(b"\r\n")
                if nl < 0:
                    break            # a line not complete yet
                line, buf = buf[:nl + 2], buf[nl + 2:]
                out += line
                m = LIT.search(line)
                if not m:
                    continue
                literal = int(m.group(1))
                if not (cut and BODY.search(line)):
                    continue
                nbody += 1
                if nbody != args.cut_literal:
                    continue
                keep = min(args.cut_bytes, literal - 1)
                # what is already here of the literal, up to keep bytes
                out += buf[:keep]
                got = min(len(buf), keep)
                while got < keep:
                    more = server.recv(keep - got)
                    if not more:
                        break
                    out += more
                    got += len(more)
                client.sendall(out)
                u = UID.search(line)
                uid = u.group(1).decode() if u else "?"
                with open(log, "a") as f:
                    f.write("cut connection %d: literal %d of UID %s after %d of %d bytes\n"
                            % (conn_no, nbody, uid, got, literal))
                close(client, server)
                return
            if out:
                client.sendall(out)
    except OSError:
        pass
    close(client, server)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", type=int, required=True)
    p.add_argument("--upstream", type=int, required=True)
    p.add_argument("--cut-literal", type=int, required=True)
    p.add_argument("--cut-bytes", type=int, required=True)
    p.add_argument("--cut-connections", type=int)
    p.add_argument("--pidfile")
    p.add_argument("--log", default="/dev/null")
    args = p.parse_args()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", args.listen))
    ls.listen(16)
    if args.pidfile:
        with open(args.pidfile + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(args.pidfile + ".tmp", args.pidfile)
    n = 0
    while True:
        client, _ = ls.accept()
        n += 1
        server = socket.create_connection(("127.0.0.1", args.upstream))
        threading.Thread(target=pump_up, args=(client, server), daemon=True).start()
        threading.Thread(target=pump_down, args=(server, client, args, n, args.log), daemon=True).start()


if __name__ == "__main__":
    main()
