# natbox: the two commands a newcomer needs are `make run` and `make test`.
VENV ?= .venv
TOX = $(VENV)/bin/tox

.PHONY: run test test-unit lint bench setup clean

setup:
	@scripts/host-setup.sh $(VENV)

# Until the appliance boots under QEMU, `make run` runs the NAT engine's self-check.
run: setup
	@$(TOX) -q -e py3 --notest
	@.tox/py3/bin/natbox selfcheck

test: setup
	$(TOX) -e lint,py3

test-unit: setup
	$(TOX) -e py3 -- -m unit

lint: setup
	$(TOX) -e lint

bench: setup
	$(TOX) -q -e bench

# Per-area make fragments (the firmware image build lives in image/image.mk).
-include image/image.mk

clean:
	rm -rf .tox $(VENV) out build *.egg-info .pytest_cache .hypothesis
