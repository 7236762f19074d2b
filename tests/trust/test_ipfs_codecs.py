"""Protobuf (dag-pb, UnixFS), DAG-CBOR and CID helpers: exact bytes and round trips."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dt_platform.trust.ipfs import dagcbor
from dt_platform.trust.ipfs.cids import (
    DAG_PB,
    RAW,
    SHA2_256,
    BlockVerificationError,
    CidError,
    cid_from_str,
    cid_to_str,
    make_cid,
    parse_cid,
    verify_block,
)
from dt_platform.trust.ipfs.dagpb import (
    DagPbError,
    PBLink,
    UnixFSData,
    UnixFSType,
    decode_pbnode,
    decode_unixfs,
    decode_varint,
    encode_pbnode,
    encode_unixfs,
    encode_varint,
)

HELLO_V0 = "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD"  # "hello world", Kubo add_test.go


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_varint_round_trip(n: int) -> None:
    enc = encode_varint(n)
    assert decode_varint(enc) == (n, len(enc))


def test_varint_rejects_bad_input() -> None:
    assert encode_varint(300) == b"\xac\x02"
    with pytest.raises(DagPbError, match="truncated"):
        decode_varint(b"\x80")
    with pytest.raises(DagPbError, match="non-minimal"):
        decode_varint(b"\x81\x00")
    with pytest.raises(ValueError):
        encode_varint(-1)


def test_file_leaf_bytes_are_exactly_kubos() -> None:
    """The block Kubo stores for `ipfs add` of "hello world": PBNode{Data: UnixFS{File, Data,
    filesize}}; its sha256 is the digest inside Kubo's CID."""
    unixfs = encode_unixfs(UnixFSData(UnixFSType.FILE, data=b"hello world", filesize=11))
    assert unixfs == b"\x08\x02\x12\x0bhello world\x18\x0b"
    block = encode_pbnode([], unixfs)
    assert block == b"\x0a\x11" + unixfs
    assert cid_to_str(make_cid(0, DAG_PB, SHA2_256, hashlib.sha256(block).digest())) == HELLO_V0


def test_links_are_written_before_data_and_name_always_present() -> None:
    child = make_cid(1, RAW, SHA2_256, hashlib.sha256(b"x").digest())
    block = encode_pbnode([PBLink(child, "", 1)], b"\x08\x02")
    # field 2 (Links) first: Hash, empty Name (0x12 0x00), Tsize; then field 1 (Data)
    assert block[0] == 0x12
    assert b"\x12\x00\x18\x01" in block
    assert block.endswith(b"\x0a\x02\x08\x02")
    node = decode_pbnode(block)
    assert node.links == (PBLink(child, "", 1),)
    assert node.data == b"\x08\x02"


def test_decoder_enforces_dag_pb_rules() -> None:
    with pytest.raises(DagPbError, match="before Data"):
        decode_pbnode(b"\x0a\x00" + b"\x12\x02\x0a\x00")
    with pytest.raises(DagPbError, match="missing Hash"):
        decode_pbnode(b"\x12\x02\x18\x01")
    with pytest.raises(DagPbError, match="runs past"):
        decode_pbnode(b"\x0a\x05ab")
    with pytest.raises(DagPbError, match="missing required Type"):
        decode_unixfs(b"\x18\x01")


def test_unixfs_blocksizes_are_not_packed() -> None:
    msg = UnixFSData(UnixFSType.FILE, filesize=3, blocksizes=(1, 2))
    enc = encode_unixfs(msg)
    assert enc == b"\x08\x02\x18\x03\x20\x01\x20\x02"
    assert decode_unixfs(enc) == msg
    assert decode_unixfs(b"\x08\x02\x22\x02\x01\x02").blocksizes == (1, 2)  # packed tolerated


names = st.text(min_size=0, max_size=20)
links = st.lists(
    st.builds(
        PBLink,
        st.binary(min_size=32, max_size=32).map(lambda d: make_cid(1, DAG_PB, SHA2_256, d)),
        names,
        st.integers(min_value=0, max_value=2**63),
    ),
    max_size=5,
)


@given(links, st.one_of(st.none(), st.binary(max_size=64)))
def test_pbnode_round_trip(links_: list[PBLink], data: bytes | None) -> None:
    node = decode_pbnode(encode_pbnode(links_, data))
    assert list(node.links) == links_
    assert node.data == data


@given(
    st.sampled_from(list(UnixFSType)),
    st.one_of(st.none(), st.binary(max_size=32)),
    st.one_of(st.none(), st.integers(min_value=0, max_value=2**40)),
    st.lists(st.integers(min_value=0, max_value=2**30), max_size=4),
)
def test_unixfs_round_trip(kind, data, filesize, blocksizes) -> None:
    msg = UnixFSData(kind, data=data, filesize=filesize, blocksizes=tuple(blocksizes))
    assert decode_unixfs(encode_unixfs(msg)) == msg


def test_cid_parsing_and_text_forms() -> None:
    raw = cid_from_str(HELLO_V0)
    info = parse_cid(raw)
    assert (info.version, info.codec, info.mh_code, len(info.digest)) == (0, DAG_PB, SHA2_256, 32)
    assert cid_from_str("/ipfs/" + HELLO_V0) == raw
    v1 = make_cid(1, DAG_PB, SHA2_256, info.digest)
    assert cid_to_str(v1).startswith("bafybei")
    assert cid_from_str(cid_to_str(v1)) == v1
    with pytest.raises(CidError):
        cid_from_str("not-a-cid")
    with pytest.raises(CidError, match="CIDv0"):
        make_cid(0, RAW, SHA2_256, info.digest)


def test_verify_block_detects_tampering() -> None:
    data = b"hello world"
    cid = make_cid(1, RAW, SHA2_256, hashlib.sha256(data).digest())
    verify_block(cid, data)
    with pytest.raises(BlockVerificationError):
        verify_block(cid, b"hello world!")
    identity = make_cid(1, RAW, 0x00, b"inline")
    verify_block(identity, b"inline")
    with pytest.raises(BlockVerificationError):
        verify_block(identity, b"other")


def test_dagcbor_canonical_encoding_and_links() -> None:
    link = dagcbor.CidLink(cid_from_str(HELLO_V0))
    obj = {"version": 1, "roots": [link]}
    enc = dagcbor.encode(obj)
    # keys sorted by length first: "roots" (5) before "version" (7)
    assert enc.index(b"roots") < enc.index(b"version")
    assert dagcbor.decode(enc) == {"roots": [link], "version": 1}
    assert list(dagcbor.iter_links({"a": [1, link], "b": {"c": link}})) == [link.cid, link.cid]
    with pytest.raises(dagcbor.CborError):
        dagcbor.decode(b"\x9f\x01\xff")  # indefinite-length array: not DAG-CBOR
    with pytest.raises(dagcbor.CborError):
        dagcbor.decode(enc + b"\x00")


@given(
    st.recursive(
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(min_value=-(2**63), max_value=2**64 - 1),
            st.binary(max_size=16),
            st.text(max_size=16),
        ),
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.text(max_size=8), children, max_size=4),
        ),
        max_leaves=12,
    )
)
def test_dagcbor_round_trip(obj) -> None:
    enc = dagcbor.encode(obj)
    assert dagcbor.encode(dagcbor.decode(enc)) == enc
