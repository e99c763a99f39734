#!/usr/bin/env python3
"""Many idle keep-alive connections: opens N, sends one request on each, reads its whole answer,
and keeps every connection open and silent until told to close.

  idle_conns.py PORT N [--proto h1|h2|memcache] [--procs K] [--host 127.0.0.1] [--path /get/k]
                [--first-source 2] [--hold 600] [--connect-timeout 60]

The N connections are spread over K processes (each under the 20,000 open-file limit); process i
binds its sockets to the loopback source address 127.0.0.(FIRST_SOURCE + i), so no address runs
out of ports. h1 sends `GET PATH`, h2 speaks HTTP/2 with prior knowledge (preface, SETTINGS, one
GET, the ACK of the server's SETTINGS), memcache sends `get k`. A connection is served when the
whole answer has arrived: Content-Length bytes of body, END_STREAM on stream 1, or `END`.

Once every connection has its answer (or failed), prints one line to stdout,
`served S failed F seconds T`, then holds until stdin closes (or --hold seconds pass), and exits
0 only if all N were served. Used by bench/idle and tests/integration/test_idle_connections.py.
"""
import argparse
import asyncio
import multiprocessing
import os
import select
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def h2_frame(ftype, flags, sid, payload=b""):
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + sid.to_bytes(4, "big") + payload


def h2_get(path):
    fields = [(b":method", b"GET"), (b":scheme", b"http"), (b":path", path.encode()), (b":authority", b"hkv")]
    block = b"".join(b"\x00" + bytes([len(n)]) + n + bytes([len(v)]) + v for n, v in fields)
    return PREFACE + h2_frame(4, 0, 0) + h2_frame(1, 0x4 | 0x1, 1, block)


async def answer_h1(reader, writer, path):
    writer.write(f"GET {path} HTTP/1.1\r\nHost: hkv\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return head.startswith(b"HTTP/1.1 ")


async def answer_h2(reader, writer, path):
    writer.write(h2_get(path))
    while True:
        header = await reader.readexactly(9)
        size, ftype, flags = int.from_bytes(header[:3], "big"), header[3], header[4]
        sid = int.from_bytes(header[5:9], "big") & 0x7FFFFFFF
        await reader.readexactly(size)
        if ftype == 4 and not flags & 0x1:
            writer.write(h2_frame(4, 0x1, 0))  # ACK the server's SETTINGS
        if ftype == 7:
            return False  # GOAWAY
        if sid == 1 and ftype in (0, 1) and flags & 0x1:
            return True


async def answer_memcache(reader, writer, path):
    writer.write(b"get " + path.strip("/").encode() + b"\r\n")
    while True:
        line = await reader.readuntil(b"\r\n")
        if line == b"END\r\n":
            return True
        if not line.startswith(b"VALUE "):
            return False
        await reader.readexactly(int(line.split()[3]) + 2)


ANSWER = {"h1": answer_h1, "h2": answer_h2, "memcache": answer_memcache}


async def one(args, source, served, opened, gate, hold):
    async with gate:  # bounds connects in flight, so the listener's backlog does not overflow
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(args.host, args.port, local_addr=(source, 0)), args.connect_timeout)
            ok = await asyncio.wait_for(ANSWER[args.proto](reader, writer, args.path), args.connect_timeout)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
            return
        opened.append(writer)
        if ok:
            served.append(1)
    await hold.wait()


async def run_process(args, index, count, pipe):
    source = args.host if args.host != "127.0.0.1" else f"127.0.0.{args.first_source + index}"
    served, opened, hold = [], [], asyncio.Event()
    gate = asyncio.Semaphore(256)
    started = time.monotonic()
    tasks = [asyncio.create_task(one(args, source, served, opened, gate, hold)) for _ in range(count)]
    while len(opened) + sum(t.done() for t in tasks) < count and time.monotonic() - started < args.connect_timeout * 4:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # let the server finish writing and go idle
    pipe.send((len(served), time.monotonic() - started))
    await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # the parent says close
    hold.set()
    for w in opened:
        w.close()
    await asyncio.gather(*tasks, return_exceptions=True)


def child(args, index, count, pipe):
    asyncio.run(run_process(args, index, count, pipe))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("port", type=int)
    p.add_argument("conns", type=int)
    p.add_argument("--proto", choices=sorted(ANSWER), default="h1")
    p.add_argument("--procs", type=int, default=4)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--path", default="/get/k")
    p.add_argument("--first-source", type=int, default=2)
    p.add_argument("--hold", type=float, default=600)
    p.add_argument("--connect-timeout", type=float, default=60)
    args = p.parse_args()
    shares = [args.conns // args.procs + (i < args.conns % args.procs) for i in range(args.procs)]
    pipes, procs = [], []
    for i, count in enumerate(shares):
        ours, theirs = multiprocessing.Pipe()
        proc = multiprocessing.Process(target=child, args=(args, i, count, theirs), daemon=True)
        proc.start()
        pipes.append(ours)
        procs.append(proc)
    results = [pipe.recv() for pipe in pipes]
    served = sum(r[0] for r in results)
    print(f"served {served} failed {args.conns - served} seconds {max(r[1] for r in results):.1f}", flush=True)
    deadline = time.monotonic() + args.hold
    while (left := deadline - time.monotonic()) > 0:
        if select.select([sys.stdin], [], [], left)[0] and sys.stdin.readline() == "":
            break
    for pipe in pipes:
        pipe.send("close")
    for proc in procs:
        proc.join(30)
    sys.exit(0 if served == args.conns else 1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
