"""Several `provenance mint` at once on one home, some files given to more than one of them.

Found by bench/bench_reliability.py: two processes minting the same content
both sent it; one failed its files with "mint reverted: CertificateExists",
and, when the two had each signed their own metadata for the shared job, the
file was left `failed` ("already certified ... with other metadata") for
every later run. Each content is now claimed by one process at a time; the
others wait for it and report its result.
"""

from __future__ import annotations

import pytest

from .harness import Home, audit, photos, running, sha256_of


@pytest.fixture
def home(tmp_path_factory):
    with running(Home(tmp_path_factory.mktemp("concurrent") / "home")) as home:
        yield home


@pytest.mark.slow
def test_processes_sharing_files_all_succeed_with_one_certificate_per_content(home, tmp_path):
    shared = photos(tmp_path / "shared", 3, 90_000)
    own = [photos(tmp_path / f"own{p}", 3, 91_000 + 10 * p) for p in range(4)]
    procs = [home.spawn("mint", "--no-detect", "--json", *files, *shared) for files in own]
    runs = [proc.finish(timeout=300) for proc in procs]
    for run in runs:
        assert not run.traceback, run.stderr
        assert run.code == 0, run.stdout[-1500:] + run.stderr[-500:]
        results = run.json()
        assert all("error" not in r for r in results), [r["error"] for r in results if "error" in r]
        assert len({r["token_id"] for r in results}) == 6
    contents = [sha256_of(p) for p in shared + [f for files in own for f in files]]
    result = audit(home, contents)
    assert result.ok, result.summary()
    shared_tokens = {int(sha256_of(p), 16) for p in shared}
    assert all(result.issued[t] == 1 for t in shared_tokens)
    # Each shared content was sent by one process; the others said it was already certified.
    fresh = [r for run in runs for r in run.json() if int(r["token_id"], 16) in shared_tokens and not r["already"]]
    assert len(fresh) == 3
