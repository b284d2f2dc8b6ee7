"""The public-address rule of the platform's fetches: IPv6 forms that wrap a private or loopback
IPv4 address are not public (issue 14 item 11)."""

from __future__ import annotations

import pytest

from hostplane.addresses import is_public


@pytest.mark.parametrize(("address", "public"), [
    ("8.8.8.8", True), ("2606:4700:4700::1111", True),
    ("127.0.0.1", False), ("10.1.2.3", False), ("169.254.169.254", False), ("::1", False),
    ("fd00::1", False), ("224.0.0.1", False), ("0.0.0.0", False),
    ("64:ff9b::7f00:1", False), ("64:ff9b::a00:1", False), ("64:ff9b::a9fe:a9fe", False),
    ("64:ff9b:1::a00:1", False), ("64:ff9b::808:808", True),
    ("2002:7f00:1::", False), ("2002:a00:1::1", False), ("2002:808:808::1", True),
    ("::ffff:127.0.0.1", False), ("::ffff:10.0.0.1", False),
])
def test_wrapped_private_addresses_are_not_public(address, public):
    assert is_public(address) is public
