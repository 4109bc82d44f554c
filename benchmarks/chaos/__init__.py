"""Every fault a scenario can inject, in one package:

- ``faults``: their declarations (link toxics, isolate, process and role faults, resource
  faults) and validation, and the schedule built from them;
- ``injector``: applies each at its time (a broker role resolved to the broker holding it
  then), heals it at its end (and always at exit), and journals both;
- ``clock_skew``: the producer's clock under libfaketime.

Link, process and toxic names come from the stack (:mod:`system.stack.names`), so the
scenario model, the stack and the docs name the same things.
"""
