"""The natbox firmware file: manifest, payloads, Ed25519 signature (see image/README.md)."""
