# Firmware image (buildroot-style; see image/README.md). Included by the top Makefile.
IMAGE_BOARD ?= natbox_x86_64
IMAGE_PYTHON = .tox/py3/bin/python

.PHONY: image image-clean

# Every step prints its progress; steps whose inputs did not change are skipped. The .deb
# download cache lives in ~/.cache/natbox/debs (NATBOX_CACHE) and survives `make clean`.
image: setup
	@$(TOX) -q -e py3 --notest
	@$(IMAGE_PYTHON) -m natbox.imagebuild --board $(IMAGE_BOARD)

image-clean:
	rm -rf build/image out/$(IMAGE_BOARD)-*.fw
