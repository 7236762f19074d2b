// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl, IAccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {AccessControlDefaultAdminRules} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {AccessControlEnumerable} from "@openzeppelin/contracts/access/extensions/AccessControlEnumerable.sol";
import {IRoleTerms} from "./IRoleTerms.sol";
import {RoleIds} from "./RoleIds.sol";

/// @title RoleHub
/// @notice The single place where dt-platform roles are granted and revoked. Every other
///         platform contract asks this hub whether an account holds a role, so granting a role
///         once applies to the whole platform and the dashboard reads one contract.
/// @dev ADMIN (`DEFAULT_ADMIN_ROLE`) follows OpenZeppelin's default-admin rules: exactly one
///      account holds it, it is never granted or revoked directly but handed over in two steps
///      (`beginDefaultAdminTransfer`, then `acceptDefaultAdminTransfer` by the new ADMIN after
///      `defaultAdminDelay()`), and here it can never be renounced or handed to the zero address,
///      so the platform always has an ADMIN whose key someone has proven to hold. ADMIN grants and
///      revokes every other role. Enumerable so members of a role can be listed on-chain
///      (`getRoleMembers`). `RoleGranted` / `RoleRevoked` and the handover events (indexed) come
///      from OpenZeppelin.
contract RoleHub is AccessControlDefaultAdminRules, AccessControlEnumerable, IRoleTerms, RoleIds {
    mapping(bytes32 role => mapping(address account => uint32 term)) private _terms;

    /// @notice The call would leave the platform without an ADMIN (renouncing ADMIN, or handing
    ///         it over to the zero address): hand ADMIN over to another account instead.
    error LastAdmin();

    /// @notice Creates the hub and makes `admin` the platform administrator.
    /// @param admin Account that receives `DEFAULT_ADMIN_ROLE` and so may grant every other role.
    /// @param adminDelay Seconds between starting an ADMIN handover and the earliest time the
    ///        new ADMIN may accept it.
    constructor(address admin, uint48 adminDelay) AccessControlDefaultAdminRules(adminDelay, admin) {}

    /// @notice Which platform roles `account` holds, in one call (the dashboard reads this on
    ///         every page).
    /// @param account Account to look up.
    /// @return held Flags in the order ADMIN, OPERATOR, MANAGER, QC, MAINTAINER, AUDITOR, SUPPLIER.
    function rolesOf(address account) external view returns (bool[7] memory held) {
        bytes32[7] memory ids = [
            DEFAULT_ADMIN_ROLE,
            OPERATOR_ROLE,
            MANAGER_ROLE,
            QC_ROLE,
            MAINTAINER_ROLE,
            AUDITOR_ROLE,
            SUPPLIER_ROLE
        ];
        for (uint256 i = 0; i < ids.length; ++i) {
            held[i] = hasRole(ids[i], account);
        }
    }

    /// @inheritdoc IRoleTerms
    function roleTerm(bytes32 role, address account) external view returns (uint32) {
        return hasRole(role, account) ? _terms[role][account] : 0;
    }

    /// @notice Grants `role` to `account` (ADMIN only); ADMIN itself is handed over, not granted.
    /// @param role Role to grant (not `DEFAULT_ADMIN_ROLE`).
    /// @param account Account receiving the role.
    function grantRole(bytes32 role, address account)
        public
        override(AccessControl, AccessControlDefaultAdminRules, IAccessControl)
    {
        super.grantRole(role, account);
    }

    /// @notice Revokes `role` from `account` (ADMIN only); ADMIN itself is handed over, not revoked.
    /// @param role Role to revoke (not `DEFAULT_ADMIN_ROLE`).
    /// @param account Account losing the role.
    function revokeRole(bytes32 role, address account)
        public
        override(AccessControl, AccessControlDefaultAdminRules, IAccessControl)
    {
        super.revokeRole(role, account);
    }

    /// @notice Renounces a role held by the caller; ADMIN cannot be renounced (hand it over).
    /// @param role Role to give up.
    /// @param account The caller's own address (OpenZeppelin's confirmation).
    function renounceRole(bytes32 role, address account)
        public
        override(AccessControl, AccessControlDefaultAdminRules, IAccessControl)
    {
        if (role == DEFAULT_ADMIN_ROLE && account == defaultAdmin()) revert LastAdmin();
        super.renounceRole(role, account);
    }

    /// @inheritdoc AccessControlEnumerable
    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(AccessControlDefaultAdminRules, AccessControlEnumerable)
        returns (bool)
    {
        return interfaceId == type(IRoleTerms).interfaceId || super.supportsInterface(interfaceId);
    }

    /// @dev Refuses a handover to the zero address, OpenZeppelin's way of renouncing ADMIN.
    function _beginDefaultAdminTransfer(address newAdmin) internal override {
        if (newAdmin == address(0)) revert LastAdmin();
        super._beginDefaultAdminTransfer(newAdmin);
    }

    /// @dev Every effective grant starts a new term of the role for the account.
    function _grantRole(bytes32 role, address account)
        internal
        override(AccessControlDefaultAdminRules, AccessControlEnumerable)
        returns (bool granted)
    {
        granted = super._grantRole(role, account);
        if (granted) ++_terms[role][account];
    }

    function _setRoleAdmin(bytes32 role, bytes32 adminRole)
        internal
        override(AccessControl, AccessControlDefaultAdminRules)
    {
        super._setRoleAdmin(role, adminRole);
    }

    function _revokeRole(bytes32 role, address account)
        internal
        override(AccessControlDefaultAdminRules, AccessControlEnumerable)
        returns (bool)
    {
        return super._revokeRole(role, account);
    }
}
