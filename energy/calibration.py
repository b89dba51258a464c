"""Our estimate against energies measured on chips, recomputed from the published architecture.

Each :class:`Measurement` states a network that was run on a chip and whose energy per inference was
measured and published, with the architecture and the activity needed to recompute it; where the
source gives no activity, the assumed range is stated (and the estimate is a range over it).
:func:`estimate` prices it with a hardware profile exactly as the report does for a neuromorphic
profile (``pricing.price_layer``): per inference,

    E = Σ_layers (events_in · fan_out) · synaptic_op + neurons · steps · neuron_update + spikes · spike

with events_in = rate_in · inputs · steps and spikes = rate_out · neurons · steps. The low end takes
the lowest rate and the lowest price of every constant (idle neurons at ``neuron_update_inactive``),
the high end the highest of both. :func:`calibration_markdown` renders the table of
``docs/energy-calibration.md``; a test recomputes it from the data here and compares.

Only numbers that could be checked against the source are entered (see ``verified``); candidates
whose numbers could not be checked are listed in the document without numbers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .pricing import NEURON, NEURON_IDLE, SPIKE, SYNOP, Energy, EnergyTable, load_energy_table
from .references import REFERENCES


@dataclass(frozen=True)
class OnChipLayer:
    """One on-chip population and the dense that drives it (``inputs`` x ``neurons`` synapses)."""

    name: str
    inputs: int
    neurons: int
    rate_in: tuple[float, float]    # events per input per step (assumed range where unpublished)
    rate_out: tuple[float, float]   # spikes per neuron per step


@dataclass(frozen=True)
class Measurement:
    key: str
    chip: str
    profile: str                     # our profile for that chip
    task: str
    source: str                      # key into references.REFERENCES
    where: str                       # table/figure of the number
    measured_mj: tuple[float, ...]   # measured energies per inference (mJ), e.g. dynamic and total
    measured_what: tuple[str, ...]
    steps: tuple[int, int]           # time steps per inference (assumed range where unpublished)
    layers: tuple[OnChipLayer, ...]
    architecture_source: str
    assumptions: tuple[str, ...] = field(default_factory=tuple)
    verified: str = ""


MEASUREMENTS: tuple[Measurement, ...] = (
    Measurement(
        key="blouw2019-kws-loihi",
        chip="Loihi",
        profile="loihi1",
        task="keyword spotting ('aloha'), 390 -> 256 -> 256 -> 29",
        source="blouw2019",
        where="Table 1 (Loihi row: idle 0.029 W, running 0.110 W, dynamic 0.081 W, 296 inferences/s, 0.00027 J/inf)",
        measured_mj=(0.27, 0.110 / 296 * 1e3),
        measured_what=("dynamic (Table 1: 0.00027 J/inf)", "total running power / rate (0.110 W / 296 inf/s)"),
        steps=(10, 10),
        layers=(OnChipLayer("layer 1", 390, 256, (0.02, 0.2), (0.02, 0.2)),
                OnChipLayer("layer 2", 256, 256, (0.02, 0.2), (0.02, 0.2))),
        architecture_source="abr/power_benchmarks models.py (n_inputs=390, two layers of 256, 29 characters) and the "
                            "nengo-loihi keyword-spotting example (n_inputs = 390, n_outputs = 29, n_neurons = 256; "
                            "LIF tau_rc 0.02 s, tau_ref 0.001 s; 10 steps of 1 ms per input frame, p_time = 10)",
        assumptions=("10 time steps per inference (the nengo-loihi example's p_time = 10; Blouw 2019's own value "
                     "could not be read through our search tool)",
                     "spike rates 0.02-0.2 per neuron per step (20-200 Hz at dt = 1 ms) in both layers and at the "
                     "input: the paper publishes no activity",
                     "the 29-way readout is a host-side node (as in the nengo-loihi example): not priced on chip"),
        verified="Table 1 read through the search tool (stored summary page of arXiv:1812.01739); architecture "
                 "read from the authors' repository abr/power_benchmarks and the nengo-loihi example notebook",
    ),
)

# Candidates named in issue 13 whose numbers could not be read through the search tool: listed without numbers.
UNVERIFIED: tuple[tuple[str, str], ...] = (
    ("Yan, Y. et al., 'Comparing Loihi with a SpiNNaker 2 prototype on low-latency keyword spotting and adaptive "
     "robotic control', Neuromorphic Computing and Engineering 1:014002, 2021",
     "keyword spotting on a SpiNNaker 2 prototype and on Loihi; only the abstract was reachable, no energy figure"),
    ("Shrestha, S. B., Timcheck, J., Frady, P., Campos-Macias, L. and Davies, M., 'Efficient Video and Audio "
     "Processing with Loihi 2', IEEE ICASSP 2024 (arXiv:2310.03251)",
     "N-DNS audio denoising on Loihi 2; only the abstract and reference list were reachable, no energy table"),
    ("Davies, M. et al., 'Advancing Neuromorphic Computing With Loihi: A Survey of Results and Outlook', "
     "Proceedings of the IEEE, 2021",
     "survey tables of measured energy; only the abstract was reachable"),
    ("Timcheck, J. et al., 'The Intel neuromorphic DNS challenge', Neuromorphic Computing and Engineering "
     "3:034005, 2023",
     "the baseline SDNN (257 -> 512 -> 512 -> 257) is published with a Track 1 *proxy* (14.52 M-Ops/s), not a "
     "measurement; the Track 2 (Loihi 2) table of the challenge repository is empty"),
)


def _price(table: EnergyTable, kind: str) -> tuple[float, float]:
    p = table.price(kind)
    return (p.low, p.high) if p is not None else (0.0, 0.0)


def estimate(m: Measurement, table: EnergyTable | None = None) -> Energy:
    """Our energy per inference (pJ range) of measurement ``m`` on its profile (module docstring)."""
    table = table or load_energy_table(m.profile)
    syn, upd, spk = _price(table, SYNOP), _price(table, NEURON), _price(table, SPIKE)
    idle = _price(table, NEURON_IDLE) if table.price(NEURON_IDLE) else upd
    ends = []
    for i in (0, 1):   # 0: low end, 1: high end
        steps = m.steps[i]
        e = 0.0
        for layer in m.layers:
            e += layer.rate_in[i] * layer.inputs * layer.neurons * steps * syn[i]
            e += layer.neurons * steps * (idle[0] if i == 0 else upd[1])
            e += layer.rate_out[i] * layer.neurons * steps * spk[i]
        ends.append(e)
    return Energy(ends[0], ends[1])


def error_factor(m: Measurement, measured_mj: float, est: Energy) -> tuple[float, float]:
    """measured / estimate at both ends of the estimate (> 1: we underestimate)."""
    measured_pj = measured_mj * 1e9
    return (measured_pj / est.high if est.high else float("inf"), measured_pj / est.low if est.low else float("inf"))


def calibration_rows() -> list[dict]:
    rows = []
    for m in MEASUREMENTS:
        est = estimate(m)
        for value, what in zip(m.measured_mj, m.measured_what):
            lo, hi = error_factor(m, value, est)
            rows.append({"key": m.key, "chip": m.chip, "profile": m.profile, "task": m.task, "source": m.source,
                         "where": m.where, "measured": what, "measured_mj": value,
                         "estimate_mj": (est.low / 1e9, est.high / 1e9), "measured_over_estimate": (lo, hi)})
    return rows


def calibration_markdown() -> str:
    """The calibration table of docs/energy-calibration.md (recomputed by tests/test_energy_calibration.py)."""
    lines = ["| network | chip (our profile) | measured | measured mJ/inference | our estimate mJ/inference | "
             "measured / estimate |", "|---|---|---|---:|---:|---:|"]
    for r in calibration_rows():
        lo, hi = r["estimate_mj"]
        flo, fhi = r["measured_over_estimate"]
        lines.append(f"| {r['task']} [{r['source']}] | {r['chip']} ({r['profile']}) | {r['measured']} | "
                     f"{r['measured_mj']:.3g} | {lo:.3g} - {hi:.3g} | {flo:.3g}x - {fhi:.3g}x |")
    return "\n".join(lines) + "\n"


def sources_markdown() -> str:
    keys = dict.fromkeys(m.source for m in MEASUREMENTS)
    return "\n".join(f"- **{k}**: {REFERENCES[k]}" for k in keys) + "\n"
