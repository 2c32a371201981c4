"""Authenticated encryption of a byte stream in chunks (backups and key backups).

A file is a preamble, then records::

    preamble = MAGIC (8) | file id (16 random bytes) | meta length (4, big-endian) | meta
    record   = length (4, big-endian) | v1 blob (primitives.Aead: 0x01 | nonce | ciphertext | tag)

``meta`` is JSON that anyone may read (the key id, when the backup was taken,
the schema version): it holds no PHI and no secret, and it is authenticated,
because every chunk's associated data starts with the SHA-256 of the whole
preamble. Each chunk is sealed under a key derived for this file alone
(HKDF of the given key with the file id), with associated data::

    SHA-256(preamble) | sequence number (8, big-endian) | final flag (1)

GCM authenticates the chunk's nonce with its tag, and the sequence number and
final flag are in the associated data, so a chunk that is reordered, dropped,
repeated, moved to another file or relabelled as the last one does not open.
The writer always ends with one chunk flagged final (it may be empty); a
reader that reaches the end of the file without it reports a truncation, and
bytes after it are refused. Nothing is held in memory beyond one chunk.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from typing import IO, Any, Protocol

from portal.crypto.errors import CryptoError, InvalidCiphertext
from portal.crypto.primitives import OVERHEAD, Aead, derive_key

MAGIC = b"CBSTRM01"
FILE_ID_BYTES = 16
CHUNK_BYTES = 1024 * 1024
MAX_META_BYTES = 64 * 1024
STREAM_INFO = b"carebridge:stream:v1\x00"


class Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class StreamError(CryptoError):
    """An encrypted stream is not ours, is truncated, or was altered. Names no content."""


def key_id(key: bytes, *, purpose: bytes) -> str:
    """A short public fingerprint of a key, to tell which key a file needs."""
    return hashlib.sha256(b"carebridge:key-id:" + purpose + b"\x00" + key).hexdigest()[:16]


def _chunk_aad(preamble_digest: bytes, seq: int, final: bool) -> bytes:
    return preamble_digest + seq.to_bytes(8, "big") + (b"\x01" if final else b"\x00")


def _file_aead(key: bytes, file_id: bytes) -> Aead:
    return Aead(derive_key(key, info=STREAM_INFO + file_id))


class StreamWriter:
    """Writes ``meta`` and then whatever is written to it, sealed chunk by chunk, to ``out``.

    Call :meth:`close` to write the final chunk: a stream never closed reads as
    truncated. Counts the plaintext and ciphertext bytes and hashes both.
    """

    def __init__(
        self, out: IO[bytes], *, key: bytes, meta: dict[str, Any], chunk_bytes: int = CHUNK_BYTES
    ) -> None:
        self.file_id = os.urandom(FILE_ID_BYTES)
        meta_bytes = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
        if len(meta_bytes) > MAX_META_BYTES:
            raise ValueError("stream meta is too large")
        preamble = MAGIC + self.file_id + len(meta_bytes).to_bytes(4, "big") + meta_bytes
        self._out = out
        self._aead = _file_aead(key, self.file_id)
        self._digest = hashlib.sha256(preamble).digest()
        self._chunk_bytes = chunk_bytes
        self._buffer = bytearray()
        self._seq = 0
        self.closed = False
        self.plaintext_bytes = 0
        self.plaintext_sha256 = hashlib.sha256()
        self.ciphertext_bytes = 0
        self.ciphertext_sha256 = hashlib.sha256()
        self._emit(preamble)

    def _emit(self, data: bytes) -> None:
        self._out.write(data)
        self.ciphertext_bytes += len(data)
        self.ciphertext_sha256.update(data)

    def _seal(self, chunk: bytes, *, final: bool) -> None:
        blob = self._aead.seal(chunk, _chunk_aad(self._digest, self._seq, final))
        self._emit(len(blob).to_bytes(4, "big") + blob)
        self._seq += 1

    def write(self, data: bytes) -> None:
        if self.closed:
            raise ValueError("write to a closed stream")
        self.plaintext_bytes += len(data)
        self.plaintext_sha256.update(data)
        self._buffer += data
        while len(self._buffer) >= self._chunk_bytes:
            self._seal(bytes(self._buffer[: self._chunk_bytes]), final=False)
            del self._buffer[: self._chunk_bytes]

    def close(self) -> None:
        """Seal what is buffered as the final chunk."""
        if not self.closed:
            self._seal(bytes(self._buffer), final=True)
            self._buffer.clear()
            self.closed = True

    @property
    def chunks(self) -> int:
        return self._seq


def _read_exactly(src: Reader, n: int, what: str) -> bytes:
    data = src.read(n)
    if len(data) != n:
        raise StreamError(f"the file is truncated ({what} is cut short)")
    return data


def read_meta(src: Reader) -> tuple[bytes, bytes, dict[str, Any]]:
    """(preamble, file id, meta) from the start of ``src``; the meta is not yet authenticated."""
    head = src.read(len(MAGIC))
    if head != MAGIC:
        raise StreamError("not a Carebridge encrypted stream (wrong magic bytes)")
    file_id = _read_exactly(src, FILE_ID_BYTES, "the header")
    length = int.from_bytes(_read_exactly(src, 4, "the header"), "big")
    if length > MAX_META_BYTES:
        raise StreamError("the header is damaged (implausible length)")
    meta_bytes = _read_exactly(src, length, "the header")
    try:
        meta = json.loads(meta_bytes)
    except ValueError:
        raise StreamError("the header is damaged (not JSON)") from None
    if not isinstance(meta, dict):
        raise StreamError("the header is damaged (not an object)")
    return head + file_id + length.to_bytes(4, "big") + meta_bytes, file_id, meta


def decrypt_chunks(
    src: Reader, *, key: bytes, preamble: bytes, file_id: bytes, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[bytes]:
    """The plaintext chunks after :func:`read_meta`, each authenticated before it is yielded.

    Raises StreamError when a chunk does not authenticate (altered, reordered,
    wrong key), when the file ends before the final chunk (truncated), or when
    bytes follow it.
    """
    aead = _file_aead(key, file_id)
    digest = hashlib.sha256(preamble).digest()
    seq = 0
    while True:
        prefix = src.read(4)
        if not prefix:
            raise StreamError(f"the file is truncated (it ends after {seq} chunks, not the last)")
        if len(prefix) != 4:
            raise StreamError("the file is truncated (a chunk is cut short)")
        length = int.from_bytes(prefix, "big")
        if not OVERHEAD <= length <= chunk_bytes + OVERHEAD:
            raise StreamError(f"chunk {seq} is damaged (implausible length)")
        blob = _read_exactly(src, length, f"chunk {seq}")
        plaintext = None
        for final in (False, True):
            try:
                plaintext = aead.open(blob, _chunk_aad(digest, seq, final))
            except InvalidCiphertext:
                continue
            break
        if plaintext is None:
            raise StreamError(
                f"chunk {seq} does not authenticate: the file was altered, its chunks "
                "reordered, or it was made with another key"
            )
        yield plaintext
        seq += 1
        if final:
            if src.read(1):
                raise StreamError("bytes follow the final chunk: the file was altered")
            return
