# Firmware image (buildroot-style; see image/README.md). Included by the top Makefile.
IMAGE_BOARD ?= natbox_x86_64
IMAGE_PYTHON = .tox/py3/bin/python
# A firmware to test updates with: `make image VERSION=0.2.0` (COMPAT_VERSION=2.0 for a compat
# bump) builds out/$(IMAGE_BOARD)-0.2.0.fw in build/image/$(IMAGE_BOARD)@0.2.0/, leaving the
# default build as it is. Taken from the command line only: a VERSION in the environment
# (CI jobs often export one) is not meant for us.
image_arg = $(if $(and $(filter command line,$(origin $(1))),$($(1))),$(2) '$($(1))')
IMAGE_VERSION_ARGS = $(call image_arg,VERSION,--version) \
                     $(call image_arg,COMPAT_VERSION,--compat-version)

.PHONY: image image-clean

# Every step prints its progress; steps whose inputs did not change are skipped. The .deb
# download cache lives in ~/.cache/natbox/debs (NATBOX_CACHE) and survives `make clean`.
image: setup
	@$(TOX) -q -e py3 --notest
	@$(IMAGE_PYTHON) -m natbox.imagebuild --board $(IMAGE_BOARD) $(IMAGE_VERSION_ARGS)

image-clean:
	rm -rf build/image out/$(IMAGE_BOARD)-*.fw
