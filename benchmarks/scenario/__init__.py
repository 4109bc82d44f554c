"""The scenario model: one experiment, described as data and validated before anything
starts.

- ``model``: the whole file (:class:`~benchmarks.scenario.model.Scenario`,
  ``load_scenario``, ``parse_scenario``, ``scenario_from_yaml``);
- ``base``: the base class every section derives from;
- ``sections`` (stack, producer, load), ``kafka`` (the replicated-Kafka settings),
  ``slo`` (SLOs and ``expect:`` outcomes);
- ``errors``: how validation problems are worded, each with its key path and line.

The faults a scenario injects are declared in :mod:`benchmarks.chaos.faults`, beside the
code that applies and heals them. Import from the modules (this package imports nothing,
so the chaos package can use the base class without an import cycle).
"""
