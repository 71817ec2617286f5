"""What a Windows client offers: the default Schannel suite order per Windows version.

The lists are facts/suite_defaults.py (windows-schannel.md section 5). The 2012 R2
list keeps its curve-suffixed names; :func:`client_offer` folds them onto IANA IDs.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..facts import suite_defaults
from .suites import SSL2_ONLY_NAMES, suite_by_name
from .versions import TlsVersion

# One copy of the lists for the whole collection: the facts use them as the OS default
# when nothing else says what is in force, the prober as what a Windows client offers.
WINDOWS_2012R2 = suite_defaults.WINDOWS_2012_R2
WINDOWS_2016 = suite_defaults.WINDOWS_2016
WINDOWS_2019 = suite_defaults.WINDOWS_2019
WINDOWS_2022 = suite_defaults.WINDOWS_2022


def client_offer(names: Sequence[str], version: TlsVersion) -> tuple[int, ...]:
    """Suite IDs a Windows client with this list puts in a ClientHello for ``version``, in order.

    Curve-suffixed duplicates collapse to one ID; SSL 2.0-only kinds cannot
    appear in a TLS hello. NULL suites are left out: Schannel uses them only
    when an application asks for no encryption, and no SQL driver does
    (inference, consistent with Windows ClientHello captures that never list them).
    """
    offer: list[int] = []
    for name in names:
        if name in SSL2_ONLY_NAMES:
            continue
        suite = suite_by_name(name)
        if suite.cipher == "NULL" or not suite.negotiable_in(version) or suite.id in offer:
            continue
        offer.append(suite.id)
    return tuple(offer)
