# natbox: the two commands a newcomer needs are `make run` and `make test`.
VENV ?= .venv
TOX = $(VENV)/bin/tox

.PHONY: run test test-unit lint bench matrix setup clean

setup:
	@scripts/host-setup.sh $(VENV)

# Boots the appliance under QEMU (building the firmware if it is missing or stale) with its
# console on this terminal: the lab and its taps as root, user-mode networking otherwise.
# Leave with Ctrl-A X; the lab is removed on exit.
run: setup
	@$(TOX) -q -e py3 --notest
	@.tox/py3/bin/natbox boot

# Four lanes side by side, so the whole stays under half an hour on two cores: the unit, netns
# and image tiers (py3), the booted appliance's tests (vm), the fault matrix (faults:
# appliances that mostly boot and wait) and the passthrough matrix's netns grid (matrix: real
# peers that mostly wait); lint and the device web stack's tests (a minute) run while those
# environments are being installed.
test: setup
	$(TOX) run-parallel -p 6 --parallel-live -e lint,webui-device,py3,vm,faults,matrix

test-unit: setup
	$(TOX) -e py3 -- -m unit

lint: setup
	$(TOX) -e lint

bench: setup
	$(TOX) -q -e bench

# The passthrough matrix (every scenario x switch x profile x 1 or 2 clients) in netns mode, as
# out/matrix/matrix.html; MATRIX_ARGS="--mode vm" for the booted appliance's default profile.
matrix: setup
	$(TOX) -q -e matrix -- $(MATRIX_ARGS)

# Per-area make fragments (the firmware image build lives in image/image.mk).
-include image/image.mk

clean:
	rm -rf .tox $(VENV) out build *.egg-info .pytest_cache .hypothesis
