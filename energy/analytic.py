"""Closed-form operation counts: paper 2 Table 2, paper 1 §4.2, and our ANN baselines by equation.

Paper 2 (Dampfhoffer et al., SpikGRU), Table 2: number of MAC and AC operations *per time step per
sample for one layer*, ``m`` inputs, ``n`` outputs, ``a_in``/``a_out`` the input/output activity
rates (spikes per neuron per time step)::

    model      MAC                 AC
    GRU        3mn + 3n^2 + 3n     3n
    RNN        mn + n^2            n
    LIF        n                   mn·a_in + (n^2 + n)·a_out + n
    CUBA-LIF   3n                  mn·a_in + (n^2 + n)·a_out + n
    SpikGRU    3n                  2mn·a_in + (2n^2 + n)·a_out + 2n

Reading of the terms (paper 2 Eq. 1-9): ``mn·a_in`` feed-forward synaptic events, ``n^2·a_out``
recurrent synaptic events, ``n·a_out`` the reset ``- vth·s[t-1]``, ``+n`` the bias; the MACs are the
element-wise products of the neuron (β⊙v for LIF; α⊙i, β⊙v, (1-β)⊙i for CUBA-LIF; α⊙i, z⊙v,
(1-z)⊙i for SpikGRU). The ANN rows count every weight as one MAC, the gating products as MACs
and the biases as ACs. The paper counts no nonlinearity (σ, tanh).

Paper 1 (Bittar & Garner 2022) §4.2: a recurrent ANN layer needs ``N_l (N_{l-1} + N_l + 1)`` MACs
per step (Eq. 10: feed-forward, recurrent, bias), a recurrent SNN layer ``ν̄ N_l (N_{l-1} + N_l + 1)``
ACs (Eq. 12). With ν̄ ≈ 0.1 and 45 nm CMOS prices quoted from Han et al. 2015 (32-bit int AC 0.1 pJ,
MAC 3.2 pJ) the SNN needs ``3.2 / (0.1 · 0.1) = 320`` times less energy.
"""
from __future__ import annotations

from dataclasses import dataclass

from snn_deploy.errors import SnnDeployError
from snn_deploy.ir import READOUT_MODES

# Paper 1 §4.2 (quoting Han et al. 2015, 45 nm CMOS, 32-bit integer): energy per operation in pJ.
PAPER1_AC_PJ = 0.1
PAPER1_MAC_PJ = 3.2
PAPER1_MEAN_RATE = 0.1


@dataclass(frozen=True)
class OpCount:
    """Operations of one layer (per step, or summed): MACs, ACs, and nonlinear function evaluations.

    ``nonlinear`` is kept apart because paper 2 does not count it; it is priced separately.
    """

    mac: float = 0.0
    ac: float = 0.0
    nonlinear: float = 0.0

    @property
    def total(self) -> float:
        """MAC + AC: paper 2's "total effective number of operations" (Fig. 3)."""
        return self.mac + self.ac

    def __add__(self, other: "OpCount") -> "OpCount":
        return OpCount(self.mac + other.mac, self.ac + other.ac, self.nonlinear + other.nonlinear)

    def scaled(self, k: float) -> "OpCount":
        return OpCount(self.mac * k, self.ac * k, self.nonlinear * k)


def _check_sizes(m: float, n: float) -> None:
    if m <= 0 or n <= 0:
        raise SnnDeployError(f"layer sizes must be positive, got m={m}, n={n}")


def _check_rates(a_in: float, a_out: float) -> None:
    if a_in < 0 or a_out < 0:
        raise SnnDeployError(f"activity rates must be >= 0, got a_in={a_in}, a_out={a_out}")


# ---- paper 2, Table 2 (per time step, one layer) ------------------------------------------------

def gru_ops(m: int, n: int) -> OpCount:
    """Paper 2 Table 2, GRU: ``3mn + 3n² + 3n`` MAC, ``3n`` AC (σ, σ, tanh: 3n nonlinear)."""
    _check_sizes(m, n)
    return OpCount(mac=3 * m * n + 3 * n * n + 3 * n, ac=3 * n, nonlinear=3 * n)


def rnn_ops(m: int, n: int) -> OpCount:
    """Paper 2 Table 2, RNN: ``mn + n²`` MAC, ``n`` AC (one activation per unit: n nonlinear)."""
    _check_sizes(m, n)
    return OpCount(mac=m * n + n * n, ac=n, nonlinear=n)


