// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title NaiveRecordStore
/// @notice Benchmark-only contract (never deployed by the platform): stores every record hash
///         on-chain, to measure what anchoring a day record by record would cost compared with
///         one Merkle root per day.
contract NaiveRecordStore {
    /// @notice Every stored record hash, in arrival order.
    bytes32[] public records;

    /// @notice A batch of record hashes was stored.
    event RecordsStored(uint256 indexed firstIndex, uint256 indexed count);

    /// @notice Appends record hashes to storage, one slot each.
    /// @param hashes Record hashes to store.
    function store(bytes32[] calldata hashes) external {
        uint256 first = records.length;
        for (uint256 i = 0; i < hashes.length; ++i) {
            records.push(hashes[i]);
        }
        emit RecordsStored(first, hashes.length);
    }

    /// @notice Number of stored record hashes.
    function recordCount() external view returns (uint256) {
        return records.length;
    }
}
