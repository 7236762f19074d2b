// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title RoleIds
/// @notice The role identifiers of dt-platform, shared by the role hub and every contract that
///         consults it, so a role means the same thing everywhere.
/// @dev ADMIN is OpenZeppelin's `DEFAULT_ADMIN_ROLE` (0x00) and is declared by `AccessControl`
///      itself, so it is not repeated here.
abstract contract RoleIds {
    /// @notice Pipeline publisher: anchors audit snapshots and maintains the twin registry.
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");
    /// @notice Plant manager: shares datasets with partners through data grants.
    bytes32 public constant MANAGER_ROLE = keccak256("MANAGER_ROLE");
    /// @notice Quality-control staff: read production figures shared with them.
    bytes32 public constant QC_ROLE = keccak256("QC_ROLE");
    /// @notice Maintenance staff: acknowledge alerts and issue commands to machines.
    bytes32 public constant MAINTAINER_ROLE = keccak256("MAINTAINER_ROLE");
    /// @notice Auditor: verifies snapshots and records against the anchors.
    bytes32 public constant AUDITOR_ROLE = keccak256("AUDITOR_ROLE");
    /// @notice Equipment supplier: sees the data of its own machines when granted.
    bytes32 public constant SUPPLIER_ROLE = keccak256("SUPPLIER_ROLE");
}
