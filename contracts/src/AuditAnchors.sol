// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {RoleGated} from "./RoleGated.sol";

/// @title AuditAnchors
/// @notice Anchors each audit partition (e.g. one day of records) as a Merkle root plus the IPFS
///         CID of its snapshot, and lets anyone verify a single record against it on-chain.
/// @dev Cheap by design: one storage slot per anchored version, the *seal*
///      `keccak256(abi.encode(root, keccak256(bytes(cid))))`, which binds the Merkle root and the
///      CID's digest; the root, the full CID, the record count and the reason travel in the
///      `Anchored` event. A reader takes the CID from the event and checks it against the seal
///      (`matchesAnchor`, or recompute `anchorSeal`); `verifyRecord` recomputes the root from the
///      proof and checks it, with the CID, against the seal.
///      One leaf per record, `leaf = keccak256(bytes.concat(keccak256(record)))` (double-hashed
///      like OpenZeppelin's StandardMerkleTree), pairs hashed sorted (OpenZeppelin `MerkleProof`).
///      An anchor is never overwritten: anchoring a partition again appends a new version, which
///      must carry a reason that is not blank (see `BlankReason`). Versions are numbered from 1
///      and all remain readable.
contract AuditAnchors is RoleGated {
    /// @notice Longest partition key accepted, in bytes.
    uint256 public constant MAX_PARTITION_BYTES = 128;
    /// @notice Longest CID accepted, in bytes (a CIDv1 in base32 is about 60).
    uint256 public constant MAX_CID_BYTES = 128;
    /// @notice Longest reason accepted, in bytes.
    uint256 public constant MAX_REASON_BYTES = 2048;

    /// @dev keccak256(partition) => version (from 1) => seal; versions are contiguous, so the
    ///      first zero seal ends a partition's list.
    mapping(bytes32 partitionKey => mapping(uint256 version => bytes32 seal)) private _seals;

    /// @notice The partition key is empty.
    error EmptyPartition();
    /// @notice The Merkle root is zero.
    error EmptyRoot();
    /// @notice The snapshot CID is empty.
    error EmptyCid();
    /// @notice A partition without records has no Merkle root to anchor.
    error ZeroRecords();
    /// @notice A text argument is longer than the contract accepts.
    /// @param field "partition", "cid" or "reason".
    /// @param length Its length in bytes.
    /// @param maxLength The most accepted.
    error TooLong(string field, uint256 length, uint256 maxLength);
    /// @notice The partition is already anchored; a new version needs a non-empty reason.
    /// @param partition The partition key.
    /// @param latestVersion The version already anchored.
    error ReasonRequired(string partition, uint256 latestVersion);
    /// @notice The reason given for a new version is blank: only whitespace, control characters
    ///         or invisible Unicode spaces (e.g. U+00A0, U+200B, U+3000, U+FEFF).
    /// @param partition The partition key.
    /// @param latestVersion The version already anchored.
    error BlankReason(string partition, uint256 latestVersion);
    /// @notice The new version repeats the latest one (same root and CID): nothing to correct.
    error DuplicateAnchor(string partition, uint256 latestVersion);
    /// @notice No anchor exists for this partition and version (version 0: none at all).
    error UnknownAnchor(string partition, uint256 version);

    /// @notice A partition was anchored (version 1) or re-anchored (version > 1, with a reason).
    ///         The only place the full CID, the root, the record count and the reason are kept:
    ///         `anchorSeal(root, cid)` equals the seal stored for (partition, version).
    /// @param partitionKey keccak256 of `partition`, for filtering by topic.
    /// @param version The version this anchor created, from 1.
    /// @param publisher The OPERATOR that anchored.
    event Anchored(
        bytes32 indexed partitionKey,
        uint256 indexed version,
        address indexed publisher,
        string partition,
        bytes32 root,
        string cid,
        uint64 recordCount,
        string reason
    );

    /// @param hub The platform RoleHub.
    constructor(IAccessControl hub) RoleGated(hub) {}

    /// @notice Anchors a partition's Merkle root and snapshot CID. Only the pipeline publisher
    ///         (OPERATOR) may anchor.
    /// @param partition Partition key, e.g. "2026-11-20" or "telemetry/2026-11-20".
    /// @param root Merkle root over the partition's records.
    /// @param cid IPFS CID of the partition's snapshot.
    /// @param recordCount Number of records (leaves) under `root`; kept in the event only.
    /// @param reason Why a new version is anchored; required, and not blank, when the partition
    ///        already has one; kept in the event only.
    /// @return version The version number of this anchor, starting at 1.
    function anchor(
        string calldata partition,
        bytes32 root,
        string calldata cid,
        uint64 recordCount,
        string calldata reason
    ) external onlyRole(OPERATOR_ROLE) returns (uint256 version) {
        if (bytes(partition).length == 0) revert EmptyPartition();
        if (root == bytes32(0)) revert EmptyRoot();
        if (bytes(cid).length == 0) revert EmptyCid();
        if (recordCount == 0) revert ZeroRecords();
        if (bytes(partition).length > MAX_PARTITION_BYTES) {
            revert TooLong("partition", bytes(partition).length, MAX_PARTITION_BYTES);
        }
        if (bytes(cid).length > MAX_CID_BYTES) {
            revert TooLong("cid", bytes(cid).length, MAX_CID_BYTES);
        }
        if (bytes(reason).length > MAX_REASON_BYTES) {
            revert TooLong("reason", bytes(reason).length, MAX_REASON_BYTES);
        }
        bytes32 key = keccak256(bytes(partition));
        version = _append(partition, key, anchorSeal(root, cid), reason);
        emit Anchored(key, version, msg.sender, partition, root, cid, recordCount, reason);
    }

    /// @notice The seal an anchor of `root` and `cid` stores:
    ///         `keccak256(abi.encode(root, keccak256(bytes(cid))))`.
    /// @param root Merkle root over the partition's records.
    /// @param cid IPFS CID of the partition's snapshot.
    function anchorSeal(bytes32 root, string calldata cid) public pure returns (bytes32) {
        return keccak256(abi.encode(root, keccak256(bytes(cid))));
    }

    /// @notice Number of versions anchored for a partition (0 if never anchored).
    /// @param partition Partition key.
    function versionCount(string calldata partition) public view returns (uint256 count) {
        mapping(uint256 => bytes32) storage stored = _seals[keccak256(bytes(partition))];
        while (stored[count + 1] != bytes32(0)) ++count;
    }

    /// @notice The seal of one version of a partition's anchor.
    /// @param partition Partition key.
    /// @param version Version number, starting at 1.
    function sealOf(string calldata partition, uint256 version) public view returns (bytes32 seal) {
        seal = version == 0 ? bytes32(0) : _seals[keccak256(bytes(partition))][version];
        if (seal == bytes32(0)) revert UnknownAnchor(partition, version);
    }

    /// @notice The seals of every version of a partition, oldest first (empty if never anchored).
    /// @param partition Partition key.
    function seals(string calldata partition) external view returns (bytes32[] memory all) {
        all = new bytes32[](versionCount(partition));
        mapping(uint256 => bytes32) storage stored = _seals[keccak256(bytes(partition))];
        for (uint256 i = 0; i < all.length; ++i) {
            all[i] = stored[i + 1];
        }
    }

    /// @notice The latest version of a partition and its seal; reverts with
    ///         `UnknownAnchor(partition, 0)` if the partition was never anchored.
    /// @param partition Partition key.
    function latestSeal(string calldata partition)
        external
        view
        returns (uint256 version, bytes32 seal)
    {
        version = versionCount(partition);
        seal = sealOf(partition, version);
    }

    /// @notice Whether `root` and `cid` (e.g. read from an `Anchored` event) are what version
    ///         `version` of `partition` anchored; reverts with `UnknownAnchor` if there is no such
    ///         version.
    /// @param partition Partition key.
    /// @param version Version number, starting at 1.
    /// @param root The Merkle root claimed for that version.
    /// @param cid The snapshot CID claimed for that version.
    function matchesAnchor(
        string calldata partition,
        uint256 version,
        bytes32 root,
        string calldata cid
    ) external view returns (bool) {
        return sealOf(partition, version) == anchorSeal(root, cid);
    }

    /// @notice The Merkle leaf of a raw canonical record: `keccak256(bytes.concat(keccak256(record)))`.
    /// @param record The record's canonical bytes.
    function recordLeaf(bytes calldata record) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(record)));
    }

    /// @notice Verifies that `leaf` is in the Merkle tree anchored, with snapshot `cid`, for
    ///         `partition` at `version`: the root the proof leads to, sealed with `cid`, must be
    ///         the stored seal.
    /// @param partition Partition key.
    /// @param version Version number, starting at 1.
    /// @param cid The snapshot CID of that version (from its `Anchored` event).
    /// @param leaf The double-hashed leaf (see `recordLeaf`).
    /// @param proof Sibling hashes from the leaf up to the root.
    /// @return True if the proof leads to the anchored root.
    function verifyLeaf(
        string calldata partition,
        uint256 version,
        string calldata cid,
        bytes32 leaf,
        bytes32[] calldata proof
    ) public view returns (bool) {
        bytes32 root = MerkleProof.processProofCalldata(proof, leaf);
        return anchorSeal(root, cid) == sealOf(partition, version);
    }

    /// @notice Verifies a raw canonical record against the anchor of `partition` at `version`;
    ///         the leaf is computed here, so the caller cannot submit a forged leaf.
    /// @param partition Partition key.
    /// @param version Version number, starting at 1.
    /// @param cid The snapshot CID of that version (from its `Anchored` event).
    /// @param record The record's canonical bytes.
    /// @param proof Sibling hashes from the leaf up to the root.
    /// @return True if the record is part of the anchored snapshot.
    function verifyRecord(
        string calldata partition,
        uint256 version,
        string calldata cid,
        bytes calldata record,
        bytes32[] calldata proof
    ) external view returns (bool) {
        return verifyLeaf(partition, version, cid, recordLeaf(record), proof);
    }

    /// @dev Stores `seal` as the partition's next version, after the checks a new version must
    ///      pass (a reason that is not blank, a change from the latest version).
    function _append(string calldata partition, bytes32 key, bytes32 seal, string calldata reason)
        private
        returns (uint256 version)
    {
        mapping(uint256 => bytes32) storage stored = _seals[key];
        bytes32 previous;
        version = 1;
        for (bytes32 s = stored[1]; s != bytes32(0); s = stored[version]) {
            previous = s;
            ++version;
        }
        if (version > 1) {
            uint256 latest = version - 1;
            if (bytes(reason).length == 0) revert ReasonRequired(partition, latest);
            if (_mayBeBlank(reason) && _isBlank(bytes(reason))) {
                revert BlankReason(partition, latest);
            }
            if (previous == seal) revert DuplicateAnchor(partition, latest);
        }
        stored[version] = seal;
    }

    /// @dev False when `text` starts with a visible ASCII character, as nearly every reason does:
    ///      the cheap test that spares those the full scan of `_isBlank`.
    function _mayBeBlank(string calldata text) private pure returns (bool maybe) {
        assembly ("memory-safe") {
            let first := byte(0, calldataload(text.offset)) // 0 past the end of calldata
            maybe := or(lt(first, 0x21), gt(first, 0x7e))
        }
    }

    /// @dev True if `text` holds nothing a reader could see: ASCII controls and space, and the
    ///      UTF-8 encodings of U+0085, U+00A0, U+1680, U+180E, U+2000-U+200F, U+2028, U+2029,
    ///      U+202F, U+205F, U+2060, U+3000 and U+FEFF. Stops at the first visible character.
    function _isBlank(bytes calldata text) private pure returns (bool) {
        uint256 i = 0;
        while (i < text.length) {
            uint256 width = _invisibleWidth(text, i);
            if (width == 0) return false;
            i += width;
        }
        return true;
    }

    /// @dev Byte length of the invisible character starting at `text[i]`, 0 if it is visible.
    function _invisibleWidth(bytes calldata text, uint256 i) private pure returns (uint256) {
        uint8 b = uint8(text[i]);
        if (b <= 0x20 || b == 0x7f) return 1;
        if (b == 0xc2 && i + 1 < text.length) {
            uint8 c = uint8(text[i + 1]);
            return c == 0x85 || c == 0xa0 ? 2 : 0;
        }
        if (b < 0xe1 || b > 0xef || i + 2 >= text.length) return 0;
        uint24 cp = uint24(bytes3(text[i:i + 3]));
        bool invisible = cp == 0xe19a80 || cp == 0xe1a08e || (cp >= 0xe28080 && cp <= 0xe2808f)
            || cp == 0xe280a8 || cp == 0xe280a9 || cp == 0xe280af || cp == 0xe2819f
            || cp == 0xe281a0 || cp == 0xe38080 || cp == 0xefbbbf;
        return invisible ? 3 : 0;
    }
}
