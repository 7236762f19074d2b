"""``/api/v0/add``: stream multipart files into the importer and build the directories Kubo would.

Files are imported as their parts arrive (flat ``dir%2Ffile`` names, in any order); directories
are built once the body is read, children sorted by name bytes as Kubo sorts them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from dt_platform.trust.ipfs.backends import EmbeddedIpfs
from dt_platform.trust.ipfs.cids import CidError, cid_to_str
from dt_platform.trust.ipfs.kubo_rpc_server.errors import ClientError
from dt_platform.trust.ipfs.kubo_rpc_server.multipart import Part
from dt_platform.trust.ipfs.kubo_rpc_server.params import flag
from dt_platform.trust.ipfs.unixfs import ImportedNode, ImportOptions, UnixFSImporter


def _clean_path(name: str) -> list[str]:
    segments = [seg for seg in name.split("/") if seg not in ("", ".")]
    if any(seg == ".." for seg in segments):
        raise ClientError(f"refusing path {name!r}: '..' is not allowed")
    return segments


@dataclass
class _Dir:
    children: dict[str, _Dir | ImportedNode] = field(default_factory=dict)

    def parent_of(self, segments: list[str]) -> _Dir:
        """The directory that holds ``segments[-1]``, creating the ones on the way."""
        node = self
        for seg in segments[:-1]:
            child = node.children.get(seg)
            if not isinstance(child, _Dir):  # implicit directory, as Kubo creates
                child = _Dir()
                node.children[seg] = child
            node = child
        return node


def _import_options(params: dict[str, str]) -> ImportOptions:
    hash_fn = params.get("hash", "sha2-256")
    if "cid-version" in params:
        try:
            cid_version = int(params["cid-version"])
        except ValueError:
            raise ClientError(
                f"cid-version must be 0 or 1, got {params['cid-version']!r}"
            ) from None
    else:
        cid_version = 0 if hash_fn == "sha2-256" else 1  # Kubo: non-sha256 implies CIDv1
    raw_leaves = flag(params, "raw-leaves", False) if "raw-leaves" in params else None
    chunker = params.get("chunker", "size-262144")
    if not chunker.startswith("size-"):
        raise ClientError(f"chunker {chunker!r} is not supported here: only size-N")
    try:
        chunk_size = int(chunker[len("size-") :])
    except ValueError:
        raise ClientError(f"bad chunker {chunker!r}") from None
    for unsupported in ("nocopy", "inline", "fscache"):
        if flag(params, unsupported, False):
            raise ClientError(f'option "{unsupported}" is not supported by the embedded store')
    try:
        return ImportOptions(
            cid_version=cid_version,
            raw_leaves=raw_leaves,
            chunk_size=chunk_size,
            layout="trickle" if flag(params, "trickle", False) else "balanced",
            hash_function=hash_fn,
        )
    except (ValueError, CidError) as exc:
        raise ClientError(str(exc)) from exc


def handle_add(store: EmbeddedIpfs, params: dict[str, str], parts: Iterator[Part]) -> list[dict]:
    """Import every part, then build directories; return Kubo's output lines (root last)."""
    options = _import_options(params)
    only_hash = flag(params, "only-hash", False)
    pin = flag(params, "pin", True)
    wrap = flag(params, "wrap-with-directory", False)
    quieter = flag(params, "quieter", False)
    importer = UnixFSImporter(options, sink=None if only_hash else store.blocks)

    top = _Dir()
    lines = _import_parts(importer, parts, top)
    if not top.children:
        raise ClientError("no files in the request body")
    roots = _build_roots(importer, top, wrap, lines)
    if pin and not only_hash:
        for _, node in roots:
            store.blocks.pin(node.cid)
    if quieter:
        root_names = {name for name, _ in roots}
        lines = [line for line in lines if line["Name"] in root_names]
    return lines


def _import_parts(importer: UnixFSImporter, parts: Iterator[Part], top: _Dir) -> list[dict]:
    """Import each file of the request into ``top``; one output line per file, in request order."""
    lines: list[dict] = []
    for part in parts:
        segments = _clean_path(part.filename)
        kind = part.content_type
        if kind in ("application/x-directory", "multipart/form-data", "multipart/mixed"):
            if not segments:
                continue
            parent = top.parent_of(segments)
            if not isinstance(parent.children.get(segments[-1]), _Dir):
                parent.children[segments[-1]] = _Dir()
            continue
        if kind == "application/symlink":
            node = importer.import_symlink(part.stream.read().decode("utf-8", "surrogateescape"))
        else:
            node = importer.import_reader(part.stream)  # type: ignore[arg-type]
        if not segments:  # an unnamed upload is named by its CID, as Kubo does
            segments = [cid_to_str(node.cid)]
        top.parent_of(segments).children[segments[-1]] = node
        lines.append(_line("/".join(segments), node))
    return lines


def _name_order(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


def _build(importer: UnixFSImporter, d: _Dir, prefix: str, lines: list[dict]) -> ImportedNode:
    """The directory node of ``d``, its subdirectories first (each adds its output line)."""
    entries: dict[str, ImportedNode] = {}
    for name in sorted(d.children, key=_name_order):
        child = d.children[name]
        if isinstance(child, _Dir):
            path = f"{prefix}/{name}" if prefix else name
            child = _build(importer, child, path, lines)
            lines.append(_line(path, child))
        entries[name] = child
    return importer.build_directory(entries)


def _build_roots(
    importer: UnixFSImporter, top: _Dir, wrap: bool, lines: list[dict]
) -> list[tuple[str, ImportedNode]]:
    """What the request added at the top level (one wrapping directory with ``wrap``)."""
    if wrap:
        root = _build(importer, top, "", lines)
        lines.append(_line("", root))
        return [("", root)]
    roots: list[tuple[str, ImportedNode]] = []
    for name in sorted(top.children, key=_name_order):
        child = top.children[name]
        if isinstance(child, _Dir):
            child = _build(importer, child, name, lines)
            lines.append(_line(name, child))
        roots.append((name, child))
    return roots


def _line(name: str, node: ImportedNode) -> dict:
    return {"Name": name, "Hash": cid_to_str(node.cid), "Size": str(node.tsize)}
