// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {RoleGated} from "./RoleGated.sol";

/// @title AuditAnchors
/// @notice Anchors each audit partition (e.g. one day of telemetry) as a Merkle root plus the IPFS
///         CID of its snapshot, and lets anyone verify a single record against it on-chain.
/// @dev One leaf per record, `leaf = keccak256(bytes.concat(keccak256(record)))` (double-hashed
///      like OpenZeppelin's StandardMerkleTree), pairs hashed sorted (OpenZeppelin `MerkleProof`).
///      An anchor is never overwritten: anchoring a partition again appends a new version, which
///      must carry a reason that is not blank (see `BlankReason`). Versions are numbered from 1
///      and all remain readable.
contract AuditAnchors is RoleGated {
    using EnumerableSet for EnumerableSet.StringSet;

    /// @notice One anchored version of a partition.
    struct Anchor {
        bytes32 root;
        string cid;
        address publisher;
        uint64 recordCount;
        uint64 timestamp;
        uint64 blockNumber;
        string reason;
    }

    mapping(string partition => Anchor[]) private _versions;
    EnumerableSet.StringSet private _partitions;

    /// @notice The partition key is empty.
    error EmptyPartition();
    /// @notice The Merkle root is zero.
    error EmptyRoot();
    /// @notice The snapshot CID is empty.
    error EmptyCid();
    /// @notice A partition without records has no Merkle root to anchor.
    error ZeroRecords();
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
    /// @notice No anchor exists for this partition and version.
    error UnknownAnchor(string partition, uint256 version);

    /// @notice A partition was anchored (version 1) or re-anchored (version > 1, with a reason).
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
    /// @param recordCount Number of records (leaves) under `root`.
    /// @param reason Why a new version is anchored; required, and not blank, when the partition
    ///        already has one.
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
        Anchor[] storage versions = _versions[partition];
        uint256 existing = versions.length;
        if (existing == 0) {
            _partitions.add(partition);
        } else {
            if (bytes(reason).length == 0) revert ReasonRequired(partition, existing);
            if (_mayBeBlank(reason) && _isBlank(bytes(reason))) {
                revert BlankReason(partition, existing);
            }
            Anchor storage latest = versions[existing - 1];
            if (latest.root == root && keccak256(bytes(latest.cid)) == keccak256(bytes(cid))) {
                revert DuplicateAnchor(partition, existing);
            }
        }
        versions.push(
            Anchor({
                root: root,
                cid: cid,
                publisher: msg.sender,
                recordCount: recordCount,
                timestamp: uint64(block.timestamp),
                blockNumber: uint64(block.number),
                reason: reason
            })
        );
        version = existing + 1;
        emit Anchored(
            keccak256(bytes(partition)), version, msg.sender, partition, root, cid, recordCount, reason
        );
    }

    /// @notice Number of versions anchored for a partition (0 if never anchored).
    /// @param partition Partition key.
    function versionCount(string calldata partition) external view returns (uint256) {
        return _versions[partition].length;
    }

    /// @notice Returns one version of a partition's anchor.
    /// @param partition Partition key.
    /// @param version Version number, starting at 1.
    function getAnchor(string calldata partition, uint256 version)
        external
        view
        returns (Anchor memory)
    {
        return _anchor(partition, version);
    }

    /// @notice Returns the latest version of a partition's anchor; reverts with
    ///         `UnknownAnchor(partition, 0)` if the partition was never anchored.
    /// @param partition Partition key.
    /// @return version The latest version number.
    /// @return latest The anchor itself.
    function latestAnchor(string calldata partition)
        external
        view
        returns (uint256 version, Anchor memory latest)
    {
        version = _versions[partition].length;
        latest = _anchor(partition, version);
    }

    /// @notice Returns every version of a partition's anchor, oldest first.
    /// @param partition Partition key.
    function anchorVersions(string calldata partition) external view returns (Anchor[] memory) {
        return _versions[partition];
    }

    /// @notice Number of distinct partitions anchored.
    function partitionCount() external view returns (uint256) {
        return _partitions.length();
    }

    /// @notice Partition keys in `[start, end)` of first-anchoring order (bounded paging).
    /// @param start First index, inclusive.
    /// @param end Last index, exclusive; clamped to `partitionCount()`.
    function partitions(uint256 start, uint256 end) external view returns (string[] memory) {
        return _partitions.values(start, end);
    }

    /// @notice The Merkle leaf of a raw canonical record: `keccak256(bytes.concat(keccak256(record)))`.
    /// @param record The record's canonical bytes.
    function recordLeaf(bytes calldata record) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(record)));
    }

    /// @notice Verifies that `leaf` is in the Merkle tree anchored for `partition` at `version`.
    /// @param partition Partition key.
    /// @param version Version number, starting at 1.
    /// @param leaf The double-hashed leaf (see `recordLeaf`).
    /// @param proof Sibling hashes from the leaf up to the root.
    /// @return True if the proof leads to the anchored root.
    function verifyLeaf(
        string calldata partition,
        uint256 version,
        bytes32 leaf,
        bytes32[] calldata proof
    ) public view returns (bool) {
        return MerkleProof.verifyCalldata(proof, _anchor(partition, version).root, leaf);
    }

    /// @notice Verifies a raw canonical record against the root anchored for `partition` at
    ///         `version`; the leaf is computed here, so the caller cannot submit a forged leaf.
    /// @param partition Partition key.
    /// @param version Version number, starting at 1.
    /// @param record The record's canonical bytes.
    /// @param proof Sibling hashes from the leaf up to the root.
    /// @return True if the record is part of the anchored snapshot.
    function verifyRecord(
        string calldata partition,
        uint256 version,
        bytes calldata record,
        bytes32[] calldata proof
    ) external view returns (bool) {
        return verifyLeaf(partition, version, recordLeaf(record), proof);
    }

    function _anchor(string calldata partition, uint256 version)
        private
        view
        returns (Anchor storage)
    {
        Anchor[] storage versions = _versions[partition];
        if (version == 0 || version > versions.length) revert UnknownAnchor(partition, version);
        return versions[version - 1];
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
