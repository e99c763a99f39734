#!/usr/bin/env python3
# Cache-eviction simulator: replays a Zipf key trace through FIFO, LRU, SIEVE, hkv's 64-shard
# SIEVE and a CLOCK over hash-table order (unit-size objects); prints the hit ratios as a table.
import argparse
import bisect
import csv
import itertools
import random
import sys
import time
from collections import OrderedDict

GOLDEN = 0x9E3779B97F4A7C15
MASK64 = (1 << 64) - 1


class Fifo:
    def __init__(self, cap):
        self.cap = cap
        self.queue = OrderedDict()  # oldest first

    def __len__(self):
        return len(self.queue)

    def access(self, key):
        if key in self.queue:
            return True
        if len(self.queue) >= self.cap:
            self.queue.popitem(last=False)
        self.queue[key] = None
        return False


class Lru(Fifo):
    def access(self, key):
        if key in self.queue:
            self.queue.move_to_end(key)
            return True
        return super().access(key)


class SieveList:
    """One SIEVE queue (NSDI'24): doubly linked list, newest at the head, a hand that
    walks from the tail (oldest) toward the head clearing visited bits."""

    def __init__(self):
        self.visited = {}  # key -> visited bit; also the membership set
        self.newer = {}    # key -> neighbour toward the head (None at the head)
        self.older = {}    # key -> neighbour toward the tail (None at the tail)
        self.head = self.tail = self.hand = None

    def __len__(self):
        return len(self.visited)

    def insert(self, key):
        self.visited[key] = False
        self.newer[key] = None
        self.older[key] = self.head
        if self.head is None:
            self.tail = key
        else:
            self.newer[self.head] = key
        self.head = key

    def evict(self):
        hand = self.tail if self.hand is None else self.hand
        while self.visited[hand]:
            self.visited[hand] = False
            hand = self.newer[hand]
            if hand is None:
                hand = self.tail
        newer, older = self.newer.pop(hand), self.older.pop(hand)
        del self.visited[hand]
        if newer is None:
            self.head = older
        else:
            self.older[newer] = older
        if older is None:
            self.tail = newer
        else:
            self.newer[older] = newer
        self.hand = newer  # None: the next eviction starts again from the tail


class Sieve:
    def __init__(self, cap):
        self.cap = cap
        self.list = SieveList()

    def __len__(self):
        return len(self.list)

    def access(self, key):
        visited = self.list.visited
        if key in visited:
            visited[key] = True
            return True
        if len(visited) >= self.cap:
            self.list.evict()
        self.list.insert(key)
        return False


class ShardedSieve:
    """hkv's layout: a SIEVE list per shard (chosen by the high bits of a multiplicative
    hash), one global capacity; a miss on a full cache evicts from the key's own shard,
    or from the next non-empty shard if that one is empty."""

    def __init__(self, cap, shards):
        self.cap = cap
        self.size = 0
        self.shards = [SieveList() for _ in range(shards)]

    def __len__(self):
        return self.size

    def shard_of(self, key):
        # For 64 shards this is exactly hash >> 58.
        return (((key * GOLDEN) & MASK64) * len(self.shards)) >> 64

    def access(self, key):
        s = self.shard_of(key)
        visited = self.shards[s].visited
        if key in visited:
            visited[key] = True
            return True
        if self.size >= self.cap:
            n = len(self.shards)
            self.evict(next((s + i) % n for i in range(n) if self.shards[(s + i) % n]))
        else:
            self.size += 1
        self.insert(s, key)
        return False

    def evict(self, s):
        self.shards[s].evict()

    def insert(self, s, key):
        self.shards[s].insert(key)


class TableOrderClock(ShardedSieve):
    """What SIEVE would become without per-item links: each shard's hand sweeps the keys in the
    order of their slots in the shard's hash table (a second hash of the key), not in insertion
    order. A new key lands anywhere relative to the hand. Measured to see whether the links can
    go (issue 13); they cannot (see README.md)."""

    def __init__(self, cap, shards):
        super().__init__(cap, shards)
        self.slots = [[] for _ in range(shards)]  # sorted (slot position, key)
        self.hands = [0] * shards

    @staticmethod
    def slot_of(key):
        h = (key * 0xC2B2AE3D27D4EB4F + 0x165667B19E3779F9) & MASK64
        h ^= h >> 29
        h = (h * 0xBF58476D1CE4E5B9) & MASK64
        return h ^ (h >> 32)

    def insert(self, s, key):
        bisect.insort(self.slots[s], (self.slot_of(key), key))
        self.shards[s].visited[key] = False

    def evict(self, s):
        slots, visited = self.slots[s], self.shards[s].visited
        i = bisect.bisect_left(slots, (self.hands[s], -1))
        while True:
            if i >= len(slots):
                i = 0
            pos, key = slots[i]
            if not visited[key]:
                del slots[i]
                del visited[key]
                self.hands[s] = pos
                return
            visited[key] = False
            i += 1


