"""natbox host-side command line: build, boot and drive the virtual router."""
