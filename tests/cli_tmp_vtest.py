from tests.conftest import *  # noqa
def test_v(byok_home):
    rc, out, err = run_mm("-v", "wallet", "balance", "--chain-ids", "31337")
    print(rc, str(out)[:300]); print("ERR", err[:1500])
