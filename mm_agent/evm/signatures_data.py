"""The curated signature table, as human-readable ABI fragments.

Plain data only (no imports), so ``signatures.py`` can parse it once at import. Each function
entry is ``(fragment, category, roles)`` where ``roles`` names, by dotted parameter path, who
receives value (``recipient``), who is granted an allowance (``spender``), which token is
concerned (``token``) and the raw amount (``amount``). In a path ``a.b`` walks a struct, ``a[]``
fans out over an array, ``@to`` means the called contract and a recipient of ``@self`` means the
value comes back to the caller (so nobody else receives it). ``nested`` names how inner calls
are carried (see ``decode.py``). ``intent`` is a template for the readable intent when it needs no
amount formatting: ``{param}`` is a top-level parameter, ``{_target}`` the called contract,
``{_inner}`` the inner calls' intents and ``{_count}`` their number.

Signatures checked against the verified sources: OpenZeppelin 5, Uniswap Permit2
(``IAllowanceTransfer`` / ``ISignatureTransfer``), Uniswap V2 Router02, V3 SwapRouter and
SwapRouter02, Universal Router ``Dispatcher``, Multicall3, Safe 1.4, ERC-7579 / EIP-7821.
"""

from __future__ import annotations

from typing import Any

# Shared struct fragments (Permit2 and Uniswap V3), spelled once.
_DETAILS = "(address token, uint160 amount, uint48 expiration, uint48 nonce)"
_PERMIT_SINGLE = f"({_DETAILS} details, address spender, uint256 sigDeadline)"
_PERMIT_BATCH = f"({_DETAILS}[] details, address spender, uint256 sigDeadline)"
_TOKEN_PERMS = "(address token, uint256 amount)"
_XFER_DETAILS = "(address to, uint256 requestedAmount)"
_PTF = f"({_TOKEN_PERMS} permitted, uint256 nonce, uint256 deadline)"
_PTF_BATCH = f"({_TOKEN_PERMS}[] permitted, uint256 nonce, uint256 deadline)"
_ALLOWANCE_XFER = "(address from, address to, uint160 amount, address token)"
_V3_IN_SINGLE = (
    "(address tokenIn, address tokenOut, uint24 fee, address recipient, uint256 deadline,"
    " uint256 amountIn, uint256 amountOutMinimum, uint160 sqrtPriceLimitX96)"
)
_V3_OUT_SINGLE = (
    "(address tokenIn, address tokenOut, uint24 fee, address recipient, uint256 deadline,"
    " uint256 amountOut, uint256 amountInMaximum, uint160 sqrtPriceLimitX96)"
)
_V3_IN_SINGLE_02 = (
    "(address tokenIn, address tokenOut, uint24 fee, address recipient, uint256 amountIn,"
    " uint256 amountOutMinimum, uint160 sqrtPriceLimitX96)"
)
_V3_OUT_SINGLE_02 = (
    "(address tokenIn, address tokenOut, uint24 fee, address recipient, uint256 amountOut,"
    " uint256 amountInMaximum, uint160 sqrtPriceLimitX96)"
)

_TO = {"recipient": "to"}
_NFT = "Transfer NFT #{tokenId} of {_target} from {from} to {to}"
_UR = {"nested": "universal_router", "intent": "Execute via Uniswap Universal Router: {_inner}"}
_MC3 = {"nested": "multicall3", "intent": "Batch {_count} calls via Multicall3: {_inner}"}
_MC = {"nested": "self_calls", "intent": "Multicall ({_count} calls): {_inner}"}
_ACCOUNT = "Execute from smart account {_target}: {_inner}"

