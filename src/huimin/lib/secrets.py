"""Encryption at rest and keyed hashes for identity and account numbers."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class SecretBox:
    """AES-256-GCM sealing plus an HMAC-SHA256 keyed hash for exact look-ups.

    Both keys are derived from one master secret so that a deployment sets one value.
    """

    def __init__(self, master: str) -> None:
        if len(master) < 16:
            raise ValueError("密钥过短：至少 16 个字符")
        raw = master.encode()
        self._enc_key = hashlib.sha256(b"huimin-enc:" + raw).digest()
        self._mac_key = hashlib.sha256(b"huimin-mac:" + raw).digest()
        self._aead = AESGCM(self._enc_key)
        # HMAC-SHA256 (RFC 2104) with the key's inner and outer pads hashed once: a keyed
        # hash is then two copies of a SHA-256 state, a million at a time for a bank return
        self._mac_inner = hashlib.sha256(bytes(b ^ 0x36 for b in self._mac_key.ljust(64, b"\0")))
        self._mac_outer = hashlib.sha256(bytes(b ^ 0x5C for b in self._mac_key.ljust(64, b"\0")))

    def seal(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        ct = self._aead.encrypt(nonce, plaintext.encode(), None)
        return base64.b64encode(nonce + ct).decode()

    def unseal(self, token: str) -> str:
        blob = binascii.a2b_base64(token)  # what b64decode does, without its Python wrapper
        return self._aead.decrypt(blob[:12], blob[12:], None).decode()

    def seal_bytes(self, data: bytes, context: str) -> bytes:
        """AES-256-GCM of a file's bytes: nonce + ciphertext + tag. ``context`` (e.g. the
        stored file name) is bound as associated data, so a sealed file moved under another
        name does not open."""
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, data, context.encode())

    def unseal_bytes(self, blob: bytes, context: str) -> bytes:
        return self._aead.decrypt(blob[:12], blob[12:], context.encode())

    def keyed_hash(self, value: str) -> str:
        """HMAC-SHA256 of the value under the derived key, as hex (``hmac.new(key, value,
        sha256).hexdigest()``)."""
        inner = self._mac_inner.copy()
        inner.update(value.encode())
        outer = self._mac_outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()
