// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControlEnumerable} from "@openzeppelin/contracts/access/extensions/AccessControlEnumerable.sol";
import {RoleIds} from "./RoleIds.sol";

/// @title RoleHub
/// @notice The single place where dt-platform roles are granted and revoked. Every other
///         platform contract asks this hub whether an account holds a role, so granting a role
///         once applies to the whole platform and the dashboard reads one contract.
/// @dev Enumerable so members of a role can be listed on-chain (`getRoleMembers`). Every role is
///      administered by `DEFAULT_ADMIN_ROLE`; `RoleGranted` / `RoleRevoked` events (indexed role,
///      account and sender) come from OpenZeppelin's `AccessControl`.
contract RoleHub is AccessControlEnumerable, RoleIds {
    /// @notice The initial administrator is the zero address.
    error ZeroAdmin();

    /// @notice Creates the hub and makes `admin` the platform administrator.
    /// @param admin Account that receives `DEFAULT_ADMIN_ROLE` and so may grant every other role.
    constructor(address admin) {
        if (admin == address(0)) revert ZeroAdmin();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

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
}
