// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ERC165Checker} from "@openzeppelin/contracts/utils/introspection/ERC165Checker.sol";
import {RoleIds} from "./RoleIds.sol";

/// @title RoleGated
/// @notice Base of every platform contract whose functions are restricted to a role held in the
///         shared RoleHub.
/// @dev Reverts with OpenZeppelin's own `AccessControlUnauthorizedAccount(account, neededRole)`
///      so that clients decode one error for the hub and for every gated contract alike.
abstract contract RoleGated is RoleIds {
    bytes32 private constant _ADMIN_ROLE = 0x00;

    /// @notice The role hub this contract consults.
    IAccessControl public immutable roleHub;

    /// @notice `hub` does not implement IAccessControl (ERC-165).
    /// @param hub The rejected address.
    error NotARoleHub(address hub);

    /// @param hub Address of the platform's RoleHub.
    constructor(IAccessControl hub) {
        if (!ERC165Checker.supportsInterface(address(hub), type(IAccessControl).interfaceId)) {
            revert NotARoleHub(address(hub));
        }
        roleHub = hub;
    }

    /// @dev Restricts a function to holders of `role` in the hub.
    modifier onlyRole(bytes32 role) {
        if (!roleHub.hasRole(role, msg.sender)) {
            revert IAccessControl.AccessControlUnauthorizedAccount(msg.sender, role);
        }
        _;
    }

    /// @dev Restricts a function to holders of `role` or of the platform ADMIN role; the error
    ///      names `role`, the one an ordinary caller is expected to hold.
    modifier onlyRoleOrAdmin(bytes32 role) {
        if (!roleHub.hasRole(role, msg.sender) && !roleHub.hasRole(_ADMIN_ROLE, msg.sender)) {
            revert IAccessControl.AccessControlUnauthorizedAccount(msg.sender, role);
        }
        _;
    }
}
