// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Reverter — every way a call can fail, for simulation and error-decoding tests.
contract Reverter {
    error Nope(uint256 code);

    event Received(address indexed from, uint256 value);

    /// @notice Reverts with Error("always fails").
    function fail() external pure {
        revert("always fails");
    }

    /// @notice Reverts with Panic(0x12) (division by zero).
    function panic() external pure returns (uint256) {
        uint256 zero = 0;
        return 1 / zero;
    }

    /// @notice Reverts with the custom error Nope(42).
    function custom() external pure {
        revert Nope(42);
    }

    /// @notice Accepts ETH.
    function sink() external payable {
        emit Received(msg.sender, msg.value);
    }
}
