"""CIDs must equal Kubo's: vectors from Kubo's own test suite (test/cli/add_test.go,
test/cli/cid_profiles_test.go) plus structural checks computed independently with hashlib."""

from __future__ import annotations

import hashlib
import io
import tracemalloc

import pytest

from provenance.ipfs import ImportProfile, cid_of_bytes, cid_of_file, raw_cid_from_sha256
from provenance.ipfs.cid import DAG_PB, cid_from_bytes, parse_cid
from provenance.ipfs.dagpb import decode_node, decode_unixfs
from provenance.ipfs.importer import import_stream
from tests.ipfs.conftest import KuboRandomReader, kubo_random_bytes, write_kubo_random

CHUNK = 256 * 1024

# add_test.go, TestAdd: shortString = "hello world"
HELLO_V0 = "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD"
HELLO_V1_RAW = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
HELLO_V1_PB = "bafybeihykld7uyxzogax6vgyvag42y7464eywpf55gxi5qpoisibh3c5wa"


def test_hello_world_matches_kubo_in_all_three_profiles():
    assert cid_of_bytes(b"hello world", cid_version=0) == HELLO_V0
    assert cid_of_bytes(b"hello world", cid_version=1) == HELLO_V1_RAW
    no_raw = import_stream(io.BytesIO(b"hello world"), ImportProfile(cid_version=1, raw_leaves=False))
    assert str(no_raw.cid) == HELLO_V1_PB


def test_file_at_174_links_matches_kubo(tmp_path):
    # cid_profiles_test.go unixfs-v0-2015 FileAtMaxLinksCID: 44544KiB (174 x 256 KiB), seed "v0-seed"
    path = write_kubo_random(tmp_path / "f", 174 * CHUNK, "v0-seed")
    assert cid_of_file(path, cid_version=0) == "QmUbBALi174SnogsUzLpYbD4xPiBSFANF4iztWCsHbMKh2"


def test_file_over_174_links_rebalances_like_kubo(tmp_path):
    # cid_profiles_test.go unixfs-v0-2015 FileOverMaxLinksCID: 44800KiB (175 x 256 KiB), seed "v0-seed"
    path = write_kubo_random(tmp_path / "f", 175 * CHUNK, "v0-seed")
    assert cid_of_file(path, cid_version=0) == "QmepeWtdmS1hHXx1oZXsPUv6bMrfRRKfZcoPPU4eEfjnbf"


@pytest.mark.slow
@pytest.mark.parametrize(
    "mib, expected",
    [
        # add_test.go, "--profile=test-cid-v1": 1 MiB chunks, 174 links, CIDv1 raw leaves, seed "v1-seed"
        (174, "bafybeigwduxcf2aawppv3isnfeshnimkyplvw3hthxjhr2bdeje4tdaicu"),
        (175, "bafybeidhd7lo2n2v7lta5yamob3xwhbxcczmmtmhquwhjesi35jntf7mpu"),
    ],
)
def test_cidv1_raw_leaves_1mib_profile_matches_kubo(mib, expected):
    profile = ImportProfile(cid_version=1, raw_leaves=True, chunker="size-1048576")
    assert str(import_stream(KuboRandomReader(mib << 20, "v1-seed"), profile).cid) == expected


@pytest.mark.slow
def test_1024_links_override_matches_kubo():
    # add_test.go: 262144KiB, seed "hello world", --max-file-links 1024 -> one layer of 1024 links
    profile = ImportProfile(cid_version=0, raw_leaves=False, max_links=1024)
    imported = import_stream(KuboRandomReader(262144 * 1024, "hello world"), profile)
    assert str(imported.cid) == "QmbBftNHWmjSWKLC49dMVrfnY8pjrJYntiAXirFJ7oJrNk"


@pytest.mark.parametrize("size", [1, CHUNK - 1, CHUNK])
def test_single_chunk_v1_is_one_raw_block_of_its_sha256(size):
    data = kubo_random_bytes(size, f"single-{size}")
    assert cid_of_bytes(data, cid_version=1) == raw_cid_from_sha256(hashlib.sha256(data).digest())


def test_empty_file():
    # The empty raw block is sha256(b""); Kubo's v0 empty file is a UnixFS file node with filesize 0.
    assert cid_of_bytes(b"", cid_version=1) == raw_cid_from_sha256(hashlib.sha256(b"").digest())
    assert cid_of_bytes(b"", cid_version=0) == "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"


class _Collect:
    def __init__(self):
        self.blocks = {}

    def put_parts(self, cid, parts):
        self.blocks[cid.to_bytes()] = b"".join(bytes(p) for p in parts)


@pytest.mark.parametrize("size, leaves", [(CHUNK + 1, [CHUNK, 1]), (3 * CHUNK + 5, [CHUNK, CHUNK, CHUNK, 5])])
def test_two_level_file_links_raw_leaves_of_each_chunk(size, leaves):
    data = kubo_random_bytes(size, "two-level")
    sink = _Collect()
    root = import_stream(io.BytesIO(data), ImportProfile.for_version(1), sink).cid
    node = decode_node(sink.blocks[root.to_bytes()])
    offsets = [sum(leaves[:i]) for i in range(len(leaves))]
    expected = [raw_cid_from_sha256(hashlib.sha256(data[o : o + n]).digest()) for o, n in zip(offsets, leaves)]
    assert [str(cid_from_bytes(link.hash)[0]) for link in node.links] == expected
    assert [link.tsize for link in node.links] == leaves
    unixfs = decode_unixfs(node.data)
    assert unixfs.filesize == size and list(unixfs.blocksizes) == leaves
    assert root.codec == DAG_PB and root.version == 1


def test_174_chunks_plus_one_byte_goes_two_levels_deep():
    sink = _Collect()
    root = import_stream(KuboRandomReader(174 * CHUNK + 1, "edge"), ImportProfile.for_version(0), sink).cid
    top = decode_node(sink.blocks[root.to_bytes()])
    assert len(top.links) == 2
    first, second = (decode_node(sink.blocks[link.hash]) for link in top.links)
    assert len(first.links) == 174
    assert len(second.links) == 1
    assert decode_unixfs(second.data).filesize == 1
    assert decode_unixfs(top.data).filesize == 174 * CHUNK + 1


@pytest.mark.parametrize("parallel", [True, False])
def test_hashing_streams_in_constant_memory(tmp_path, parallel):
    from provenance.ipfs.leaves import BATCH_CHUNKS, MAX_WORKERS

    buffers = MAX_WORKERS * BATCH_CHUNKS * CHUNK if parallel else 2 * CHUNK
    path = write_kubo_random(tmp_path / "big", 4 * MAX_WORKERS * BATCH_CHUNKS * CHUNK, "memory")
    tracemalloc.start()
    try:
        with open(path, "rb") as stream:
            import_stream(stream, ImportProfile.for_version(1), parallel=parallel)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < buffers + 512 * 1024, f"peak {peak} bytes for a {path.stat().st_size}-byte file"


def test_v0_and_v1_of_the_same_multi_chunk_file_differ_only_in_profile(tmp_path):
    path = write_kubo_random(tmp_path / "f", 2 * CHUNK, "profiles")
    v0, v1 = parse_cid(cid_of_file(path, cid_version=0)), parse_cid(cid_of_file(path, cid_version=1))
    assert (v0.version, v0.codec) == (0, DAG_PB) and (v1.version, v1.codec) == (1, DAG_PB)
    assert v0.digest != v1.digest  # v1 links raw leaves, so its root bytes differ
