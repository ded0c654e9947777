# Two commands: `make demo` and `make test`. Both install what they need first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
TOOLS := .tools
ANVIL_VERSION := 1.7.1
ANVIL_PKG := @foundry-rs/anvil-linux-$(if $(filter aarch64 arm64,$(shell uname -m)),arm64,amd64)
STAMP := $(VENV)/.installed-stamp

.PHONY: setup test demo lint bench clean contracts chromium postgres

setup: $(STAMP) $(TOOLS)/bin/anvil postgres

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

# anvil from the npm registry (a binary shipped inside a registry package), project-local.
$(TOOLS)/bin/anvil:
	@mkdir -p $(TOOLS)/bin $(TOOLS)/tmp
	cd $(TOOLS)/tmp && npm pack --silent $(ANVIL_PKG)@$(ANVIL_VERSION) >/dev/null
	tar -xzf $(TOOLS)/tmp/*.tgz -C $(TOOLS)/tmp
	mv $(TOOLS)/tmp/package/bin/anvil $(TOOLS)/bin/anvil
	chmod +x $(TOOLS)/bin/anvil
	rm -rf $(TOOLS)/tmp
	$(TOOLS)/bin/anvil --version | head -1

# Headless Chromium for the approval-page tests (Debian's package; needs root, as in CI).
chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then (apt-get install -y -qq chromium >/dev/null 2>&1 || \
	    (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)); \
	  else echo "chromium missing and not root: browser tests will be skipped (with CI=true they fail)"; fi; fi

# PostgreSQL for the tests' throwaway clusters (tests/server/pg.py runs initdb/pg_ctl as the
# `postgres` user): Debian's package, without the default cluster it would otherwise create.
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    mkdir -p /etc/postgresql-common/createcluster.d && \
	    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/mm-agent.conf && \
	    (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null 2>&1 || \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null)); \
	  else echo "PostgreSQL missing and not root: the PostgreSQL tests will be skipped"; fi; fi

# Everything: no marker is deselected. Two workers, one file per worker (fixtures are per file);
# the ten slowest tests are listed so that creeping run time shows up (budget: ~10 min).
test: setup chromium
	$(PY) -m pytest -q -n 2 --dist loadfile --durations=10

demo: setup
	$(PY) scripts/demo.py

lint: setup
	$(VENV)/bin/ruff check mm_agent cli toolkits tests bench scripts

bench: setup
	$(PY) bench/cli_startup.py
	$(PY) bench/pipeline.py
	$(PY) bench/toolkit_import.py
	$(PY) bench/service.py

contracts:
	bash scripts/compile_contracts.sh

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache
