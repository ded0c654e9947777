// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// The ERC-777 operator surface only: an authorized operator may move every token of the
/// holder. Test-only (issue 9, class 3).
contract Erc777Lite {
    event AuthorizedOperator(address indexed operator, address indexed holder);
    event RevokedOperator(address indexed operator, address indexed holder);

    mapping(address => mapping(address => bool)) public isOperatorFor;

    function authorizeOperator(address operator) external {
        isOperatorFor[msg.sender][operator] = true;
        emit AuthorizedOperator(operator, msg.sender);
    }

    function revokeOperator(address operator) external {
        isOperatorFor[msg.sender][operator] = false;
        emit RevokedOperator(operator, msg.sender);
    }
}
