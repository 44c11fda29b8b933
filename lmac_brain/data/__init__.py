"""Audio in: reading files, finding them, real noise, ESC-50 and your own data as manifests, data pipelines."""
