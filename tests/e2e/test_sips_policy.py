"""sips_plain_backend: a sips: Request-URI or Contact toward a plain UDP
backend is rejected with 416, or relayed when the policy says so."""

import pytest

from sipphone import Message


def udp_uri(endpoint):
    return "sip:%s;transport=udp" % endpoint.address


SIPS_REQUESTS = [
    ("request_uri", dict(request_uri="sips:example.com")),
    ("contact", dict(contact="sips:alice@phone.invalid")),
]


@pytest.mark.parametrize("case,options", SIPS_REQUESTS,
                         ids=[c[0] for c in SIPS_REQUESTS])
def test_sips_reject(sipsgate_factory, udp_backend, phone_factory, case,
                     options):
    gate = sipsgate_factory(udp_uri(udp_backend), sips_plain_backend="reject")
    alice = phone_factory(gate, "alice")

    response = alice.register(**options)

    assert response.status == 416
    assert len(response.vias) == 1

    # The next, plain REGISTER is the first request the backend sees.
    request = alice.build_register()
    alice.send_message(request)
    forwarded, source = udp_backend.recv_request()
    assert forwarded.cseq == Message(request).cseq
    udp_backend.reply(forwarded, source, 200, "OK")
    assert alice.wait_response(final=True).status == 200


def test_sips_relay(sipsgate_factory, udp_backend, phone_factory):
    gate = sipsgate_factory(udp_uri(udp_backend), sips_plain_backend="relay")
    alice = phone_factory(gate, "alice")
    request = alice.build_register(request_uri="sips:example.com")

    alice.send_message(request)
    forwarded, source = udp_backend.recv_request("REGISTER")

    assert forwarded.uri == "sips:example.com"
    udp_backend.reply(forwarded, source, 200, "OK")
    response = alice.wait_response(final=True)
    assert response.status == 200
