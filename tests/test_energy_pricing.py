"""Prices: profile energy sections as ranges, counts priced by hand, memory term, ANN pricing, ratios."""
import math

import pytest

from snn_deploy.energy import analytic, counting, pricing
from snn_deploy.energy.pricing import Energy, EnergyTable, Price
from snn_deploy.energy.report import ratio
from snn_deploy.errors import SnnDeployError

from test_energy_counting import tiny_activity, tiny_net


@pytest.fixture(scope="module")
def counts():
    net = tiny_net()
    return counting.count_network(net, tiny_activity(net))


def test_profiles_give_the_design_constants_as_ranges():
    loihi1 = pricing.load_energy_table("loihi1")
    assert loihi1.neuromorphic and not loihi1.can_run_ann
    syn = loihi1.prices["synaptic_op"]
    assert (syn.low, syn.high) == (23.6, 35.5)          # Davies 2018 vs SANA-FE
    assert set(syn.sources) == {"davies2018", "sanafe"} and "davies2018" in loihi1.references
    int32 = pricing.load_energy_table("cmos45nm-int32")
    assert (int32.prices["ac"].low, int32.prices["mac"].low) == (0.1, 3.2)
    assert pricing.load_energy_table("loihi2").estimate
    with pytest.raises(SnnDeployError, match="unknown hardware profile 'loihi9'"):
        pricing.load_energy_table("loihi9")


def test_loihi1_prices_worked_by_hand(counts):
    e = pricing.price_network(counts, pricing.load_energy_table("loihi1"))
    by = {l.name: l for l in e.layers}
    # input: 4 events x spike [1.7, 69.3]
    assert (by["in"].total.low, by["in"].total.high) == pytest.approx((6.8, 277.2))
    # h: 9 synaptic ops x [23.6, 35.5] + 5 active x [72.8, 81] + 1 inactive x [51.2, 52] + 2.5 spikes x [1.7, 69.3]
    assert by["h"].synaptic.low == pytest.approx(9 * 23.6)
    assert (by["h"].total.low, by["h"].total.high) == pytest.approx((631.85, 949.75))
    # ro: 2.5 synaptic ops, 2 active + 1 inactive updates, no spikes
    assert (by["ro"].total.low, by["ro"].total.high) == pytest.approx((255.8, 302.75))
    assert (e.total.low, e.total.high) == pytest.approx((894.45, 1529.7))


def test_arithmetic_prices_worked_by_hand(counts):
    e = pricing.price_network(counts, pricing.load_energy_table("cmos45nm-int32"))
    # h: (9 syn AC + 8 neuron AC) x 0.1 + 6 MAC x 3.2; ro: (2.5 + 3) x 0.1 + 3 x 3.2; no spike price
    assert e.total.low == e.total.high == pytest.approx(1.7 + 19.2 + 0.55 + 9.6)
    assert any("spike delivery not priced" in n for n in e.notes)


def test_sram_energy_interpolates_horowitz_log_log():
    assert pricing.sram_access_pj(8 * 1024, 64) == pytest.approx(10.0)
    assert pricing.sram_access_pj(1024 * 1024, 64) == pytest.approx(100.0)
    assert pricing.sram_access_pj(16 * 1024, 64) == pytest.approx(10 * math.sqrt(2))   # slope 1/2 on 8-32 KB
    assert pricing.sram_access_pj(16 * 1024, 32) == pytest.approx(5 * math.sqrt(2))    # half the bits


def test_memory_traffic_and_its_range_worked_by_hand(counts):
    h = counts.layer("h")
    traffic = {b.name: b for b in pricing.snn_layer_traffic(h)}
    assert (traffic["fc.weights"].low, traffic["fc.weights"].words) == (5, 4)
    assert traffic["rec.weights"].low == 4
    # state: 6 updates x 1 variable x (read + write) = 12; event-driven: + 2 x 9 synaptic ops
    assert (traffic["h.state"].low, traffic["h.state"].high) == (12, 30)
    table = pricing.load_energy_table("cmos45nm-int32")
    with_mem = pricing.price_layer(h, table, memory=True)
    e = lambda words: pricing.sram_access_pj(words * 4, 32, table.sram)   # noqa: E731
    assert with_mem.memory.low == pytest.approx(5 * e(4) + 4 * e(4) + 12 * e(2))
    assert with_mem.memory.high == pytest.approx(5 * e(4) + 4 * e(4) + 30 * e(2))
    # neuromorphic constants include their SRAM: no memory term there
    assert pricing.price_layer(h, pricing.load_energy_table("loihi1"), memory=True).memory == Energy()


def test_ann_priced_on_arithmetic_profiles_only():
    layers = analytic.ann_network_ops("gru", 7, 5, 1, 4, 10)
    ops = analytic.total_ops(layers)
    int32 = pricing.load_energy_table("cmos45nm-int32")
    e = pricing.price_ann(layers, int32)
    assert e.total.low == pytest.approx((ops.mac + ops.nonlinear) * 3.2 + ops.ac * 0.1)
    with pytest.raises(SnnDeployError, match="cannot be priced"):
        pricing.price_ann(layers, pricing.load_energy_table("loihi1"))


def test_ratio_of_ranges_is_a_range():
    assert ratio(Energy(10, 20), Energy(1, 2)) == (5, 20)


def test_price_and_table_validation():
    with pytest.raises(SnnDeployError):
        Price(2.0, 1.0)
    with pytest.raises(SnnDeployError, match="unknown energy op kinds"):
        EnergyTable("x", {"ac": Price.single(1, "s"), "mac": Price.single(1, "s"), "flop": Price.single(1, "s")})
    with pytest.raises(SnnDeployError, match="needs 'synaptic_op'"):
        EnergyTable("x", {"ac": Price.single(1, "s")})


def test_models_a_profile_cannot_run_are_flagged(counts):
    notes = pricing.price_network(counts, pricing.load_energy_table("loihi1")).notes
    assert any("does not run lif natively" in n for n in notes)
    assert not any("natively" in n for n in pricing.price_network(counts, pricing.load_energy_table("cmos45nm-int32")).notes)