FUNCTIONS: list[tuple[str, str, dict[str, Any]]] = [
    # --- ERC-20 (transferFrom/approve share selectors with ERC-721) -------------------------
    ("transfer(address to, uint256 amount)", "erc20",
     {"recipient": "to", "token": "@to", "amount": "amount"}),
    ("transferFrom(address from, address to, uint256 value)", "erc20",
     {"recipient": "to", "token": "@to", "amount": "value"}),
    ("approve(address spender, uint256 amount)", "erc20",
     {"spender": "spender", "token": "@to", "amount": "amount"}),
    ("increaseAllowance(address spender, uint256 addedValue)", "erc20",
     {"spender": "spender", "token": "@to", "amount": "addedValue"}),
    ("decreaseAllowance(address spender, uint256 subtractedValue)", "erc20",
     {"spender": "spender", "token": "@to", "amount": "subtractedValue"}),
    # --- ERC-721 / ERC-1155 ---------------------------------------------------------------
    ("safeTransferFrom(address from, address to, uint256 tokenId)", "erc721",
     {"recipient": "to", "token": "@to", "intent": _NFT}),
    ("safeTransferFrom(address from, address to, uint256 tokenId, bytes data)", "erc721",
     {"recipient": "to", "token": "@to", "intent": _NFT}),
    ("setApprovalForAll(address operator, bool approved)", "erc721",
     {"spender": "operator", "token": "@to"}),
    # --- ERC-777 operators (control of every token of the holder) -----------------------------
    ("authorizeOperator(address operator)", "erc777",
     {"spender": "operator", "token": "@to",
      "intent": "Authorize {operator} as operator of ALL your tokens of {_target} (ERC-777)"}),
    ("revokeOperator(address operator)", "erc777",
     {"token": "@to", "intent": "Revoke operator {operator} of token {_target} (ERC-777)"}),
    ("safeTransferFrom(address from, address to, uint256 id, uint256 amount, bytes data)",
     "erc1155", {"recipient": "to", "token": "@to", "amount": "amount",
                 "intent": "Transfer {amount} of token id {id} of {_target} from {from} to {to}"}),
    ("safeBatchTransferFrom(address from, address to, uint256[] ids, uint256[] amounts,"
     " bytes data)", "erc1155", {"recipient": "to", "token": "@to"}),
    # --- WETH ---------------------------------------------------------------------------------
    ("deposit()", "weth", {"recipient": "@self", "token": "@to"}),
    ("withdraw(uint256 amount)", "weth",
     {"recipient": "@self", "token": "@to", "amount": "amount"}),
    # --- EIP-2612 permit (and DAI's older form) -----------------------------------------------
    ("permit(address owner, address spender, uint256 value, uint256 deadline, uint8 v,"
     " bytes32 r, bytes32 s)", "permit", {"spender": "spender", "token": "@to", "amount": "value"}),
    ("permit(address holder, address spender, uint256 nonce, uint256 expiry, bool allowed,"
     " uint8 v, bytes32 r, bytes32 s)", "permit", {"spender": "spender", "token": "@to"}),
    # --- Permit2 (AllowanceTransfer + SignatureTransfer) --------------------------------------
    ("approve(address token, address spender, uint160 amount, uint48 expiration)", "permit2",
     {"spender": "spender", "token": "token", "amount": "amount"}),
    (f"permit(address owner, {_PERMIT_SINGLE} permitSingle, bytes signature)", "permit2",
     {"spender": "permitSingle.spender", "token": "permitSingle.details.token",
      "amount": "permitSingle.details.amount"}),
    (f"permit(address owner, {_PERMIT_BATCH} permitBatch, bytes signature)", "permit2",
     {"spender": "permitBatch.spender", "token": "permitBatch.details[].token",
      "amount": "permitBatch.details[].amount"}),
    ("transferFrom(address from, address to, uint160 amount, address token)", "permit2",
     {"recipient": "to", "token": "token", "amount": "amount"}),
    (f"transferFrom({_ALLOWANCE_XFER}[] transferDetails)", "permit2",
     {"recipient": "transferDetails[].to"}),
    (f"permitTransferFrom({_PTF} permit, {_XFER_DETAILS} transferDetails, address owner,"
     " bytes signature)", "permit2",
     {"recipient": "transferDetails.to", "token": "permit.permitted.token",
      "amount": "transferDetails.requestedAmount"}),
    (f"permitTransferFrom({_PTF_BATCH} permit, {_XFER_DETAILS}[] transferDetails,"
     " address owner, bytes signature)", "permit2", {"recipient": "transferDetails[].to"}),
    (f"permitWitnessTransferFrom({_PTF} permit, {_XFER_DETAILS} transferDetails, address owner,"
     " bytes32 witness, string witnessTypeString, bytes signature)", "permit2",
     {"recipient": "transferDetails.to", "token": "permit.permitted.token",
      "amount": "transferDetails.requestedAmount"}),
    (f"permitWitnessTransferFrom({_PTF_BATCH} permit, {_XFER_DETAILS}[] transferDetails,"
     " address owner, bytes32 witness, string witnessTypeString, bytes signature)", "permit2",
     {"recipient": "transferDetails[].to"}),
    ("lockdown((address token, address spender)[] approvals)", "permit2",
     {"intent": "Permit2: revoke the listed allowances"}),
    ("invalidateNonces(address token, address spender, uint48 newNonce)", "permit2",
     {"intent": "Permit2: invalidate the nonces of {spender} for token {token}"}),
    ("invalidateUnorderedNonces(uint256 wordPos, uint256 mask)", "permit2",
     {"intent": "Permit2: invalidate signature nonces"}),
    # --- Uniswap V2 Router02 (and SwapRouter02's deadline-less V2 swaps) -----------------------
    ("swapExactTokensForTokens(uint256 amountIn, uint256 amountOutMin, address[] path,"
     " address to, uint256 deadline)", "uniswap_v2", _TO),
    ("swapTokensForExactTokens(uint256 amountOut, uint256 amountInMax, address[] path,"
     " address to, uint256 deadline)", "uniswap_v2", _TO),
    ("swapExactETHForTokens(uint256 amountOutMin, address[] path, address to,"
     " uint256 deadline)", "uniswap_v2", _TO),
    ("swapTokensForExactETH(uint256 amountOut, uint256 amountInMax, address[] path,"
     " address to, uint256 deadline)", "uniswap_v2", _TO),
    ("swapExactTokensForETH(uint256 amountIn, uint256 amountOutMin, address[] path,"
     " address to, uint256 deadline)", "uniswap_v2", _TO),
    ("swapETHForExactTokens(uint256 amountOut, address[] path, address to, uint256 deadline)",
     "uniswap_v2", _TO),
    ("swapExactTokensForTokensSupportingFeeOnTransferTokens(uint256 amountIn,"
     " uint256 amountOutMin, address[] path, address to, uint256 deadline)", "uniswap_v2", _TO),
    ("swapExactETHForTokensSupportingFeeOnTransferTokens(uint256 amountOutMin, address[] path,"
     " address to, uint256 deadline)", "uniswap_v2", _TO),
    ("swapExactTokensForETHSupportingFeeOnTransferTokens(uint256 amountIn,"
     " uint256 amountOutMin, address[] path, address to, uint256 deadline)", "uniswap_v2", _TO),
    ("addLiquidity(address tokenA, address tokenB, uint256 amountADesired,"
     " uint256 amountBDesired, uint256 amountAMin, uint256 amountBMin, address to,"
     " uint256 deadline)", "uniswap_v2", _TO),
    ("addLiquidityETH(address token, uint256 amountTokenDesired, uint256 amountTokenMin,"
     " uint256 amountETHMin, address to, uint256 deadline)", "uniswap_v2", _TO),
    ("removeLiquidity(address tokenA, address tokenB, uint256 liquidity, uint256 amountAMin,"
     " uint256 amountBMin, address to, uint256 deadline)", "uniswap_v2",
     {"recipient": "to", "intent": "Remove {liquidity} LP units from the Uniswap V2 pool of"
      " {tokenA} and {tokenB}, proceeds to {to}"}),
    ("removeLiquidityETH(address token, uint256 liquidity, uint256 amountTokenMin,"
     " uint256 amountETHMin, address to, uint256 deadline)", "uniswap_v2",
     {"recipient": "to", "intent": "Remove {liquidity} LP units from the Uniswap V2 pool of"
      " {token} and native currency, proceeds to {to}"}),
    ("swapExactTokensForTokens(uint256 amountIn, uint256 amountOutMin, address[] path,"
     " address to)", "uniswap_v2", _TO),
    ("swapTokensForExactTokens(uint256 amountOut, uint256 amountInMax, address[] path,"
     " address to)", "uniswap_v2", _TO),
    # --- Uniswap V3 SwapRouter and SwapRouter02 ------------------------------------------------
    (f"exactInputSingle({_V3_IN_SINGLE} params)", "uniswap_v3", {"recipient": "params.recipient"}),
    (f"exactOutputSingle({_V3_OUT_SINGLE} params)", "uniswap_v3",
     {"recipient": "params.recipient"}),
    ("exactInput((bytes path, address recipient, uint256 deadline, uint256 amountIn,"
     " uint256 amountOutMinimum) params)", "uniswap_v3", {"recipient": "params.recipient"}),
    ("exactOutput((bytes path, address recipient, uint256 deadline, uint256 amountOut,"
     " uint256 amountInMaximum) params)", "uniswap_v3", {"recipient": "params.recipient"}),
    (f"exactInputSingle({_V3_IN_SINGLE_02} params)", "uniswap_v3",
     {"recipient": "params.recipient"}),
    (f"exactOutputSingle({_V3_OUT_SINGLE_02} params)", "uniswap_v3",
     {"recipient": "params.recipient"}),
    ("exactInput((bytes path, address recipient, uint256 amountIn, uint256 amountOutMinimum)"
     " params)", "uniswap_v3", {"recipient": "params.recipient"}),
    ("exactOutput((bytes path, address recipient, uint256 amountOut, uint256 amountInMaximum)"
     " params)", "uniswap_v3", {"recipient": "params.recipient"}),
    ("unwrapWETH9(uint256 amountMinimum, address recipient)", "uniswap_v3",
     {"recipient": "recipient",
      "intent": "Unwrap at least {amountMinimum} wei of WETH to {recipient}"}),
    ("unwrapWETH9(uint256 amountMinimum)", "uniswap_v3",
     {"recipient": "@self", "intent": "Unwrap at least {amountMinimum} wei of WETH to you"}),
    ("sweepToken(address token, uint256 amountMinimum, address recipient)", "uniswap_v3",
     {"recipient": "recipient", "token": "token"}),
    ("refundETH()", "uniswap_v3",
     {"recipient": "@self", "intent": "Refund leftover native currency to you"}),
    # --- Universal Router ------------------------------------------------------------------
    ("execute(bytes commands, bytes[] inputs, uint256 deadline)", "universal_router", _UR),
    ("execute(bytes commands, bytes[] inputs)", "universal_router", _UR),
    # --- Multicall3 and router multicalls ----------------------------------------------------
    ("aggregate((address target, bytes callData)[] calls)", "multicall", _MC3),
    ("aggregate3((address target, bool allowFailure, bytes callData)[] calls)", "multicall",
     _MC3),
    ("aggregate3Value((address target, bool allowFailure, uint256 value, bytes callData)[]"
     " calls)", "multicall", _MC3),
    ("tryAggregate(bool requireSuccess, (address target, bytes callData)[] calls)", "multicall",
     _MC3),
    ("tryBlockAndAggregate(bool requireSuccess, (address target, bytes callData)[] calls)",
     "multicall", _MC3),
    ("blockAndAggregate((address target, bytes callData)[] calls)", "multicall", _MC3),
    ("multicall(bytes[] data)", "multicall", _MC),
    ("multicall(uint256 deadline, bytes[] data)", "multicall", _MC),
    ("multicall(bytes32 previousBlockhash, bytes[] data)", "multicall", _MC),
    # --- Safe (operation 1 = DELEGATECALL) ------------------------------------------------------
    ("execTransaction(address to, uint256 value, bytes data, uint8 operation,"
     " uint256 safeTxGas, uint256 baseGas, uint256 gasPrice, address gasToken,"
     " address refundReceiver, bytes signatures)", "safe", {"nested": "safe_exec"}),
    ("execTransactionFromModule(address to, uint256 value, bytes data, uint8 operation)",
     "safe", {"nested": "safe_exec"}),
    ("multiSend(bytes transactions)", "safe",
     {"nested": "multisend", "intent": "MultiSend {_count} transactions: {_inner}"}),
    ("addOwnerWithThreshold(address owner, uint256 _threshold)", "safe",
     {"intent": "Add Safe owner {owner}, threshold {_threshold}"}),
    ("removeOwner(address prevOwner, address owner, uint256 _threshold)", "safe",
     {"intent": "Remove Safe owner {owner}, threshold {_threshold}"}),
    ("swapOwner(address prevOwner, address oldOwner, address newOwner)", "safe",
     {"intent": "Replace Safe owner {oldOwner} with {newOwner}"}),
    ("changeThreshold(uint256 _threshold)", "safe",
     {"intent": "Change the Safe threshold to {_threshold}"}),
    ("enableModule(address module)", "safe", {"intent": "Enable Safe module {module}"}),
    ("disableModule(address prevModule, address module)", "safe",
     {"intent": "Disable Safe module {module}"}),
    ("setGuard(address guard)", "safe", {"intent": "Set the Safe guard to {guard}"}),
    ("setFallbackHandler(address handler)", "safe",
     {"intent": "Set the Safe fallback handler to {handler}"}),
    # --- Proxy administration (ERC-1967 / UUPS / TransparentUpgradeableProxy / ProxyAdmin) -----
    ("upgradeTo(address newImplementation)", "proxy_admin",
     {"intent": "Upgrade proxy {_target} to implementation {newImplementation}"}),
    ("upgradeToAndCall(address newImplementation, bytes data)", "proxy_admin",
     {"nested": "upgrade_call", "intent": "Upgrade proxy {_target} to implementation"
      " {newImplementation} and call: {_inner}"}),
    ("changeAdmin(address newAdmin)", "proxy_admin",
     {"intent": "Change the admin of proxy {_target} to {newAdmin}"}),
    ("upgrade(address proxy, address implementation)", "proxy_admin",
     {"intent": "Upgrade proxy {proxy} to implementation {implementation}"}),
    ("upgradeAndCall(address proxy, address implementation, bytes data)", "proxy_admin",
     {"nested": "upgrade_call",
      "intent": "Upgrade proxy {proxy} to implementation {implementation} and call: {_inner}"}),
    ("changeProxyAdmin(address proxy, address newAdmin)", "proxy_admin",
     {"intent": "Change the admin of proxy {proxy} to {newAdmin}"}),
    # --- Ownable / Ownable2Step --------------------------------------------------------------
    ("transferOwnership(address newOwner)", "ownership",
     {"intent": "Transfer ownership of {_target} to {newOwner}"}),
    ("renounceOwnership()", "ownership", {"intent": "Renounce ownership of {_target}"}),
    ("acceptOwnership()", "ownership", {"intent": "Accept ownership of {_target}"}),
    # --- EIP-7702 delegated accounts (EIP-7821 / ERC-7579 execute; MetaMask DeleGator) --------
    ("execute(bytes32 mode, bytes executionData)", "eip7702",
     {"nested": "erc7579", "intent": _ACCOUNT}),
    ("execute((address target, uint256 value, bytes callData) execution)", "eip7702",
     {"nested": "execution", "intent": _ACCOUNT}),
]

