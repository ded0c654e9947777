"""The wallet service's logic: keys, tokens, sign-in, mail, jobs, approvals, policies."""
