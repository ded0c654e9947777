// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

interface IERC20Pull {
    function transferFrom(address from, address to, uint256 value) external returns (bool);
}

interface IERC721Move {
    function transferFrom(address from, address to, uint256 tokenId) external;
}

/// @title GuardProbe — adversarial shapes for the guard-mode policy tests (test only).
/// @notice Each function moves the CALLER's assets to parties the calldata does not name as
/// "the" recipient, or behaves differently once anyone calls `configure`.
contract GuardProbe {
    address public sink;
    uint256 public factor = 1;

    /// Forwards half of msg.value to `a`, the rest to `b`.
    function splitEth(address payable a, address payable b) external payable {
        uint256 half = msg.value / 2;
        (bool ok1, ) = a.call{value: half}("");
        (bool ok2, ) = b.call{value: msg.value - half}("");
        require(ok1 && ok2, "forward failed");
    }

    /// Pulls `amount` of the caller's `token` to `a` and again to `b` (needs an allowance).
    function splitToken(address token, address a, address b, uint256 amount) external {
        require(IERC20Pull(token).transferFrom(msg.sender, a, amount), "pull a");
        require(IERC20Pull(token).transferFrom(msg.sender, b, amount), "pull b");
    }

    /// Moves the caller's NFT `id` to `to` (needs an operator approval).
    function moveNft(address nft, address to, uint256 id) external {
        IERC721Move(nft).transferFrom(msg.sender, to, id);
    }

    /// Anyone may change where `take` sends and how much it takes: state the approver never saw.
    function configure(address newSink, uint256 newFactor) external {
        sink = newSink;
        factor = newFactor;
    }

    /// Takes `amount * factor` of the caller's `token` to `sink`.
    function take(address token, uint256 amount) external {
        require(IERC20Pull(token).transferFrom(msg.sender, sink, amount * factor), "take");
    }
}
