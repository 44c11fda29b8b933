"""The networks: the time-frequency front end, the CNN14 classifier (and its exported folder), the L-MAC decoder."""
