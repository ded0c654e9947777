"""The curated public API is pinned: changing it must be a deliberate act."""

import mm_agent
from mm_agent import errors


def test_all_is_pinned() -> None:
    assert sorted(mm_agent.__all__) == ["AsyncWallet", "MMError", "Wallet", "WalletRequest",
                                        "__version__"]


def test_all_names_resolve() -> None:
    for name in mm_agent.__all__:
        assert getattr(mm_agent, name) is not None


def test_error_codes_are_unique_per_class_and_documented() -> None:
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.MMError)
        assert cls.code.isupper()
        assert cls.code in doc, f"{name} ({cls.code}) missing from the errors.py tree"


def test_from_payload_round_trip() -> None:
    err = errors.MMError.from_payload({"code": "TX_REVERTED", "message": "boom"})
    assert isinstance(err, errors.TxReverted)
    unknown = errors.MMError.from_payload({"code": "SOMETHING_NEW", "message": "x"})
    assert isinstance(unknown, errors.ServiceError)
