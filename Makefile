# Two commands: `make demo` and `make test`. Both install what they need first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
TOOLS := .tools
ANVIL_VERSION := 1.7.1
ANVIL_PKG := @foundry-rs/anvil-linux-$(if $(filter aarch64 arm64,$(shell uname -m)),arm64,amd64)
STAMP := $(VENV)/.installed-stamp

.PHONY: setup test demo lint bench clean contracts chromium

setup: $(STAMP) $(TOOLS)/bin/anvil

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
	  else echo "chromium missing and not root: browser tests will be skipped"; fi; fi

test: setup chromium
	$(PY) -m pytest -q -n 2 --dist loadfile

demo: setup
	$(PY) scripts/demo.py

lint: setup
	$(VENV)/bin/ruff check mm_agent cli toolkits tests bench scripts

bench: setup
	$(PY) bench/cli_startup.py
	$(PY) bench/pipeline.py
	$(PY) bench/toolkit_import.py

contracts:
	bash scripts/compile_contracts.sh

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache
