// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {RoleGated} from "./RoleGated.sol";

/// @title TwinRegistry
/// @notice Public register of the platform's digital twins: which machine type each twin models,
///         where its metadata lives (IPFS CID) and how mature it is.
/// @dev Maturity levels: 1 digital model, 2 digital shadow, 3 digital twin, 4 intelligent twin.
///      Written by the pipeline publisher (OPERATOR) or an ADMIN; readable by anyone.
contract TwinRegistry is RoleGated {
    using EnumerableSet for EnumerableSet.StringSet;

    /// @notice Lowest maturity level: a digital model (static description, no live data).
    uint8 public constant MATURITY_DIGITAL_MODEL = 1;
    /// @notice Highest maturity level: an intelligent twin (predicts and acts).
    uint8 public constant MATURITY_INTELLIGENT_TWIN = 4;

    /// @notice What the registry knows about one twin.
    struct Twin {
        string twinId;
        string machineType;
        string metadataCid;
        uint8 maturity;
        uint64 registeredAt;
        uint64 updatedAt;
        address updatedBy;
    }

    mapping(string twinId => Twin) private _twins;
    EnumerableSet.StringSet private _ids;

    /// @notice A twin with this id is already registered; use `updateTwin`.
    error TwinAlreadyRegistered(string twinId);
    /// @notice No twin is registered under this id.
    error UnknownTwin(string twinId);
    /// @notice Maturity must be between 1 and 4.
    error InvalidMaturity(uint8 maturity);
    /// @notice A required text field is empty.
    error EmptyField(string field);

    /// @notice A twin was added to the registry.
    event TwinRegistered(
        bytes32 indexed twinKey,
        uint8 indexed maturity,
        address indexed by,
        string twinId,
        string machineType,
        string metadataCid
    );
    /// @notice A twin's metadata or maturity changed.
    event TwinUpdated(
        bytes32 indexed twinKey,
        uint8 indexed maturity,
        address indexed by,
        string twinId,
        string metadataCid
    );

    /// @param hub The platform RoleHub.
    constructor(IAccessControl hub) RoleGated(hub) {}

    /// @notice Registers a new twin.
    /// @param twinId Platform-wide machine id, e.g. "smt_placer-01".
    /// @param machineType Machine type from the sensor catalogue, e.g. "smt_placer".
    /// @param metadataCid IPFS CID of the twin's metadata document (may be empty at first).
    /// @param maturity Maturity level, 1 to 4.
    function registerTwin(
        string calldata twinId,
        string calldata machineType,
        string calldata metadataCid,
        uint8 maturity
    ) external onlyRoleOrAdmin(OPERATOR_ROLE) {
        if (bytes(twinId).length == 0) revert EmptyField("twinId");
        if (bytes(machineType).length == 0) revert EmptyField("machineType");
        _checkMaturity(maturity);
        if (!_ids.add(twinId)) revert TwinAlreadyRegistered(twinId);
        uint64 nowTs = uint64(block.timestamp);
        _twins[twinId] = Twin(twinId, machineType, metadataCid, maturity, nowTs, nowTs, msg.sender);
        emit TwinRegistered(
            keccak256(bytes(twinId)), maturity, msg.sender, twinId, machineType, metadataCid
        );
    }

    /// @notice Updates the metadata CID and maturity of a registered twin; the machine type is
    ///         fixed at registration because a twin never changes what machine it models.
    /// @param twinId Id of a registered twin.
    /// @param metadataCid New metadata CID.
    /// @param maturity New maturity level, 1 to 4.
    function updateTwin(string calldata twinId, string calldata metadataCid, uint8 maturity)
        external
        onlyRoleOrAdmin(OPERATOR_ROLE)
    {
        if (!_ids.contains(twinId)) revert UnknownTwin(twinId);
        _checkMaturity(maturity);
        Twin storage twin = _twins[twinId];
        twin.metadataCid = metadataCid;
        twin.maturity = maturity;
        twin.updatedAt = uint64(block.timestamp);
        twin.updatedBy = msg.sender;
        emit TwinUpdated(keccak256(bytes(twinId)), maturity, msg.sender, twinId, metadataCid);
    }

    /// @notice Returns a registered twin; reverts with `UnknownTwin` if there is none.
    /// @param twinId Id of the twin.
    function getTwin(string calldata twinId) external view returns (Twin memory) {
        if (!_ids.contains(twinId)) revert UnknownTwin(twinId);
        return _twins[twinId];
    }

    /// @notice Whether a twin is registered under `twinId`.
    /// @param twinId Id of the twin.
    function isRegistered(string calldata twinId) external view returns (bool) {
        return _ids.contains(twinId);
    }

    /// @notice Number of registered twins.
    function twinCount() external view returns (uint256) {
        return _ids.length();
    }

    /// @notice Ids of the registered twins in `[start, end)` of registration order (bounded
    ///         paging, so large fleets can be listed without hitting the call gas limit).
    /// @param start First index, inclusive.
    /// @param end Last index, exclusive; clamped to `twinCount()`.
    function twinIds(uint256 start, uint256 end) external view returns (string[] memory) {
        return _ids.values(start, end);
    }

    function _checkMaturity(uint8 maturity) private pure {
        if (maturity < MATURITY_DIGITAL_MODEL || maturity > MATURITY_INTELLIGENT_TWIN) {
            revert InvalidMaturity(maturity);
        }
    }
}
