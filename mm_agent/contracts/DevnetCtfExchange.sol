// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// Minimal views of the two token standards the exchange moves.
interface IDevnetCollateral {
    function transferFrom(address from, address to, uint256 value) external returns (bool);
}

interface IDevnetOutcomeTokens {
    function safeTransferFrom(address from, address to, uint256 id, uint256 value, bytes calldata data)
        external;
}

/// @title DevnetCtfExchange — a small, devnet-only exchange compatible with Polymarket's
/// CTF Exchange V2 order format.
/// @notice Same `Order` struct, ORDER_TYPEHASH and EIP-712 domain ("Polymarket CTF Exchange",
/// version "2") as the V2 exchange, so an order signed for it hashes exactly like one signed
/// with py-clob-client-v2. Settlement is deliberately smaller than the real exchange:
/// - EOA signatures only (signatureType 0, signer == maker);
/// - operator-only `matchOrders` (COMPLEMENTARY matches: a BUY against SELLs of the same
///   outcome token, or a SELL against BUYs; assets move directly between the parties) and
///   `fillOrder` (the operator is the counterparty);
/// - no fees: every fee argument must be zero, events report fee 0;
/// - `cancelOrder` by the maker (the V1 entry point and `OrderCancelled` event; V2 cancels
///   off-chain).
/// Outcome tokens are Gnosis Conditional Tokens (ERC-1155); collateral is an ERC-20.
contract DevnetCtfExchange {
    enum Side {
        BUY,
        SELL
    }

    enum SignatureType {
        EOA,
        POLY_PROXY,
        POLY_GNOSIS_SAFE,
        POLY_1271
    }

    struct Order {
        uint256 salt;
        address maker;
        address signer;
        uint256 tokenId;
        uint256 makerAmount;
        uint256 takerAmount;
        Side side;
        SignatureType signatureType;
        uint256 timestamp;
        bytes32 metadata;
        bytes32 builder;
        bytes signature;
    }

    struct OrderStatus {
        bool filled; // filled completely or cancelled: no further fill
        uint248 remaining; // maker amount left once a fill happened (0 before the first)
    }

    bytes32 public constant ORDER_TYPEHASH = keccak256(
        "Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,"
        "uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,"
        "bytes32 builder)"
    );
    bytes32 private constant DOMAIN_TYPEHASH = keccak256(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    );
    uint256 private constant ONE = 1e18;
    uint256 private constant HALF_ORDER =
        0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    address public immutable collateral;
    address public immutable ctf;
    address public admin;
    mapping(address => bool) public operators;
    mapping(bytes32 => OrderStatus) public orderStatus;
    mapping(bytes32 => bool) public cancelled;

    event OrderFilled(
        bytes32 indexed orderHash,
        address indexed maker,
        address indexed taker,
        Side side,
        uint256 tokenId,
        uint256 makerAmountFilled,
        uint256 takerAmountFilled,
        uint256 fee,
        bytes32 builder,
        bytes32 metadata
    );
    event OrdersMatched(
        bytes32 indexed takerOrderHash,
        address indexed takerOrderMaker,
        Side side,
        uint256 tokenId,
        uint256 makerAmountFilled,
        uint256 takerAmountFilled
    );
    event OrderCancelled(bytes32 indexed orderHash);
    event NewOperator(address indexed newOperatorAddress, address indexed admin);
    event RemovedOperator(address indexed removedOperator, address indexed admin);

    error NotAdmin();
    error NotOperator();
    error NotOwner();
    error InvalidSignature();
    error OrderAlreadyFilled();
    error OrderIsCancelled();
    error MakingGtRemaining();
    error NotCrossing();
    error MismatchedTokenIds();
    error MismatchedArrayLengths();
    error NoMakerOrders();
    error ZeroMakerAmount();
    error MatchTypeUnsupported();
    error FeesDisabled();
    error TooLittleTokensReceived();
    error TooMuchSpent();
    error TransferFailed();

    constructor(address collateral_, address ctf_) {
        collateral = collateral_;
        ctf = ctf_;
        admin = msg.sender;
        operators[msg.sender] = true;
        emit NewOperator(msg.sender, msg.sender);
    }

    modifier onlyAdmin() {
        if (msg.sender != admin) revert NotAdmin();
        _;
    }

    modifier onlyOperator() {
        if (!operators[msg.sender]) revert NotOperator();
        _;
    }

    // --- admin ----------------------------------------------------------------------------------

    function addOperator(address operator) external onlyAdmin {
        operators[operator] = true;
        emit NewOperator(operator, msg.sender);
    }

    function removeOperator(address operator) external onlyAdmin {
        operators[operator] = false;
        emit RemovedOperator(operator, msg.sender);
    }

    // --- hashing --------------------------------------------------------------------------------

    function domainSeparator() public view returns (bytes32) {
        return keccak256(
            abi.encode(
                DOMAIN_TYPEHASH,
                keccak256("Polymarket CTF Exchange"),
                keccak256("2"),
                block.chainid,
                address(this)
            )
        );
    }

    function hashOrder(Order memory order) public view returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(
                ORDER_TYPEHASH,
                order.salt,
                order.maker,
                order.signer,
                order.tokenId,
                order.makerAmount,
                order.takerAmount,
                uint8(order.side),
                uint8(order.signatureType),
                order.timestamp,
                order.metadata,
                order.builder
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    function getOrderStatus(bytes32 orderHash) external view returns (OrderStatus memory) {
        return orderStatus[orderHash];
    }

    /// @notice Reverts unless `order` carries a valid signature and can still be filled.
    function validateOrder(Order memory order) external view {
        bytes32 orderHash = hashOrder(order);
        if (cancelled[orderHash]) revert OrderIsCancelled();
        if (orderStatus[orderHash].filled) revert OrderAlreadyFilled();
        _validateSignature(orderHash, order);
    }

    // --- makers ---------------------------------------------------------------------------------

    function cancelOrder(Order memory order) public {
        if (order.maker != msg.sender) revert NotOwner();
        bytes32 orderHash = hashOrder(order);
        if (orderStatus[orderHash].filled) revert OrderAlreadyFilled();
        cancelled[orderHash] = true;
        orderStatus[orderHash].filled = true;
        emit OrderCancelled(orderHash);
    }

    function cancelOrders(Order[] memory orders) external {
        for (uint256 i = 0; i < orders.length; ++i) {
            cancelOrder(orders[i]);
        }
    }

    // --- operator -------------------------------------------------------------------------------

    /// @notice Fills `fillAmount` (in maker-amount units) of `order`, the operator being the
    /// counterparty: it receives the maker's asset and pays the maker's price.
    function fillOrder(Order memory order, uint256 fillAmount, uint256 fee) external onlyOperator {
        if (fee != 0) revert FeesDisabled();
        (uint256 taking, bytes32 orderHash) = _performOrderChecks(order, fillAmount);
        if (order.side == Side.BUY) {
            _moveCollateral(order.maker, msg.sender, fillAmount);
            _moveOutcome(msg.sender, order.maker, order.tokenId, taking);
        } else {
            _moveOutcome(order.maker, msg.sender, order.tokenId, fillAmount);
            _moveCollateral(msg.sender, order.maker, taking);
        }
        emit OrderFilled(
            orderHash, order.maker, msg.sender, order.side, order.tokenId, fillAmount, taking, 0,
            order.builder, order.metadata
        );
    }

    /// @notice Matches a taker order against maker orders of the opposite side on the same
    /// outcome token. Fill amounts are in each order's maker-amount units. `conditionId` is
    /// accepted for ABI compatibility with the V2 exchange (it is only needed there for
    /// MINT/MERGE matches, which this exchange does not do).
    function matchOrders(
        bytes32, /* conditionId */
        Order memory takerOrder,
        Order[] memory makerOrders,
        uint256 takerFillAmount,
        uint256[] memory makerFillAmounts,
        uint256 takerFeeAmount,
        uint256[] memory makerFeeAmounts
    ) external onlyOperator {
        uint256 n = makerOrders.length;
        if (n == 0) revert NoMakerOrders();
        if (n != makerFillAmounts.length || n != makerFeeAmounts.length) {
            revert MismatchedArrayLengths();
        }
        if (takerFeeAmount != 0) revert FeesDisabled();

        (uint256 takerTaking, bytes32 takerHash) = _performOrderChecks(takerOrder, takerFillAmount);
        uint256 spent; // what the taker gave: collateral (BUY) or outcome tokens (SELL)
        uint256 received; // what the taker got: outcome tokens (BUY) or collateral (SELL)
        for (uint256 i = 0; i < n; ++i) {
            if (makerFeeAmounts[i] != 0) revert FeesDisabled();
            uint256 makerTaking = _settleMaker(takerOrder, makerOrders[i], makerFillAmounts[i]);
            spent += makerTaking;
            received += makerFillAmounts[i];
        }
        // The taker never gives more than the fill it signed for, nor gets less than its price.
        if (spent > takerFillAmount) revert TooMuchSpent();
        if (received < takerTaking) revert TooLittleTokensReceived();
        _emitTakerFilled(takerHash, takerOrder, takerFillAmount, received);
    }

    // --- internals ------------------------------------------------------------------------------

    /// Settles one maker order against the taker directly; returns the maker's taking amount.
    function _settleMaker(Order memory takerOrder, Order memory maker, uint256 fill)
        private
        returns (uint256 makerTaking)
    {
        if (maker.side == takerOrder.side) revert MatchTypeUnsupported();
        if (maker.tokenId != takerOrder.tokenId) revert MismatchedTokenIds();
        if (!_isCrossing(takerOrder, maker)) revert NotCrossing();
        bytes32 makerHash;
        (makerTaking, makerHash) = _performOrderChecks(maker, fill);
        address taker = takerOrder.maker;
        if (takerOrder.side == Side.BUY) {
            // The maker sells `fill` tokens for `makerTaking` collateral.
            _moveOutcome(maker.maker, taker, maker.tokenId, fill);
            _moveCollateral(taker, maker.maker, makerTaking);
        } else {
            // The maker pays `fill` collateral for `makerTaking` tokens.
            _moveOutcome(taker, maker.maker, maker.tokenId, makerTaking);
            _moveCollateral(maker.maker, taker, fill);
        }
        emit OrderFilled(
            makerHash, maker.maker, taker, maker.side, maker.tokenId, fill, makerTaking, 0,
            maker.builder, maker.metadata
        );
    }

    function _emitTakerFilled(bytes32 takerHash, Order memory takerOrder, uint256 making, uint256 taking)
        private
    {
        emit OrderFilled(
            takerHash, takerOrder.maker, address(this), takerOrder.side, takerOrder.tokenId, making,
            taking, 0, takerOrder.builder, takerOrder.metadata
        );
        emit OrdersMatched(takerHash, takerOrder.maker, takerOrder.side, takerOrder.tokenId, making, taking);
    }

    function _performOrderChecks(Order memory order, uint256 making)
        private
        returns (uint256 taking, bytes32 orderHash)
    {
        if (order.makerAmount == 0) revert ZeroMakerAmount();
        orderHash = hashOrder(order);
        if (cancelled[orderHash]) revert OrderIsCancelled();
        OrderStatus storage status = orderStatus[orderHash];
        if (status.filled) revert OrderAlreadyFilled();
        _validateSignature(orderHash, order);
        uint256 remaining = status.remaining == 0 ? order.makerAmount : status.remaining;
        if (making == 0 || making > remaining) revert MakingGtRemaining();
        remaining -= making;
        status.remaining = uint248(remaining);
        status.filled = remaining == 0;
        taking = making * order.takerAmount / order.makerAmount;
    }

    function _validateSignature(bytes32 orderHash, Order memory order) private pure {
        if (order.signatureType != SignatureType.EOA || order.signer != order.maker) {
            revert InvalidSignature();
        }
        bytes memory sig = order.signature;
        if (sig.length != 65) revert InvalidSignature();
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly {
            r := mload(add(sig, 0x20))
            s := mload(add(sig, 0x40))
            v := byte(0, mload(add(sig, 0x60)))
        }
        if (v < 27) v += 27;
        if (uint256(s) > HALF_ORDER || (v != 27 && v != 28)) revert InvalidSignature();
        address recovered = ecrecover(orderHash, v, r, s);
        if (recovered == address(0) || recovered != order.signer) revert InvalidSignature();
    }

    /// Price of an order in collateral per outcome token, scaled by 1e18.
    function _price(Order memory order) private pure returns (uint256) {
        if (order.side == Side.BUY) {
            return order.takerAmount == 0 ? 0 : order.makerAmount * ONE / order.takerAmount;
        }
        return order.makerAmount == 0 ? 0 : order.takerAmount * ONE / order.makerAmount;
    }

    /// Opposite sides cross when the bid is at least the ask.
    function _isCrossing(Order memory a, Order memory b) private pure returns (bool) {
        if (a.takerAmount == 0 || b.takerAmount == 0) return true;
        return a.side == Side.BUY ? _price(a) >= _price(b) : _price(b) >= _price(a);
    }

    function _moveCollateral(address from, address to, uint256 amount) private {
        if (amount == 0) return;
        (bool ok, bytes memory ret) =
            collateral.call(abi.encodeCall(IDevnetCollateral.transferFrom, (from, to, amount)));
        if (!ok || (ret.length != 0 && !abi.decode(ret, (bool)))) revert TransferFailed();
    }

    function _moveOutcome(address from, address to, uint256 id, uint256 amount) private {
        if (amount == 0) return;
        IDevnetOutcomeTokens(ctf).safeTransferFrom(from, to, id, amount, "");
    }
}
