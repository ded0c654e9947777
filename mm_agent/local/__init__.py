"""Local state under ``MM_HOME``: the home folder, config, the sign-in
session and the request log."""
