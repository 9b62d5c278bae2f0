#!/usr/bin/python3
"""Linux user-space side of `tz-virtio bench --only linux`: AF_VSOCK bandwidth (64 KiB writes to a sink that closes
after EOF) and 64-byte ping-pong round trips (to an echo), against CID 2 (the secure side's vsock device over
vhost-user) or CID 1 (the same guest's in-kernel vsock_loopback, served by `vsock_bench.py serve`).

Usage: vsock_bench.py serve                      echo on port 1234, sink on port 1235 (for the loopback rows)
       vsock_bench.py run CID NAME BYTES ROUNDS  prints BENCH {json} lines
"""
import json
import socket
import sys
import threading
import time

ECHO, SINK = 1234, 1235
CHUNK = 65536


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def serve():
    def accept_loop(port, handler):
        ls = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
        ls.bind((socket.VMADDR_CID_ANY, port))
        ls.listen(8)
        while True:
            c, _ = ls.accept()
            threading.Thread(target=handler, args=(c,), daemon=True).start()

    def echo(c):
        while True:
            b = c.recv(CHUNK)
            if not b:
                break
            c.sendall(b)
        c.close()

    def sink(c):
        while c.recv(1 << 20):
            pass
        c.close()

    threading.Thread(target=accept_loop, args=(ECHO, echo), daemon=True).start()
    threading.Thread(target=accept_loop, args=(SINK, sink), daemon=True).start()
    say("SERVING")
    while True:
        time.sleep(3600)


def connect(cid, port):
    for _ in range(100):
        s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
        try:
            s.connect((cid, port))
            return s
        except OSError:
            s.close()
            time.sleep(0.05)
    raise OSError("cannot connect to CID %d port %d" % (cid, port))


def bandwidth(cid, total):
    s = connect(cid, SINK)
    block = b"\xa5" * CHUNK
    t0 = time.perf_counter()
    for _ in range(total // CHUNK):
        s.sendall(block)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)  # the sink closes once it has read everything: all bytes were delivered
    dt = time.perf_counter() - t0
    s.close()
    return {"bytes": total, "seconds": dt}


def rtt(cid, rounds):
    s = connect(cid, ECHO)
    msg = b"\x5a" * 64
    samples = []
    for i in range(rounds + 100):
        t0 = time.perf_counter_ns()
        s.sendall(msg)
        got = 0
        while got < 64:
            b = s.recv(64 - got)
            if not b:
                raise EOFError("echo closed")
            got += len(b)
        if i >= 100:  # warm-up
            samples.append((time.perf_counter_ns() - t0) / 1000.0)
    s.close()
    samples.sort()
    q = lambda p: samples[min(len(samples) - 1, int(p * len(samples)))]
    return {"rounds": rounds, "meanUs": sum(samples) / len(samples), "p50Us": q(0.5), "p99Us": q(0.99), "minUs": samples[0], "maxUs": samples[-1]}


def main():
    if sys.argv[1] == "serve":
        serve()
        return
    cid, name, total, rounds = int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    try:
        say("BENCH " + json.dumps({"target": name, "kind": "throughput", **bandwidth(cid, total)}))
        say("BENCH " + json.dumps({"target": name, "kind": "rtt", **rtt(cid, rounds)}))
    except Exception as e:  # noqa: BLE001
        say("BENCH " + json.dumps({"target": name, "error": repr(e)}))


if __name__ == "__main__":
    main()