def lif_ops(m: int, n: int, a_in: float, a_out: float, recurrent: bool = True) -> OpCount:
    """Paper 2 Table 2, LIF: ``n`` MAC, ``mn·a_in + (n² + n)·a_out + n`` AC.

    ``recurrent=False`` drops the ``n²·a_out`` recurrent term (a feed-forward layer); Table 2 is
    the recurrent case.
    """
    _check_sizes(m, n)
    _check_rates(a_in, a_out)
    rec = n * n if recurrent else 0
    return OpCount(mac=n, ac=m * n * a_in + (rec + n) * a_out + n)


def cuba_lif_ops(m: int, n: int, a_in: float, a_out: float, recurrent: bool = True) -> OpCount:
    """Paper 2 Table 2, CUBA-LIF: ``3n`` MAC, ``mn·a_in + (n² + n)·a_out + n`` AC (as LIF)."""
    base = lif_ops(m, n, a_in, a_out, recurrent)
    return OpCount(mac=3 * n, ac=base.ac)


def spikgru_ops(m: int, n: int, a_in: float, a_out: float, recurrent: bool = True) -> OpCount:
    """Paper 2 Table 2, SpikGRU: ``3n`` MAC, ``2mn·a_in + (2n² + n)·a_out + 2n`` AC (σ of z: n nonlinear)."""
    _check_sizes(m, n)
    _check_rates(a_in, a_out)
    rec = 2 * n * n if recurrent else 0
    return OpCount(mac=3 * n, ac=2 * m * n * a_in + (rec + n) * a_out + 2 * n, nonlinear=n)


TABLE2_ANN = {"gru": gru_ops, "rnn": rnn_ops}
TABLE2_SNN = {"lif": lif_ops, "cuba_lif": cuba_lif_ops, "spikgru": spikgru_ops}


def table2_snn_ops(model: str, m: int, n: int, a_in: float, a_out: float, recurrent: bool = True) -> OpCount:
    """Table 2 row of a spiking model; models absent from Table 2 (adlif, mthr_lif) use the LIF row."""
    fn = TABLE2_SNN.get(model, lif_ops)
    return fn(m, n, a_in, a_out, recurrent)


# ---- paper 1, §4.2 ------------------------------------------------------------------------------

def paper1_rnn_macs(n_prev: int, n: int) -> int:
    """Paper 1 §4.2, Eq. 10: an RNN layer needs ``N_l (N_{l-1} + N_l + 1)`` MACs per time step."""
    _check_sizes(n_prev, n)
    return n * (n_prev + n + 1)


def paper1_snn_acs(n_prev: int, n: int, rate: float) -> float:
    """Paper 1 §4.2, Eq. 12: a recurrent SNN layer needs ``ν̄ N_l (N_{l-1} + N_l + 1)`` ACs per step."""
    _check_rates(rate, rate)
    return rate * paper1_rnn_macs(n_prev, n)


def paper1_energy_ratio(rate: float = PAPER1_MEAN_RATE, ac_pj: float = PAPER1_AC_PJ,
                        mac_pj: float = PAPER1_MAC_PJ) -> float:
    """Paper 1 §4.2: RNN energy / SNN energy = ``E_MAC / (ν̄ · E_AC)`` (= 320 at ν̄ = 0.1, 0.1 vs 3.2 pJ)."""
    if rate <= 0 or ac_pj <= 0:
        raise SnnDeployError(f"rate and AC energy must be positive, got rate={rate}, ac_pj={ac_pj}")
    return mac_pj / (rate * ac_pj)


# ---- ANN baselines by equation (sparch's models, DESIGN §3) -------------------------------------

def mlp_layer_ops(m: int, n: int) -> OpCount:
    """MLP layer ``y = σ(BN(W x))`` (BN folded into a bias): ``mn`` MAC, ``n`` AC, ``n`` σ."""
    _check_sizes(m, n)
    return OpCount(mac=m * n, ac=n, nonlinear=n)


def libru_layer_ops(m: int, n: int) -> OpCount:
    """liBRU layer (Bittar & Garner 2021; liGRU with a softplus candidate):
    ``z = σ(W_z x + V_z y)``, ``c = softplus(W x + V y)``, ``y = z⊙y + (1-z)⊙c``.

    Counted as paper 2 counts the GRU: ``2mn + 2n² + 2n`` MAC (two weight pairs, two gating
    products), ``2n`` AC (two folded BN biases), ``2n`` nonlinear (σ, softplus).
    """
    _check_sizes(m, n)
    return OpCount(mac=2 * m * n + 2 * n * n + 2 * n, ac=2 * n, nonlinear=2 * n)