# Universal Router commands (low 6 bits of each command byte; 0x80 = allow revert). Inputs as
# the Dispatcher decodes them; recipients 0x…01 / 0x…02 mean msg.sender / the router itself.
# 0x00–0x0e are the same in every router version; 0x10+ are the v2 (V4) assignments.
UR_COMMANDS: dict[int, tuple[str, str, dict[str, Any]]] = {
    0x00: ("V3_SWAP_EXACT_IN(address recipient, uint256 amountIn, uint256 amountOutMin,"
           " bytes path, bool payerIsUser)", "uniswap_v3", {"recipient": "recipient"}),
    0x01: ("V3_SWAP_EXACT_OUT(address recipient, uint256 amountOut, uint256 amountInMax,"
           " bytes path, bool payerIsUser)", "uniswap_v3", {"recipient": "recipient"}),
    0x02: ("PERMIT2_TRANSFER_FROM(address token, address recipient, uint160 amount)", "permit2",
           {"recipient": "recipient", "token": "token", "amount": "amount"}),
    0x03: (f"PERMIT2_PERMIT_BATCH({_PERMIT_BATCH} permitBatch, bytes signature)", "permit2",
           {"spender": "permitBatch.spender", "token": "permitBatch.details[].token",
            "amount": "permitBatch.details[].amount"}),
    0x04: ("SWEEP(address token, address recipient, uint256 amountMin)", "universal_router",
           {"recipient": "recipient", "token": "token"}),
    0x05: ("TRANSFER(address token, address recipient, uint256 value)", "universal_router",
           {"recipient": "recipient", "token": "token", "amount": "value"}),
    0x06: ("PAY_PORTION(address token, address recipient, uint256 bips)", "universal_router",
           {"recipient": "recipient", "token": "token", "intent": "Pay {bips} bips of the"
            " router's balance of token {token} to {recipient}"}),
    0x08: ("V2_SWAP_EXACT_IN(address recipient, uint256 amountIn, uint256 amountOutMin,"
           " address[] path, bool payerIsUser)", "uniswap_v2", {"recipient": "recipient"}),
    0x09: ("V2_SWAP_EXACT_OUT(address recipient, uint256 amountOut, uint256 amountInMax,"
           " address[] path, bool payerIsUser)", "uniswap_v2", {"recipient": "recipient"}),
    0x0A: (f"PERMIT2_PERMIT({_PERMIT_SINGLE} permitSingle, bytes signature)", "permit2",
           {"spender": "permitSingle.spender", "token": "permitSingle.details.token",
            "amount": "permitSingle.details.amount"}),
    0x0B: ("WRAP_ETH(address recipient, uint256 amountMin)", "weth",
           {"recipient": "recipient", "intent": "Wrap native currency into WETH for {recipient}"}),
    0x0C: ("UNWRAP_WETH(address recipient, uint256 amountMin)", "weth",
           {"recipient": "recipient",
            "intent": "Unwrap at least {amountMin} wei of WETH to {recipient}"}),
    0x0D: (f"PERMIT2_TRANSFER_FROM_BATCH({_ALLOWANCE_XFER}[] batchDetails)", "permit2",
           {"recipient": "batchDetails[].to"}),
    0x0E: ("BALANCE_CHECK_ERC20(address owner, address token, uint256 minBalance)",
           "universal_router", {}),
    0x10: ("V4_SWAP(bytes actions, bytes[] params)", "universal_router",
           {"intent": "Swap via Uniswap V4"}),
    0x11: ("V3_POSITION_MANAGER_PERMIT(bytes call)", "universal_router",
           {"intent": "Permit the Uniswap V3 position manager"}),
    0x12: ("V3_POSITION_MANAGER_CALL(bytes call)", "universal_router",
           {"intent": "Call the Uniswap V3 position manager"}),
    0x13: ("V4_INITIALIZE_POOL((address currency0, address currency1, uint24 fee,"
           " int24 tickSpacing, address hooks) poolKey, uint160 sqrtPriceX96)",
           "universal_router", {"intent": "Initialize a Uniswap V4 pool"}),
    0x14: ("V4_POSITION_MANAGER_CALL(bytes call)", "universal_router",
           {"intent": "Call the Uniswap V4 position manager"}),
    0x21: ("EXECUTE_SUB_PLAN(bytes commands, bytes[] inputs)", "universal_router",
           {"nested": "universal_router", "intent": "Run a sub-plan: {_inner}"}),
}

