// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {RoleGated} from "./RoleGated.sol";

/// @title DataGrants
/// @notice Time-limited data-sharing grants: a MANAGER shares a dataset (e.g. production figures)
///         with an account (QC staff, a supplier) until an expiry time.
/// @dev Access holds while `block.timestamp < expiresAt`. Expired grants stay listed (with their
///      expiry) until revoked, so the history of who could see what remains readable.
contract DataGrants is RoleGated {
    using EnumerableSet for EnumerableSet.AddressSet;
    using EnumerableSet for EnumerableSet.StringSet;

    /// @notice One grantee of a dataset and when the grant ends.
    struct Grant {
        address grantee;
        uint64 expiresAt;
    }

    mapping(string dataset => mapping(address grantee => uint64 expiresAt)) private _expiry;
    mapping(string dataset => EnumerableSet.AddressSet) private _grantees;
    mapping(address grantee => EnumerableSet.StringSet) private _datasets;

    /// @notice The dataset id is empty.
    error EmptyDataset();
    /// @notice The grantee is the zero address.
    error ZeroGrantee();
    /// @notice The expiry is not in the future.
    /// @param expiresAt The rejected expiry (unix seconds).
    /// @param blockTime The current block time.
    error ExpiryNotInFuture(uint64 expiresAt, uint256 blockTime);
    /// @notice There is no grant of `dataset` to `grantee` to revoke.
    error NoSuchGrant(string dataset, address grantee);

    /// @notice A grant was created or its expiry changed.
    event AccessGranted(
        bytes32 indexed datasetKey,
        address indexed grantee,
        address indexed grantedBy,
        string dataset,
        uint64 expiresAt
    );
    /// @notice A grant was revoked.
    event AccessRevoked(
        bytes32 indexed datasetKey, address indexed grantee, address indexed revokedBy, string dataset
    );

    /// @param hub The platform RoleHub.
    constructor(IAccessControl hub) RoleGated(hub) {}

    /// @notice Shares `dataset` with `grantee` until `expiresAt`; granting again changes the
    ///         expiry. Only a MANAGER may grant.
    /// @param dataset Dataset id, e.g. "production/smt_placer".
    /// @param grantee Account receiving access.
    /// @param expiresAt Unix time (seconds) at which access ends.
    function grantAccess(string calldata dataset, address grantee, uint64 expiresAt)
        external
        onlyRole(MANAGER_ROLE)
    {
        if (bytes(dataset).length == 0) revert EmptyDataset();
        if (grantee == address(0)) revert ZeroGrantee();
        if (expiresAt <= block.timestamp) revert ExpiryNotInFuture(expiresAt, block.timestamp);
        _expiry[dataset][grantee] = expiresAt;
        _grantees[dataset].add(grantee);
        _datasets[grantee].add(dataset);
        emit AccessGranted(keccak256(bytes(dataset)), grantee, msg.sender, dataset, expiresAt);
    }

    /// @notice Ends a grant immediately. Only a MANAGER may revoke.
    /// @param dataset Dataset id.
    /// @param grantee Account losing access.
    function revokeAccess(string calldata dataset, address grantee)
        external
        onlyRole(MANAGER_ROLE)
    {
        if (!_grantees[dataset].remove(grantee)) revert NoSuchGrant(dataset, grantee);
        _datasets[grantee].remove(dataset);
        delete _expiry[dataset][grantee];
        emit AccessRevoked(keccak256(bytes(dataset)), grantee, msg.sender, dataset);
    }

    /// @notice Whether `account` may read `dataset` now (granted and not expired).
    /// @param dataset Dataset id.
    /// @param account Account to check.
    function hasAccess(string calldata dataset, address account) external view returns (bool) {
        return block.timestamp < _expiry[dataset][account];
    }

    /// @notice Expiry of the grant of `dataset` to `account` (0 if none).
    /// @param dataset Dataset id.
    /// @param account Grantee.
    function expiryOf(string calldata dataset, address account) external view returns (uint64) {
        return _expiry[dataset][account];
    }

    /// @notice Every grant of a dataset, expired ones included, in no particular order.
    /// @param dataset Dataset id.
    function grantsOf(string calldata dataset) external view returns (Grant[] memory grants) {
        address[] memory grantees = _grantees[dataset].values();
        grants = new Grant[](grantees.length);
        for (uint256 i = 0; i < grantees.length; ++i) {
            grants[i] = Grant(grantees[i], _expiry[dataset][grantees[i]]);
        }
    }

    /// @notice Datasets shared with `account`, expired grants included, in no particular order.
    /// @param account Grantee.
    function datasetsOf(address account) external view returns (string[] memory) {
        return _datasets[account].values();
    }
}