def policies(shards):
    """(name, factory(cap)) for every simulated policy, in table order."""
    return [
        ("FIFO", Fifo),
        ("LRU", Lru),
        ("SIEVE", Sieve),
        (f"SIEVE, {shards} shards", lambda cap: ShardedSieve(cap, shards)),
        (f"CLOCK in table order, {shards} shards", lambda cap: TableOrderClock(cap, shards)),
    ]


def zipf_trace(keys, requests, alpha, seed):
    """Zipf(alpha) ranks mapped to key ids through a fixed random permutation."""
    rng = random.Random(seed)
    cdf = list(itertools.accumulate(1.0 / (rank ** alpha) for rank in range(1, keys + 1)))
    ranks = rng.choices(range(keys), cum_weights=cdf, k=requests)
    key_of_rank = list(range(keys))
    rng.shuffle(key_of_rank)
    return [key_of_rank[r] for r in ranks]


def hits(cache, trace):
    access = cache.access
    return sum(map(access, trace))


def check():
    """Invariants on tiny traces; raises AssertionError on failure."""
    trace = zipf_trace(keys=500, requests=20000, alpha=0.99, seed=7)
    distinct = len(set(trace))
    for name, make in policies(shards=8):
        for cap in (1, 5, 50, 499):
            cache = make(cap)
            for key in trace:
                cache.access(key)
                assert len(cache) <= cap, f"{name}: {len(cache)} keys > capacity {cap}"
        assert hits(make(distinct), trace) == len(trace) - distinct, f"{name}: all-fit hits"
        # A loop one key larger than the cache never hits (SIEVE never sets a bit, so it
        # acts as FIFO); the sharded variant evicts within a shard, so it may hit.
        loop = list(range(11)) * 100
        if "shards" not in name:
            assert hits(make(10), loop) == 0, f"{name}: looping trace hit"
    # Hand-worked SIEVE example (cap 2: A B B A C B): C's miss clears A and B, wraps to
    # the tail and evicts A, so B still hits; LRU evicts B instead.
    a, b, c = 1, 2, 3
    seq = [a, b, b, a, c, b]
    sieve, lru = Sieve(2), Lru(2)
    assert [sieve.access(k) for k in seq] == [False, False, True, True, False, True], "SIEVE"
    assert [lru.access(k) for k in seq] == [False, False, True, True, False, False], "LRU"
    # The hand persists (cap 3: A B C A D C E A): D's miss clears A and evicts B, leaving the
    # hand on C; E's miss clears C and evicts D, so A still hits (a hand reset to the tail
    # would evict A).
    d, e = 4, 5
    seq = [a, b, c, a, d, c, e, a]
    sieve = Sieve(3)
    assert [sieve.access(k) for k in seq] == [False] * 3 + [True, False, True, False, True], "hand"
    # One shard is exactly the single-list SIEVE.
    for cap in (5, 50):
        assert hits(ShardedSieve(cap, 1), trace) == hits(Sieve(cap), trace), "1-shard SIEVE"
    print("check: ok")


def main():
    parser = argparse.ArgumentParser(description="SIEVE vs LRU vs FIFO hit ratios on a Zipf trace")
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2_000_000)
    parser.add_argument("--alpha", type=float, default=0.99)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sizes", default="1,10", help="cache sizes, percent of --keys")
    parser.add_argument("--shards", type=int, default=64)
    parser.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    parser.add_argument("--check", action="store_true", help="run self checks and exit")
    args = parser.parse_args()
    if args.check:
        check()
        return

    start = time.monotonic()
    trace = zipf_trace(args.keys, args.requests, args.alpha, args.seed)
    sizes = [float(s) for s in args.sizes.split(",")]
    caps = [max(1, round(args.keys * s / 100)) for s in sizes]
    header = ["policy"] + [f"{s:g}% ({cap:,} keys)" for s, cap in zip(sizes, caps)]
    rows = [[name] + [f"{100 * hits(make(cap), trace) / len(trace):.2f}" for cap in caps]
            for name, make in policies(args.shards)]

    print(f"Zipf alpha={args.alpha:g}, {args.keys:,} keys, {args.requests:,} requests, "
          f"seed {args.seed}; hit ratio in % (distinct keys requested: {len(set(trace)):,})\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(["---"] + ["---:"] * len(caps)) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            csv.writer(f).writerows([header] + rows)
    print(f"elapsed: {time.monotonic() - start:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
