"""Full citations of every source the energy report leans on (authors, title, venue, year).

Reports name them by key ("paper 1", "Table 2 of paper 2", a profile's source keys) and list them in
full at the end, so that no number stands without its source.
"""
from __future__ import annotations

REFERENCES: dict[str, str] = {
    "paper1": "Bittar, A. and Garner, P. N., 'A surrogate gradient spiking baseline for speech command recognition', "
              "Frontiers in Neuroscience 16:865897, 2022 (doi:10.3389/fnins.2022.865897). Cited as paper 1; §4.2 is its "
              "energy estimate.",
    "paper2": "Dampfhoffer, M., Mesquida, T., Valentian, A. and Anghel, L., 'Investigating Current-Based and Gating "
              "Approaches for Accurate and Energy-Efficient Spiking Recurrent Neural Networks', Artificial Neural "
              "Networks and Machine Learning - ICANN 2022, LNCS 13531, Springer, 2022. Cited as paper 2; its Table 2 "
              "gives the MAC/AC counts per layer and time step.",
    "han2015": "Han, S., Pool, J., Tran, J. and Dally, W. J., 'Learning both Weights and Connections for Efficient "
               "Neural Networks', Advances in Neural Information Processing Systems (NeurIPS) 28, 2015 (the 45 nm "
               "energies paper 1 quotes).",
    "horowitz2014": "Horowitz, M., 'Computing's energy problem (and what we can do about it)', IEEE International "
                    "Solid-State Circuits Conference (ISSCC), 2014, pp. 10-14.",
    "lemaire2022": "Lemaire, E., Cordone, L., Castagnetti, A., Novac, P.-E., Courtois, J. and Miramond, B., 'An "
                   "Analytical Estimation of Spiking Neural Networks Energy Efficiency', Neural Information Processing "
                   "- ICONIP 2022, LNCS 13623, Springer, 2023 (the memory-access term).",
    "neurobench": "Yik, J. et al., 'The NeuroBench framework for benchmarking neuromorphic computing algorithms and "
                  "systems', Nature Communications 16, 2025; harness 'neurobench' 2.3.0 (metrics/workload: "
                  "SynapticOperations, ActivationSparsity, MembraneUpdates).",
    "davies2018": "Davies, M. et al., 'Loihi: A Neuromorphic Manycore Processor with On-Chip Learning', IEEE Micro "
                  "38(1):82-99, 2018.",
    "blouw2019": "Blouw, P., Choo, X., Hunsberger, E. and Eliasmith, C., 'Benchmarking Keyword Spotting Efficiency on "
                 "Neuromorphic Hardware', Proceedings of the 7th Annual Neuro-inspired Computational Elements "
                 "Workshop (NICE '19), ACM, 2019 (arXiv:1812.01739).",
    "abr_power_benchmarks": "Applied Brain Research, 'ABR Keyword Spotting Power Benchmarks', "
                            "github.com/abr/power_benchmarks (commit fce95c8, 2019): the paper's LaTeX source "
                            "(paper/power_summary_acm_format.tex), figures, models.py, analysis/analysis.py and the raw "
                            "Loihi power logs (logs/running/loihi_*.csv|json, logs/idle/loihi*.csv).",
    "lavadl_pilotnet": "Intel Labs, lava-dl 'PilotNet LIF Benchmarking Example' run on a Loihi 2 board, "
                       "github.com/lava-nc/lava-dl tutorials/lava/lib/dl/netx/pilotnet_snn/benchmark.ipynb (recorded "
                       "outputs at commit b9e3691, 2023-01-10; earlier runs at 211bec8, b5200e2, baa23ad), with its "
                       "network.net and lava-dl's recorded spikes of the same network "
                       "(tests/lava/lib/dl/netx/gts/pilotnet_lif/).",
}


def cite(key: str) -> str:
    """The full citation of ``key``."""
    return REFERENCES[key]
