// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ERC165Checker} from "@openzeppelin/contracts/utils/introspection/ERC165Checker.sol";
import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {IRoleTerms} from "./IRoleTerms.sol";
import {RoleGated} from "./RoleGated.sol";

/// @title DataGrants
/// @notice Time-limited data-sharing grants: a MANAGER shares a dataset (e.g. production figures)
///         with an account (QC staff, a supplier) until an expiry time, at most
///         `MAX_GRANT_DURATION` ahead. A grant lasts only as long as its granter's MANAGER role:
///         when that role is revoked or renounced, every grant the granter made ends, for good.
/// @dev Access holds while `block.timestamp < expiresAt` and the granter still serves the MANAGER
///      term (RoleHub's `roleTerm`) in which it granted; a MANAGER granted the role again starts a
///      new term, so grants of an earlier term stay ended. That end is read, not written: no
///      event marks it (the hub's `RoleRevoked` does). Expired and ended grants stay listed (with
///      their expiry and granter) until revoked, so who could see what remains readable.
contract DataGrants is RoleGated {
    using EnumerableSet for EnumerableSet.AddressSet;
    using EnumerableSet for EnumerableSet.StringSet;

    /// @notice Longest a grant may run: its expiry is at most this far after the block time.
    uint64 public constant MAX_GRANT_DURATION = 366 days;

    /// @notice One grantee of a dataset: until when, granted by whom, and whether it holds now.
    struct Grant {
        address grantee;
        uint64 expiresAt;
        address grantedBy;
        bool active;
    }

    /// @dev One storage slot per grant.
    struct Record {
        uint64 expiresAt;
        address grantedBy;
        uint32 managerTerm;
    }

    IRoleTerms private immutable _terms;
    mapping(string dataset => mapping(address grantee => Record)) private _records;
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
    /// @notice The expiry is further ahead than `MAX_GRANT_DURATION`.
    /// @param expiresAt The rejected expiry (unix seconds).
    /// @param latestAllowed The latest expiry allowed now (block time + `MAX_GRANT_DURATION`).
    error ExpiryTooLate(uint64 expiresAt, uint256 latestAllowed);
    /// @notice There is no grant of `dataset` to `grantee` to revoke.
    error NoSuchGrant(string dataset, address grantee);

    /// @notice A grant was created, or renewed (new expiry, and the renewing MANAGER as granter).
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

    /// @param hub The platform RoleHub (must also implement `IRoleTerms`).
    constructor(IAccessControl hub) RoleGated(hub) {
        if (!ERC165Checker.supportsInterface(address(hub), type(IRoleTerms).interfaceId)) {
            revert NotARoleHub(address(hub));
        }
        _terms = IRoleTerms(address(hub));
    }

    /// @notice Shares `dataset` with `grantee` until `expiresAt`; granting again renews the grant
    ///         (new expiry, and the caller becomes its granter). Only a MANAGER may grant.
    /// @param dataset Dataset id, e.g. "production/smt_placer".
    /// @param grantee Account receiving access.
    /// @param expiresAt Unix time (seconds) at which access ends: after the block time, and at
    ///        most `MAX_GRANT_DURATION` after it.
    function grantAccess(string calldata dataset, address grantee, uint64 expiresAt)
        external
        onlyRole(MANAGER_ROLE)
    {
        if (bytes(dataset).length == 0) revert EmptyDataset();
        if (grantee == address(0)) revert ZeroGrantee();
        if (expiresAt <= block.timestamp) revert ExpiryNotInFuture(expiresAt, block.timestamp);
        uint256 latestAllowed = block.timestamp + MAX_GRANT_DURATION;
        if (expiresAt > latestAllowed) revert ExpiryTooLate(expiresAt, latestAllowed);
        uint32 term = _terms.roleTerm(MANAGER_ROLE, msg.sender);
        _records[dataset][grantee] = Record(expiresAt, msg.sender, term);
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
        delete _records[dataset][grantee];
        emit AccessRevoked(keccak256(bytes(dataset)), grantee, msg.sender, dataset);
    }

    /// @notice Whether `account` may read `dataset` now: granted, not expired, and its granter
    ///         still holds the MANAGER role it held when granting.
    /// @param dataset Dataset id.
    /// @param account Account to check.
    function hasAccess(string calldata dataset, address account) external view returns (bool) {
        return _holds(_records[dataset][account]);
    }

    /// @notice Expiry of the grant of `dataset` to `account` (0 if none), whether or not it holds.
    /// @param dataset Dataset id.
    /// @param account Grantee.
    function expiryOf(string calldata dataset, address account) external view returns (uint64) {
        return _records[dataset][account].expiresAt;
    }

    /// @notice Every grant of a dataset, expired and ended ones included, in no particular order.
    /// @param dataset Dataset id.
    function grantsOf(string calldata dataset) external view returns (Grant[] memory grants) {
        address[] memory grantees = _grantees[dataset].values();
        grants = new Grant[](grantees.length);
        for (uint256 i = 0; i < grantees.length; ++i) {
            Record memory r = _records[dataset][grantees[i]];
            grants[i] = Grant(grantees[i], r.expiresAt, r.grantedBy, _holds(r));
        }
    }

    /// @notice Datasets shared with `account`, expired and ended grants included, in no
    ///         particular order.
    /// @param account Grantee.
    function datasetsOf(address account) external view returns (string[] memory) {
        return _datasets[account].values();
    }

    function _holds(Record memory r) private view returns (bool) {
        return block.timestamp < r.expiresAt
            && _terms.roleTerm(MANAGER_ROLE, r.grantedBy) == r.managerTerm;
    }
}
