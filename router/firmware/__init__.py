"""The natbox firmware file as the device reads it: format, keyring and checks (the host's
build, boot stage and CLI use the same code; signing stays on the host in natbox/firmware)."""
