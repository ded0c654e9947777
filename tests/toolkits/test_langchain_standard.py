"""langchain-tests' standard suites for the toolkit's tools.

Unit suites build the tool over an offline BYOK wallet (a temporary MM_HOME: ``decode`` needs
no chain). Integration suites run a read and a write against the session anvil: their ``tool``
fixture (a fixture, not a standard test) takes the BYOK ``wallet`` fixture; ``tool_constructor``
is what ``test_init`` builds.
"""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from conftest import ACCOUNT1, TEST_MNEMONIC
from langchain_core.tools import BaseTool
from langchain_tests.integration_tests import ToolsIntegrationTests
from langchain_tests.unit_tests import ToolsUnitTests
from mm_agent.toolkits.langchain import MetaMaskToolkit

from mm_agent import Wallet
from mm_agent.local.state import Home

CALLDATA = ("0xa9059cbb" + ACCOUNT1[2:].lower().rjust(64, "0") + hex(5)[2:].rjust(64, "0"))


@cache
def offline_wallet() -> Wallet:
    from mm_agent.wallets.byok.keyring import ByokKeyring

    home = Home(Path(tempfile.mkdtemp(prefix="mm-lc-std-")))
    home.write_json("wallets.json", ByokKeyring.initial_state(TEST_MNEMONIC, None))
    return Wallet.from_env(home=home)


def tool_named(wallet: Any, name: str) -> BaseTool:
    (tool,) = MetaMaskToolkit(wallet=wallet, include=[name]).get_tools()
    return tool


class TestDecodeToolUnit(ToolsUnitTests):
    @property
    def tool_constructor(self) -> BaseTool:
        return tool_named(offline_wallet(), "decode")

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"payload": CALLDATA}


class TestTransferToolUnit(ToolsUnitTests):
    @property
    def tool_constructor(self) -> BaseTool:
        return tool_named(offline_wallet(), "transfer")

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"to": ACCOUNT1, "amount": "0.01", "chain_id": 31337, "token": "ETH"}


class TestDecodeToolIntegration(ToolsIntegrationTests):
    @property
    def tool_constructor(self) -> BaseTool:
        return tool_named(offline_wallet(), "decode")

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"payload": CALLDATA}


class TestBalanceToolIntegration(ToolsIntegrationTests):
    @property
    def tool_constructor(self) -> BaseTool:
        return tool_named(offline_wallet(), "wallet_balance")

    @pytest.fixture
    def tool(self, wallet: Wallet) -> BaseTool:
        return tool_named(wallet, "wallet_balance")

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"chain_ids": [31337]}


class TestTransferToolIntegration(ToolsIntegrationTests):
    @property
    def tool_constructor(self) -> BaseTool:
        return tool_named(offline_wallet(), "transfer")

    @pytest.fixture
    def tool(self, wallet: Wallet) -> BaseTool:
        return tool_named(wallet, "transfer")

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"to": ACCOUNT1, "amount": "0.01", "chain_id": 31337, "token": "ETH"}
