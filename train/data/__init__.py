"""Data sets: SHD/SSC (spiking HDF5), HD/SC (audio + filterbanks), downloads, the synthetic spoken-digit corpus."""
