"""Secondary models on crops of tracks (faces, plates, codes): best-of-track selection and per-track votes."""
