"""Agent integrations (import name ``mm_agent.toolkits``).

Reserved for the LangChain toolkit, the function-calling schemas and dispatcher, and the MCP
server of contract §8. They are not built yet: every one of them will be generated from the
operation registry (``mm_agent.operations``), whose agent-facing entries already carry the
descriptions and pydantic args models they need.
"""
