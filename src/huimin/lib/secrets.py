"""Encryption at rest and keyed hashes for identity and account numbers."""

from __future__ import annotations

import base64
import hashlib
import hmac
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

    def seal(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        ct = self._aead.encrypt(nonce, plaintext.encode(), None)
        return base64.b64encode(nonce + ct).decode()

    def unseal(self, token: str) -> str:
        blob = base64.b64decode(token)
        return self._aead.decrypt(blob[:12], blob[12:], None).decode()

    def keyed_hash(self, value: str) -> str:
        return hmac.new(self._mac_key, value.encode(), hashlib.sha256).hexdigest()
