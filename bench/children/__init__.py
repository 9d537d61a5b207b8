"""Programs the benchmarks start in a fresh process, so that each one's time and peak memory are its own:
`python -m bench.children.NAME ARGS`."""
