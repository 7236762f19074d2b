"""The IPFS interface the platform calls, and its two implementations.

* :class:`EmbeddedIpfs` — the default: our UnixFS importer over a blockstore folder. No daemon,
  no network; CIDs identical to Kubo's ``ipfs add``; a CAR export hands the data to any Kubo
  node or pinning service.
* :class:`KuboIpfs` — a real Kubo node through its RPC API with ``ipfshttpclient``. Selected when
  ``DT_IPFS_API`` is set. Every call passes ``cid-version`` and ``raw-leaves`` explicitly (the
  client otherwise sends ``raw-leaves=false``), so both backends give the same CID for the same
  content.

Both raise the :mod:`dt_platform.trust.ipfs.errors` family: :class:`IpfsUnavailable` when Kubo
cannot be reached (retry later), :class:`IpfsNotFound` for unknown CIDs/paths,
:class:`IpfsError` for the rest.
"""

from dt_platform.trust.ipfs.backends.embedded import EMBEDDED_VERSION, EmbeddedIpfs
from dt_platform.trust.ipfs.backends.factory import open_ipfs
from dt_platform.trust.ipfs.backends.interface import AddEntry, IpfsStore
from dt_platform.trust.ipfs.backends.kubo import KuboIpfs, api_to_multiaddr

__all__ = [
    "EMBEDDED_VERSION",
    "AddEntry",
    "EmbeddedIpfs",
    "IpfsStore",
    "KuboIpfs",
    "api_to_multiaddr",
    "open_ipfs",
]