# (fragment, category). ERC-20 and ERC-721 Transfer/Approval share topic0 and are told apart by
# how many topics the log has (ERC-721 indexes the token id).
EVENTS: list[tuple[str, str]] = [
    ("Transfer(address indexed from, address indexed to, uint256 value)", "erc20"),
    ("Transfer(address indexed from, address indexed to, uint256 indexed tokenId)", "erc721"),
    ("Approval(address indexed owner, address indexed spender, uint256 value)", "erc20"),
    ("Approval(address indexed owner, address indexed approved, uint256 indexed tokenId)",
     "erc721"),
    ("ApprovalForAll(address indexed owner, address indexed operator, bool approved)", "erc721"),
    ("TransferSingle(address indexed operator, address indexed from, address indexed to,"
     " uint256 id, uint256 value)", "erc1155"),
    ("TransferBatch(address indexed operator, address indexed from, address indexed to,"
     " uint256[] ids, uint256[] values)", "erc1155"),
    ("Deposit(address indexed dst, uint256 wad)", "weth"),
    ("Withdrawal(address indexed src, uint256 wad)", "weth"),
    ("Approval(address indexed owner, address indexed token, address indexed spender,"
     " uint160 amount, uint48 expiration)", "permit2"),
    ("Permit(address indexed owner, address indexed token, address indexed spender,"
     " uint160 amount, uint48 expiration, uint48 nonce)", "permit2"),
    ("Lockdown(address indexed owner, address token, address spender)", "permit2"),
    ("OwnershipTransferred(address indexed previousOwner, address indexed newOwner)",
     "ownership"),
    ("Upgraded(address indexed implementation)", "proxy_admin"),
    ("AdminChanged(address previousAdmin, address newAdmin)", "proxy_admin"),
]

