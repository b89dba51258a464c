"""Paper 2 Table 2 and paper 1 §4.2 formulas, worked by hand for given m, n, a_in, a_out."""
import pytest

from snn_deploy.energy import analytic as a
from snn_deploy.errors import SnnDeployError

M, N, A_IN, A_OUT = 700, 128, 0.05, 0.12


def test_table2_gru_and_rnn_worked_by_hand():
    # GRU: 3mn + 3n^2 + 3n MAC = 3*700*128 + 3*16384 + 384 = 268800 + 49152 + 384
    g = a.gru_ops(M, N)
    assert (g.mac, g.ac) == (318336, 384)
    # RNN: mn + n^2 MAC = 89600 + 16384, n AC
    r = a.rnn_ops(M, N)
    assert (r.mac, r.ac) == (105984, 128)


def test_table2_spiking_rows_worked_by_hand():
    # LIF: n MAC; mn*a_in + (n^2+n)*a_out + n AC = 89600*0.05 + 16512*0.12 + 128 = 4480 + 1981.44 + 128
    lif = a.lif_ops(M, N, A_IN, A_OUT)
    assert lif.mac == 128
    assert lif.ac == pytest.approx(6589.44, abs=1e-9)
    # CUBA-LIF: 3n MAC, the same AC as LIF
    cuba = a.cuba_lif_ops(M, N, A_IN, A_OUT)
    assert cuba.mac == 384
    assert cuba.ac == pytest.approx(6589.44, abs=1e-9)
    # SpikGRU: 3n MAC; 2mn*a_in + (2n^2+n)*a_out + 2n AC = 8960 + 32896*0.12 + 256 = 8960 + 3947.52 + 256
    sg = a.spikgru_ops(M, N, A_IN, A_OUT)
    assert sg.mac == 384
    assert sg.ac == pytest.approx(13163.52, abs=1e-9)


def test_feedforward_variant_drops_only_the_recurrent_term():
    rec, ff = a.lif_ops(10, 4, 0.5, 0.25), a.lif_ops(10, 4, 0.5, 0.25, recurrent=False)
    assert rec.ac - ff.ac == pytest.approx(16 * 0.25)


def test_paper1_layer_counts_and_320x():
    # N_l (N_{l-1} + N_l + 1) = 128 * (700 + 128 + 1) = 106112
    assert a.paper1_rnn_macs(700, 128) == 106112
    assert a.paper1_snn_acs(700, 128, 0.1) == pytest.approx(10611.2)
    assert a.paper1_energy_ratio() == pytest.approx(320.0)
    assert a.paper1_energy_ratio(rate=0.05) == pytest.approx(640.0)


def test_ann_baselines_follow_their_equations():
    # 2 hidden GRU layers of 5 on 7 inputs, 4 classes, 9 frames, cumsoftmax readout
    layers = a.ann_network_ops("gru", 7, 5, 2, 4, 9)
    assert [l.name for l in layers] == ["gru1", "gru2", "cumsoftmax", "readout"]
    assert layers[0].per_inference.mac == 9 * (3 * 35 + 3 * 25 + 15)
    assert layers[1].per_inference.mac == 9 * (3 * 25 + 3 * 25 + 15)
    assert layers[3].per_inference.mac == 20 and layers[3].steps == 1   # linear once on the time sum
    assert layers[0].weights == 3 * 35 + 3 * 25
    libru = a.libru_layer_ops(7, 5)
    assert (libru.mac, libru.ac, libru.nonlinear) == (2 * 35 + 2 * 25 + 10, 10, 10)
    mlp = a.ann_network_ops("mlp", 7, 5, 1, 4, 9, readout="last")
    assert a.total_ops(mlp).mac == 9 * 35 + 9 * 20


@pytest.mark.parametrize("call", [
    lambda: a.gru_ops(0, 5), lambda: a.lif_ops(3, 3, -0.1, 0.0),
    lambda: a.ann_network_ops("lstm", 3, 3, 1, 2, 5), lambda: a.ann_network_ops("gru", 3, 3, 1, 2, 5, readout="mean"),
])
def test_bad_arguments_raise_user_errors(call):
    with pytest.raises(SnnDeployError):
        call()
