"""Data sets: SHD/SSC (spiking HDF5), HD/SC (audio + filterbanks), downloads, the synthetic spoken-digit corpus.

Public API (everything a trainer needs)::

    open_dataset(data_dir, split, *, time_steps=100, duration=1.4, binary=False) -> SpeechDataset
    ds[i] -> (x float32 [time_steps, num_channels], y int);  ds.batch(indices) -> (x [B,T,C], y [B])
    collate(batch) -> (x [B,T,C], y [B] int64)
    read_spike_file(path) -> SpikeRecords;  write_spike_file(path, times, units, labels, class_names=...)

Imports torch, numpy and h5py only (no Lava), so training runs anywhere. The names are loaded on
first use (PEP 562), so ``snn-deploy`` starts, parses and refuses bad options without loading torch.
"""
import importlib

#: public name -> submodule that defines it
_EXPORTS = {
    "DEFAULT_DURATION_S": "binning", "DEFAULT_TIME_STEPS": "binning", "bin_spikes": "binning",
    "INPUT_KINDS": "dataset", "SPLITS": "dataset", "SpeechDataset": "dataset", "collate": "dataset",
    "open_dataset": "resolve", "open_spike_file": "resolve",
    "SHD_NUM_CHANNELS": "shd", "SpikeDataset": "shd", "SpikeRecords": "shd", "read_spike_file": "shd",
    "write_spike_file": "shd",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