ANN_LAYER_OPS = {"mlp": mlp_layer_ops, "rnn": rnn_ops, "libru": libru_layer_ops, "gru": gru_ops}
# weight matrices per layer kind: (feed-forward copies of [n, m], recurrent copies of [n, n])
ANN_WEIGHT_MATRICES = {"mlp": (1, 0), "rnn": (1, 1), "libru": (2, 2), "gru": (3, 3)}
#: an ANN emits no spikes: every readout mode but spike counting
ANN_READOUTS = tuple(m for m in READOUT_MODES if m != "spike_count")


def readout_ops(n: int, classes: int) -> OpCount:
    """Linear readout ``o = W y + b``: ``n·classes`` MAC and ``classes`` AC."""
    _check_sizes(n, classes)
    return OpCount(mac=n * classes, ac=classes)


@dataclass(frozen=True)
class LayerOps:
    """Operations of one named ANN layer: its per-step count, applied ``steps`` times per inference.

    ``weights`` (words) is read once per application; ``activations`` words are read or written per
    application (inputs read, outputs written, recurrent state read): the memory term's traffic.
    """

    name: str
    kind: str
    per_step: OpCount
    steps: int
    weights: int = 0
    activations: int = 0

    @property
    def per_inference(self) -> OpCount:
        return self.per_step.scaled(self.steps)


def ann_layer(kind: str, name: str, m: int, n: int, steps: int) -> LayerOps:
    ff, rec = ANN_WEIGHT_MATRICES[kind]
    return LayerOps(name, kind, ANN_LAYER_OPS[kind](m, n), steps, weights=ff * m * n + rec * n * n,
                    activations=m + n + (n if rec else 0))


def ann_readout_layers(hidden: int, num_classes: int, steps: int, readout: str = "cumsoftmax") -> list[LayerOps]:
    """The ANN readout of ``train/ann.py`` (paper 1 §2.5, sparch ``ReadoutLayerANN``).

    ``cumsoftmax``: ``logits = W_o Σ_t softmax(y_L[t])`` (+ BN folded into a bias): per step a
    softmax over the ``hidden`` units (``hidden`` nonlinear) and the running sum (``hidden`` AC),
    then the linear layer ONCE on the sum (``hidden·K`` MAC, ``K`` AC); ``train/ann.py`` also
    evaluates it on every running sum to report a per-step readout, which inference does not need.
    ``last``/``max``: the linear layer on every step (``hidden·K`` MAC, ``K`` AC per step).
    """
    if readout not in ANN_READOUTS:
        raise SnnDeployError(f"unknown ANN readout {readout!r}; choose one of {', '.join(ANN_READOUTS)}")
    linear = readout_ops(hidden, num_classes)
    if readout == "cumsoftmax":
        return [LayerOps("cumsoftmax", "softmax+sum", OpCount(ac=hidden, nonlinear=hidden), steps,
                         activations=2 * hidden),
                LayerOps("readout", "linear", linear, 1, weights=hidden * num_classes,
                         activations=hidden + num_classes)]
    return [LayerOps("readout", "linear", linear, steps, weights=hidden * num_classes,
                     activations=hidden + num_classes)]


def ann_network_ops(kind: str, input_size: int, hidden: int, hidden_layers: int, num_classes: int,
                    steps: int, readout: str = "cumsoftmax") -> list[LayerOps]:
    """Per-layer operations of an ANN baseline (``train/ann.py``) over ``steps`` input frames.

    ``hidden_layers`` layers of ``hidden`` units, each run once per frame (ModelConfig's
    ``layers`` counts the readout too: ``layers=3`` is two hidden layers), then the readout.
    """
    if kind not in ANN_LAYER_OPS:
        raise SnnDeployError(f"unknown ANN baseline {kind!r}; choose one of {', '.join(ANN_LAYER_OPS)}")
    if steps <= 0 or hidden_layers <= 0:
        raise SnnDeployError(f"steps and hidden layers must be positive, got steps={steps}, hidden_layers={hidden_layers}")
    out: list[LayerOps] = []
    m = input_size
    for i in range(hidden_layers):
        out.append(ann_layer(kind, f"{kind}{i + 1}", m, hidden, steps))
        m = hidden
    return out + ann_readout_layers(m, num_classes, steps, readout)


def total_ops(layers: list[LayerOps]) -> OpCount:
    total = OpCount()
    for layer in layers:
        total = total + layer.per_inference
    return total
