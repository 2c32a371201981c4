"""The chunked authenticated encryption of backups: any cut, swap or edit is refused."""

import io
import secrets

import pytest

from portal.crypto.stream import StreamError, StreamWriter, decrypt_chunks, read_meta

KEY = secrets.token_bytes(32)
CHUNK = 64


def sealed(data: bytes, key: bytes = KEY, meta: dict | None = None) -> bytes:
    out = io.BytesIO()
    writer = StreamWriter(out, key=key, meta=meta or {"kind": "test"}, chunk_bytes=CHUNK)
    for start in range(0, len(data), 50):
        writer.write(data[start : start + 50])
    writer.close()
    return out.getvalue()


def opened(blob: bytes, key: bytes = KEY) -> tuple[dict, bytes]:
    src = io.BytesIO(blob)
    preamble, file_id, meta = read_meta(src)
    chunks = decrypt_chunks(src, key=key, preamble=preamble, file_id=file_id, chunk_bytes=CHUNK)
    return meta, b"".join(chunks)


def records(blob: bytes) -> tuple[bytes, list[bytes]]:
    """(preamble, [length-prefixed records]) of a sealed stream."""
    src = io.BytesIO(blob)
    preamble = read_meta(src)[0]
    found = []
    while prefix := src.read(4):
        found.append(prefix + src.read(int.from_bytes(prefix, "big")))
    return preamble, found


def test_it_round_trips_data_across_many_chunks():
    data = secrets.token_bytes(CHUNK * 5 + 17)
    meta, plain = opened(sealed(data, meta={"created_at": "now"}))
    assert plain == data
    assert meta == {"created_at": "now"}


def test_it_round_trips_an_empty_stream_and_an_exact_multiple_of_the_chunk():
    assert opened(sealed(b""))[1] == b""
    data = secrets.token_bytes(CHUNK * 3)
    assert opened(sealed(data))[1] == data


def test_it_does_not_leak_the_plaintext():
    data = b"Alice Example, MRN A-123 " * 20
    assert b"Alice" not in sealed(data)


def test_it_refuses_a_truncated_stream_at_every_cut():
    blob = sealed(secrets.token_bytes(CHUNK * 3 + 5))
    for cut in range(len(blob) - 1, 0, -7):
        with pytest.raises(StreamError, match=r"truncated|not a Carebridge|damaged"):
            opened(blob[:cut])


def test_it_refuses_a_stream_without_its_final_chunk():
    preamble, recs = records(sealed(secrets.token_bytes(CHUNK * 3)))
    with pytest.raises(StreamError, match="truncated"):
        opened(preamble + b"".join(recs[:-1]))


def test_it_refuses_reordered_or_repeated_chunks():
    preamble, recs = records(sealed(secrets.token_bytes(CHUNK * 3)))
    swapped = [recs[1], recs[0], *recs[2:]]
    with pytest.raises(StreamError, match="chunk 0 does not authenticate"):
        opened(preamble + b"".join(swapped))
    repeated = [recs[0], recs[0], *recs[1:]]
    with pytest.raises(StreamError, match="chunk 1 does not authenticate"):
        opened(preamble + b"".join(repeated))


def test_it_refuses_a_chunk_from_another_file_with_the_same_key():
    data = secrets.token_bytes(CHUNK * 2)
    preamble, recs = records(sealed(data))
    _, other = records(sealed(data))
    with pytest.raises(StreamError, match="chunk 0 does not authenticate"):
        opened(preamble + other[0] + b"".join(recs[1:]))


def test_it_refuses_any_flipped_byte():
    blob = bytearray(sealed(secrets.token_bytes(CHUNK * 2 + 3), meta={"created_at": "then"}))
    for position in range(len(b"CBSTRM01"), len(blob), 11):
        altered = bytearray(blob)
        altered[position] ^= 0x01
        with pytest.raises(StreamError):
            opened(bytes(altered))


def test_it_refuses_bytes_after_the_final_chunk():
    with pytest.raises(StreamError, match="bytes follow the final chunk"):
        opened(sealed(b"data") + b"x")


def test_it_refuses_the_wrong_key():
    with pytest.raises(StreamError, match="another key"):
        opened(sealed(b"data"), key=secrets.token_bytes(32))


def test_it_refuses_a_file_that_is_not_a_stream():
    with pytest.raises(StreamError, match="not a Carebridge encrypted stream"):
        opened(b"PGDMP" + bytes(100))
