// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ResetToken — test-only ERC-20 with USDT's approval rule.
/// @notice `approve` reverts unless the current allowance or the new value is zero (USDT's
/// race-condition guard): a short, non-zero allowance must be reset to 0 first. `mint` is open.
contract ResetToken {
    string public name = "Reset USD";
    string public symbol = "rUSD";
    uint8 public constant decimals = 6;
    uint256 public totalSupply;

    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    error AllowanceNotReset(uint256 current, uint256 value);
    error InsufficientBalance();
    error InsufficientAllowance();

    function mint(address to, uint256 value) external {
        totalSupply += value;
        balanceOf[to] += value;
        emit Transfer(address(0), to, value);
    }

    function approve(address spender, uint256 value) external returns (bool) {
        uint256 current = allowance[msg.sender][spender];
        if (current != 0 && value != 0) revert AllowanceNotReset(current, value);
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _move(msg.sender, to, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            if (allowed < value) revert InsufficientAllowance();
            allowance[from][msg.sender] = allowed - value;
        }
        _move(from, to, value);
        return true;
    }

    function _move(address from, address to, uint256 value) private {
        if (balanceOf[from] < value) revert InsufficientBalance();
        balanceOf[from] -= value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}
