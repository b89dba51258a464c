"""NIR files made by snnTorch, Norse, Rockpool and Sinabs (tests/interop/fixtures, written with each
library's own export by tests/interop/make_fixtures.py, which records each library's own spikes on a
fixed input): imported and run by snn-deploy, they agree as docs/interop.md says: identical spikes
where the semantics agree, the recorded difference or one-line refusal where they do not."""
import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("nir")
FIXTURES = Path(__file__).parent / "interop" / "fixtures"
sys.path.insert(0, str(FIXTURES.parent))
from compare_fixtures import EQUATIONS, result_text, rockpool_reference, run_fixture  # noqa: E402

EXPECTED = json.loads((FIXTURES / "expected.json").read_text())
#: where the library's semantics are NIR's (zero reset at once), our run must be spike-identical
IDENTICAL = ("snntorch_leaky_zero", "snntorch_synaptic_zero")


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_fixture_imports_and_agrees_as_recorded(stem):
    got = run_fixture(FIXTURES / f"{stem}.nir")
    want = EXPECTED[stem]
    if "error" in want:
        assert got.get("error") == want["error"], got
        return
    for layer, value in want["agreement"].items():
        assert got["agreement"][layer] == pytest.approx(value, abs=1e-12), (layer, got)
    assert got["ours"] == want["ours"]


@pytest.mark.parametrize("stem", IDENTICAL)
def test_snntorch_graphs_with_nir_semantics_spike_identically(stem):
    got = run_fixture(FIXTURES / f"{stem}.nir")
    assert got["library_spikes"]["hidden"] >= 10, "too few spikes for a meaningful comparison"
    assert got["agreement"]["hidden"] == 1.0
    # the output layer is silent in these fixtures on both sides: its agreement proves nothing yet
    assert got["library_spikes"]["out"] == got["ours"]["out"] == 0


@pytest.mark.parametrize("stem", sorted(k for k in EXPECTED if k.split("_", 1)[0] in EQUATIONS))
def test_difference_is_explained_by_the_library_equations(stem):
    """Rewritten as the library's own equations (compare_fixtures.EQUATIONS), the file agrees as recorded:
    100% for Norse's LIF/CUBA and Sinabs' LIF; Rockpool's rest is its reset order (next test)."""
    got = run_fixture(FIXTURES / f"{stem}.nir", EQUATIONS[stem.split("_", 1)[0]])
    assert got.get("agreement", got) == pytest.approx(EXPECTED[stem]["explained"], abs=1e-12)
    if stem in ("norse_lif", "norse_cuba", "sinabs_lif"):
        assert got["agreement"] == {"hidden": 1.0} and got["library_spikes"]["hidden"] >= 15, got


@pytest.mark.parametrize("stem", ["rockpool_lif", "rockpool_rec"])
def test_rockpool_spikes_are_its_stated_equations_on_the_file(stem):
    got = rockpool_reference(FIXTURES / f"{stem}.nir")
    assert got == {"hidden": 1.0, "out": 1.0}
    explained = run_fixture(FIXTURES / f"{stem}.nir", EQUATIONS["rockpool"])["agreement"]
    plain = run_fixture(FIXTURES / f"{stem}.nir")["agreement"]
    assert all(v >= 0.9 for v in explained.values()) and explained["hidden"] > plain["hidden"]


def test_doc_table_is_the_generated_one():
    doc = (FIXTURES.parents[2] / "docs" / "interop.md").read_text()
    for stem, want in EXPECTED.items():
        lib, case = stem.split("_", 1)
        assert f"| {lib} | {case} | into snn-deploy | {result_text(want)} |" in doc, stem
