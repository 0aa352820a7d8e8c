#!/usr/bin/env python3
"""Where the gateway's samples go, by stage of the request path.

Reads `perf script` output (a `perf record -g` of sluice-gateway under
bench/gateway/run.sh) on stdin and prints the share of samples per stage.
Each sample goes to the first stage, in the order below, whose pattern any
of its frames matches (so malloc inside the parser counts as allocation,
and the epoll_ctl asio makes to wake a thread blocked in epoll_wait counts
as a hand-off). Usage: perf script -i perf.data | profile_breakdown.py
"""
import re
import sys
from collections import Counter

STAGES = [
    ("allocation (malloc/free)", r"\b(_int_malloc|_int_free|malloc|cfree|free|operator new|operator delete)\b"),
    ("thread hand-offs (condition variable wait/wake, futex, waking the epoll thread)",
     r"futex|pthread_cond|post_immediate_completion|wake_one_thread|epoll_reactor::interrupt"),
    ("waiting in epoll (incl. being woken)", r"epoll_wait"),
    ("timers (timerfd, expires_after)", r"timerfd|expires_after|expires_never"),
    ("socket send (kernel TCP, loopback delivery)", r"sendmsg|__send\b|writev"),
    ("socket receive", r"recvmsg|__recv\b|readv"),
    ("epoll registration", r"epoll_ctl"),
    ("metrics (GatewayMetrics::observe)", r"GatewayMetrics::observe"),
    ("invoke token / key ring", r"invokeTokenHeader|InvokeKeyRing"),
    ("proxy response mapping (JSON parse)", r"clientResponseFrom"),
    ("request rewrite (invokeRequestFor)", r"invokeRequestFor"),
    ("routing (parseRoute, triggerOf)", r"parseRoute|triggerOf|RouteTable"),
    ("connection pool", r"ConnectionPool"),
    ("HTTP serialise (Beast writer)", r"serializer|write_some_op|write_op|buffers_cat_view|buffers_prefix"),
    ("HTTP parse (Beast parser)", r"basic_parser|parse_fields|read_some_op|read_op"),
    ("dispatcher (queue, locks)", r"Dispatcher::"),
    ("upstream exchange (BeastUpstream)", r"Exchange|BeastUpstream"),
    ("server session (HttpServer)", r"Session<|HttpServer"),
    ("asio scheduler / strands", r"asio::detail::(scheduler|strand)"),
]
COMPILED = [(name, re.compile(pattern)) for name, pattern in STAGES]


def samples(lines):
    stack = []
    for line in lines:
        if not line.strip():
            if stack:
                yield stack
            stack = []
        elif line.startswith((" ", "\t")):
            stack.append(line.strip())
    if stack:
        yield stack


counts = Counter()
total = 0
for stack in samples(sys.stdin):
    total += 1
    stage = next((name for name, pattern in COMPILED if any(pattern.search(f) for f in stack)), "other")
    counts[stage] += 1
print(f"{total} samples")
for name, n in counts.most_common():
    print(f"{100.0 * n / max(total, 1):5.1f}%  {name}")
