"""Data sets: SHD/SSC (spiking HDF5), HD/SC (audio + filterbanks), downloads, the synthetic spoken-digit corpus.

Public API (everything a trainer needs)::

    open_dataset(data_dir, split, *, time_steps=100, duration=1.4, binary=False) -> SpeechDataset
    ds[i] -> (x float32 [time_steps, num_channels], y int);  ds.batch(indices) -> (x [B,T,C], y [B])
    collate(batch) -> (x [B,T,C], y [B] int64)
    read_spike_file(path) -> SpikeRecords;  write_spike_file(path, times, units, labels, class_names=...)

Imports torch, numpy and h5py only (no Lava), so training runs anywhere.
"""
from .binning import DEFAULT_DURATION_S, DEFAULT_TIME_STEPS, bin_spikes
from .dataset import INPUT_KINDS, SPLITS, SpeechDataset, collate
from .resolve import open_dataset, open_spike_file
from .shd import SHD_NUM_CHANNELS, SpikeDataset, SpikeRecords, read_spike_file, write_spike_file

__all__ = [
    "DEFAULT_DURATION_S", "DEFAULT_TIME_STEPS", "INPUT_KINDS", "SHD_NUM_CHANNELS", "SPLITS",
    "SpeechDataset", "SpikeDataset", "SpikeRecords", "bin_spikes", "collate",
    "open_dataset", "open_spike_file", "read_spike_file", "write_spike_file",
]
