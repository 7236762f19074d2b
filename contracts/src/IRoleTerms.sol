// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IRoleTerms
/// @notice Tells a holding of a role apart from an earlier holding of the same role by the same
///         account, so that what an account did while holding a role can end with that holding.
/// @dev Implemented by RoleHub; DataGrants uses it to end a grant when its granter's MANAGER role
///      ends, for good, even if the role is granted to the granter again later.
interface IRoleTerms {
    /// @notice The term during which `account` holds `role`: 0 while it does not hold the role,
    ///         otherwise the number of times the role has been granted to it (1 for the first
    ///         holding, 2 after it was revoked and granted again, …).
    /// @param role Role id.
    /// @param account Account to look up.
    function roleTerm(bytes32 role, address account) external view returns (uint32);
}
