"""Uploaded bytes read within a stated limit (engine/core/uploads.py): a gzip bomb is refused once it
passes the limit, holding no more than the limit in memory; every source kind reads the same."""
import gzip
import io

import pytest

from engine.core.uploads import UploadError, read_limited, size_text
from tests.bombs import gzip_bomb, peak_memory

MB = 2**20


def test_a_1_gib_gzip_bomb_stops_at_an_8_mb_limit_holding_little_memory(tmp_path):
    bomb = gzip_bomb(tmp_path / "bomb.gz")  # 1.0 MB on disk, 1 GiB of zeros inside
    for source in (bomb, tmp_path / "bomb.gz", io.BytesIO(bomb)):
        peak, outcome = peak_memory(lambda: read_limited(source, 8 * MB, "corpus"))
        assert isinstance(outcome, UploadError)
        assert str(outcome) == "the decompressed corpus is larger than the limit of 8 MB (its 1.0 MB gzipped expand past it)"
        assert peak < 8 * MB + 4 * MB, f"peak {peak / MB:.0f} MB"


def test_within_the_limit_every_source_reads_the_same(tmp_path):
    text = b"hello world\n" * 1000
    (tmp_path / "a.gz").write_bytes(gzip.compress(text))
    (tmp_path / "a.txt").write_bytes(text)
    for source in (text, gzip.compress(text), tmp_path / "a.gz", str(tmp_path / "a.txt"), io.BytesIO(text)):
        assert read_limited(source, 12_000) == text


def test_limits_before_and_after_decompression_are_stated():
    with pytest.raises(UploadError) as info:
        read_limited(b"x" * (MB + 1), MB)
    assert str(info.value) == "the file is larger than the limit of 1 MB"
    assert read_limited(b"x" * MB, MB) == b"x" * MB  # exactly the limit is allowed
    with pytest.raises(UploadError) as info:
        read_limited(gzip.compress(b"x" * (MB + 1)), MB, "corpus")
    assert str(info.value).startswith("the decompressed corpus is larger than the limit of 1 MB (its ")
    with pytest.raises(UploadError, match="^the file looks gzipped but cannot be decompressed: "):
        read_limited(b"\x1f\x8b" + b"junk" * 10, MB)
    with pytest.raises(UploadError, match="^the file looks gzipped but cannot be decompressed: "):
        read_limited(gzip.compress(b"x" * 1000)[:-12], MB)  # truncated


def test_sizes_read_as_a_person_reads_them():
    assert [size_text(n) for n in (500, 2048, MB, 3 * MB // 2, 200 * MB, 2**31, 1202 * 10**9)] == \
        ["500 bytes", "2 KB", "1 MB", "1.5 MB", "200 MB", "2 GB", "1.1 TB"]
