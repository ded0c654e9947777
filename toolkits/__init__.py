"""Agent integrations (import name ``mm_agent.toolkits``).

- ``function_calling``: OpenAI (Chat Completions, Responses) and Anthropic tool exports and a
  dispatcher returning the CLI's JSON envelopes.
- ``langchain``: ``MetaMaskToolkit`` (LangChain tools) and LangGraph human in the loop
  (``interrupt()`` on approvals, ``approve``/``reject`` resume values, ``interrupt_on``).

Every surface is generated from the operation registry (``mm_agent.operations.registry``) through
``mm_agent.operations.agent_schema`` (schemas) and ``mm_agent.operations.agent_calls`` (validation,
envelopes), so they cannot drift; the LangChain toolkit and the MCP server of contract §8 build on
the same.
"""
