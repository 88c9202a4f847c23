"""A flood of bad requests must not flood the log: lines about peer
faults are limited per second, the rest are summed in one notice line,
and the counters at shutdown still count every message."""

import re
import time

PER_SECOND = 20  # LOG_PEER_LINES_PER_SECOND in src/log.h

HOPS_EXHAUSTED = (
    "OPTIONS sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/TLS alice.invalid;branch=z9hG4bK-flood-%d\r\n"
    "Max-Forwards: 0\r\n"
    "From: <sip:alice@example.com>;tag=flood\r\n"
    "To: <sip:bob@example.com>\r\n"
    "Call-ID: flood-%d@alice.invalid\r\n"
    "CSeq: %d OPTIONS\r\n"
    "Content-Length: 0\r\n\r\n")


def test_log_budget_flood(sipsgate_factory, udp_backend, phone_factory):
    gate = sipsgate_factory("sip:127.0.0.1:%d;transport=udp"
                            % udp_backend.port)
    alice = phone_factory(gate, "alice")
    count = 300
    started = time.monotonic()
    alice.send("".join(HOPS_EXHAUSTED % (i, i, i)
                       for i in range(count)).encode())
    for _ in range(count):
        assert alice.wait_response(final=True).status == 483
    seconds = time.monotonic() - started

    answered = [line for line in gate.lines if "answered 483" in line]
    # At most one budget per second that the flood touched.
    assert len(answered) <= PER_SECOND * (int(seconds) + 2)
    assert len(answered) < count

    # Suppressed lines are summed once a later second starts and another
    # peer fault is logged; the budget is per wall-clock second, so wait
    # for the next one. A slow build may spread the flood over several
    # seconds, each with its own summary.
    time.sleep(1.1)
    alice.send((HOPS_EXHAUSTED % (count, count, count)).encode())
    assert alice.wait_response(final=True).status == 483

    assert gate.stop() == 0
    # The counters line comes last, so every earlier line has been read.
    counters = gate.wait_log(r"counters: .*error_responses=(\d+)")
    assert counters is not None
    assert int(re.search(r"error_responses=(\d+)", counters).group(1)) \
        == count + 1

    summaries = [int(re.search(r"(\d+) log lines about peer faults "
                               r"suppressed", line).group(1))
                 for line in gate.lines
                 if "log lines about peer faults suppressed" in line]
    answered = [line for line in gate.lines if "answered 483" in line]
    assert summaries
    # Every 483 was either logged or counted in a summary.
    assert len(answered) + sum(summaries) == count + 1
