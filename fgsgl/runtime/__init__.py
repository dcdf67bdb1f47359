"""How fgsgl runs: the compute a process may use (cpus, device) and the runtime the KFP
components and the pipeline code call (tasks, parameters, runs).

The components stay thin: each body calls one function here or in the library; the
pipeline code maps run parameters with `parameters` and records local runs with `runs`.
None of these modules imports kfp.
"""
