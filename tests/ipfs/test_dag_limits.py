"""DAG bombs against the walk that turns a DAG into file bytes: fan-out, understated sizes, depth.

Every block in these DAGs verifies against its CID; the attack is the shape.
Sizes are small so the tests stay fast; the limits are the production ones
unless a test passes its own.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cli.ipfs_cmd import app as ipfs_app
from provenance.ipfs import IpfsError
from provenance.ipfs.cid import DAG_PB, Cid, parse_cid
from provenance.ipfs.dag import iter_dag, iter_file
from provenance.ipfs.dagpb import PbLink, encode_node, encode_unixfs_file
from provenance.ipfs.errors import InconsistentDag, LimitExceeded, TooDeep, TooLarge, TooWide
from provenance.ipfs.limits import FetchLimits
from tests.cli_json import result as json_result
from tests.ipfs.bombs import Dag, chain, empty_padding, fan_bomb, raw_leaf, unsized, wide

REPO = Path(__file__).resolve().parents[2]

root_app = typer.Typer()
root_app.add_typer(ipfs_app, name="ipfs")


def run(*args: str):
    return CliRunner().invoke(root_app, ["ipfs", *args])


class CountingBlocks:
    def __init__(self, store) -> None:
        self.store, self.reads = store, 0

    def __call__(self, cid):
        self.reads += 1
        return self.store.blocks.get(cid)


def test_identical_links_with_honest_sizes_stream_within_the_limit(store):
    bomb = fan_bomb(1024, 40, 2)
    cid = bomb.put_into(store)
    assert sum(len(chunk) for chunk in store.iter_cat(cid)) == bomb.size == 1024 * 1600
    assert len(list(iter_dag(parse_cid(cid), store.blocks.get))) == 3  # the walk of blocks sees each once


def test_a_root_declaring_more_than_the_limit_is_refused_before_its_children_are_read(store):
    bomb = fan_bomb(1024, 40, 2)
    cid = bomb.put_into(store)
    reads = CountingBlocks(store)
    with pytest.raises(TooLarge, match=f"{cid} declares {bomb.size} bytes.*limit of 100000"):
        next(iter_file(parse_cid(cid), reads, FetchLimits(max_bytes=100_000)))
    assert reads.reads == 1
    with pytest.raises(TooLarge):
        store.cat(cid, limits=FetchLimits(max_bytes=100_000))


def test_the_default_limit_is_the_largest_certifiable_media(store):
    bomb = fan_bomb(1024, 2, 23)  # 8 GiB declared, 24 small blocks
    cid = bomb.put_into(store)
    with pytest.raises(TooLarge, match="8589934592 bytes"):
        next(store.iter_cat(cid))


def test_understated_sizes_stop_the_walk_at_the_declared_size(store):
    liar = fan_bomb(1024, 40, 2, honest=False)  # declares 40 bytes, holds 1.6 MB
    cid = liar.put_into(store)
    produced = 0
    with pytest.raises(InconsistentDag, match="declares"):
        for chunk in store.iter_cat(cid):
            produced += len(chunk)
    assert produced <= 1024  # not one leaf past what the parent vouched for


def test_a_node_whose_block_sizes_do_not_add_up_is_inconsistent(store):
    leaf_cid, leaf = raw_leaf(b"x" * 10)
    block = encode_node([PbLink(leaf_cid.to_bytes(), "", 10)] * 2, encode_unixfs_file(None, 25, [10, 10]))
    cid = Cid(1, DAG_PB, hashlib.sha256(block).digest())
    Dag(cid, {leaf_cid: leaf, cid: block}, 20).put_into(store)
    with pytest.raises(InconsistentDag, match="25"):
        store.cat(str(cid))


class TooManyReads(Exception):
    pass


def test_empty_nodes_below_the_root_are_refused_before_they_make_the_walk_endless(store):
    padded = empty_padding(200, 4)  # 1.6 billion visits, no output: a time bomb, not a memory one
    cid = padded.put_into(store)
    reads = CountingBlocks(store)

    def bounded(cid):
        if reads.reads > 10_000:
            raise TooManyReads(reads.reads)
        return reads(cid)

    with pytest.raises(InconsistentDag, match="empty node"):
        b"".join(iter_file(parse_cid(cid), bounded))
    assert reads.reads == 2


def test_a_node_with_more_links_than_the_limit_is_refused(store):
    cid = wide(5000).put_into(store)
    with pytest.raises(TooWide, match="5000 links"):
        store.cat(cid)
    assert store.cat(cid, limits=FetchLimits(max_links=5000)) == b"w" * 5000


def test_a_node_whose_links_declare_no_sizes_is_refused(store):
    cid = unsized().put_into(store)
    with pytest.raises(InconsistentDag, match="0 block sizes for 2 links"):
        store.cat(cid)


def test_a_deep_chain_is_walked_without_recursion_and_refused_past_the_depth_limit(store):
    deep = chain(1500)
    cid = deep.put_into(store)
    with pytest.raises(TooDeep, match="deeper than 64"):
        store.cat(cid)
    assert store.cat(cid, limits=FetchLimits(max_depth=2000)) == b"deep"
    assert len(list(iter_dag(parse_cid(cid), store.blocks.get))) == 1501


def test_limit_errors_are_ipfs_errors():
    assert issubclass(TooLarge, LimitExceeded) and issubclass(TooDeep, LimitExceeded)
    assert issubclass(LimitExceeded, IpfsError) and issubclass(InconsistentDag, IpfsError)


# -- the CLI ----------------------------------------------------------------------------------


def test_cli_cat_of_a_deep_chain_is_a_one_line_error(ipfs_home, tmp_path):
    car = chain(1500).write_car(tmp_path / "chain.car")
    cid = json_result(run("import", str(car), "--json").stdout)["roots"][0]
    out = run("cat", cid)
    assert out.exit_code == 1
    assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1 and "deeper than" in out.stderr
    assert out.exception is None or isinstance(out.exception, SystemExit)


def test_cli_cat_max_size_and_understated_sizes(ipfs_home, tmp_path):
    honest = fan_bomb(1024, 40, 2)
    cid = json_result(run("import", str(honest.write_car(tmp_path / "b.car")), "--json").stdout)["roots"][0]
    out = run("cat", cid, "--max-size", "100000")
    assert (out.exit_code, out.stdout) == (1, "")
    assert out.stderr.startswith("error: ") and "limit of 100000" in out.stderr
    cat = json_result(run("cat", cid, "--json", "-o", str(tmp_path / "ok.bin")).stdout)
    assert cat["size"] == honest.size == (tmp_path / "ok.bin").stat().st_size

    liar = fan_bomb(1024, 40, 2, honest=False)
    cid = json_result(run("import", str(liar.write_car(tmp_path / "l.car")), "--json").stdout)["roots"][0]
    target = tmp_path / "out.bin"
    out = run("cat", cid, "-o", str(target))
    assert out.exit_code == 1 and out.stderr.startswith("error: ") and "declares" in out.stderr
    assert not target.exists() and list(tmp_path.glob("*out.bin*")) == []  # no partial file left behind


def test_cli_cat_streams_in_constant_memory(tmp_path):
    """40 x 40 links over one 64 KiB leaf, 104 MB out: the process must not hold it (it held twice that)."""
    home = tmp_path / "home"
    bomb = fan_bomb(64 * 1024, 40, 2)
    env = {**os.environ, "PROVENANCE_HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PROVENANCE_IPFS_BACKEND", None)
    env.pop("PROVENANCE_IPFS_GATEWAYS", None)
    # VmHWM, not ru_maxrss: the latter also counts the forked parent's pages before exec (the pytest process).
    code = (
        "import atexit, re, sys\n"
        "hwm = lambda: re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)\n"
        "atexit.register(lambda: sys.stderr.write(f'maxrss {hwm()}\\n'))\n"
        "from cli.ipfs_cmd import app; app(prog_name='provenance ipfs')"
    )

    def cli(*args, **kwargs):
        return subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, env=env, timeout=120, **kwargs)

    assert cli("import", str(bomb.write_car(tmp_path / "bomb.car")), capture_output=True).returncode == 0
    proc = cli("cat", str(bomb.root), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.returncode == 0, proc.stderr
    maxrss_kib = int(proc.stderr.split("maxrss ")[1].split()[0])
    assert maxrss_kib < 80 * 1024, f"peak RSS {maxrss_kib} KiB for {bomb.size} bytes of output"
