// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

interface IERC20Like {
    function transferFrom(address from, address to, uint256 value) external returns (bool);
}

interface IERC721Like {
    function transferFrom(address from, address to, uint256 tokenId) external;
}

/// @title Puller — a contract that pulls approved funds (for security tests).
/// @notice Anyone may call it: it takes whatever `from` approved to this contract and keeps it,
/// which is exactly the risk an unlimited approval to an unknown contract carries.
contract Puller {
    event Pulled(address indexed token, address indexed from, uint256 amount);
    event PulledNft(address indexed nft, address indexed from, uint256 tokenId);

    error TransferFailed(address token, address from, uint256 amount);

    function pull(address token, address from, uint256 amount) external {
        // Accept tokens that return nothing (USDT-style) as well as those returning true.
        (bool ok, bytes memory ret) = token.call(
            abi.encodeCall(IERC20Like.transferFrom, (from, address(this), amount))
        );
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        if (ret.length != 0 && !abi.decode(ret, (bool))) {
            revert TransferFailed(token, from, amount);
        }
        emit Pulled(token, from, amount);
    }

    function pullNft(address nft, address from, uint256 tokenId) external {
        // Plain transferFrom: this contract has no onERC721Received, and needs none for it.
        IERC721Like(nft).transferFrom(from, address(this), tokenId);
        emit PulledNft(nft, from, tokenId);
    }
}
