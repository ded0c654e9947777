"""The wallet service's HTTP routers and server-rendered pages."""
