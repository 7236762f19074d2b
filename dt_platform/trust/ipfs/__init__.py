"""IPFS for dt-platform: an embedded content store with Kubo-identical CIDs, CAR files, and Kubo.

Everyday use goes through :func:`open_ipfs` and the :class:`IpfsStore` interface::

    from dt_platform.config import load_settings
    from dt_platform.trust.ipfs import open_ipfs

    ipfs = open_ipfs(load_settings())          # embedded store, or Kubo when DT_IPFS_API is set
    cid = ipfs.add_path(snapshot_dir)          # CIDv1, identical to `ipfs add -r --cid-version=1`
    manifest = ipfs.cat(f"{cid}/manifest.json")

Modules: :mod:`.unixfs` (importer), :mod:`.reader` (cat, paths), :mod:`.blockstore` (disk),
:mod:`.car` (CARv1), :mod:`.backends` (the two stores), :mod:`.kubo_rpc_server` (Kubo RPC over
the embedded store), :mod:`.cli` (``dt-platform ipfs``).
"""

from dt_platform.trust.ipfs.backends import (
    EMBEDDED_VERSION,
    AddEntry,
    EmbeddedIpfs,
    IpfsStore,
    KuboIpfs,
    open_ipfs,
)
from dt_platform.trust.ipfs.car import CarError, export_car, import_car
from dt_platform.trust.ipfs.cids import CidError
from dt_platform.trust.ipfs.errors import IpfsError, IpfsNotFound, IpfsUnavailable
from dt_platform.trust.ipfs.unixfs import DirectoryTooLarge, ImportOptions, UnixFSImporter

__all__ = [
    "EMBEDDED_VERSION",
    "AddEntry",
    "CarError",
    "CidError",
    "DirectoryTooLarge",
    "EmbeddedIpfs",
    "ImportOptions",
    "IpfsError",
    "IpfsNotFound",
    "IpfsStore",
    "IpfsUnavailable",
    "KuboIpfs",
    "UnixFSImporter",
    "export_car",
    "import_car",
    "open_ipfs",
]