# Custom errors for revert decoding. Error(string) and Panic(uint256) are handled specially.
ERRORS: list[str] = [
    "Error(string message)",
    "Panic(uint256 code)",
    # OpenZeppelin 5 (draft-IERC6093 and friends)
    "ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed)",
    "ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed)",
    "ERC20InvalidSender(address sender)",
    "ERC20InvalidReceiver(address receiver)",
    "ERC20InvalidApprover(address approver)",
    "ERC20InvalidSpender(address spender)",
    "ERC721NonexistentToken(uint256 tokenId)",
    "ERC721InsufficientApproval(address operator, uint256 tokenId)",
    "ERC721IncorrectOwner(address sender, uint256 tokenId, address owner)",
    "ERC721InvalidReceiver(address receiver)",
    "ERC1155InsufficientBalance(address sender, uint256 balance, uint256 needed, uint256 tokenId)",
    "OwnableUnauthorizedAccount(address account)",
    "OwnableInvalidOwner(address owner)",
    "ERC2612ExpiredSignature(uint256 deadline)",
    "ERC2612InvalidSigner(address signer, address owner)",
    "SafeERC20FailedOperation(address token)",
    "AddressEmptyCode(address target)",
    "FailedCall()",
    "ReentrancyGuardReentrantCall()",
    # Permit2
    "SignatureExpired(uint256 signatureDeadline)",
    "InvalidNonce()",
    "AllowanceExpired(uint256 deadline)",
    "InsufficientAllowance(uint256 amount)",
    "InvalidSignature()",
    "InvalidSigner()",
    "InvalidAmount(uint256 maxAmount)",
    "LengthMismatch()",
    # Universal Router
    "V2TooLittleReceived()",
    "V2TooMuchRequested()",
    "V3TooLittleReceived()",
    "V3TooMuchRequested()",
    "TransactionDeadlinePassed()",
    "ExecutionFailed(uint256 commandIndex, bytes message)",
    "InvalidCommandType(uint256 commandType)",
]

# Solidity panic codes (docs: "Panic via assert and Error via require").
PANIC_CODES: dict[int, str] = {
    0x00: "generic compiler panic",
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "invalid enum value",
    0x22: "incorrectly encoded storage byte array",
    0x31: "pop on an empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory (too large allocation)",
    0x51: "call to an uninitialized internal function",
}
