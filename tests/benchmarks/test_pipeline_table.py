"""The goal table of ``python -m benchmarks.pipeline`` (no stack: its configurations and how
measured figures become verdicts; the measurements themselves are recorded, not tested)."""

from __future__ import annotations

import pytest

from benchmarks import pipeline


def test_every_configuration_is_a_valid_scenario_with_its_overrides() -> None:
    seen = {name: pipeline.configured(name) for name in pipeline.CONFIGS}
    assert seen["ours"].producer.client == "confluent-kafka"
    assert seen["ours-kafka-python"].producer.client == "kafka-python"
    assert seen["ours-sqlite"].stack.mongo == "ferretdb-sqlite"
    base = seen["seed-baseline"]
    assert (base.producer.sync_send, base.producer.client, base.stack.sink.mode,
            base.stack.trigger_ms) == (True, "kafka-python", "append", 0)
    ours = seen["ours"]
    assert (ours.stack.partitions, ours.stack.workers, ours.stack.worker_cores) == (
        base.stack.partitions, base.stack.workers, base.stack.worker_cores) == (2, 1, 1)
    assert (ours.duration_s, ours.warmup_s, ours.producer.devices) == (
        base.duration_s, base.warmup_s, base.producer.devices), "one topology, one window"


def test_verdicts_compare_each_figure_with_its_goal_and_say_what_was_not_measured() -> None:
    result = {"capacity": {"ours": {"capacity_eps": 400.0}, "ours-kafka-python":
                           {"capacity_eps": 500.0}, "seed-baseline": {"capacity_eps": 20.0}},
              "ceilings": {"ceilings_eps": {"producer_eps": 4000.0, "spark_eps": 600.0,
                                            "mongo_sink_eps": None}},
              "half_load": {"e2e_p99_ms": 900.0, "stored_to_visible_p50_ms": None,
                            "cpu_share_of_machine": {"mongo": 0.3}}}
    v = pipeline.verdicts(result)
    assert v["sustainable_eps"] == {"measured": 500.0, "goal": 8000, "met": False}
    assert v["ratio_to_slowest_ceiling"]["measured"] == pytest.approx(500 / 600, abs=1e-4)
    assert v["ratio_to_slowest_ceiling"]["met"] is True
    assert v["ratio_to_baseline"] == {"measured": 25.0, "goal": 20, "met": True}
    assert v["e2e_p99_ms_at_half"]["met"] is True
    assert v["stored_to_visible_p50_ms"]["met"] is None
    assert v["mongo_cpu_share_of_machine"]["met"] is False


def test_an_unknown_configuration_is_refused_with_the_known_ones(capsys) -> None:
    with pytest.raises(SystemExit) as raised:
        pipeline.main(["--configs", "ours,fastest"])
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert "unknown configuration(s) fastest" in err and "seed-baseline" in err


def test_a_capacity_probe_reaches_its_rate_gently_and_holds_it_through_the_window() -> None:
    from benchmarks.sweep import WARMUP_SHARE, at_rate

    base = pipeline.configured("ours")
    probe = at_rate(base, 2000)
    rates = [probe.producer.rate_at(t) for t in (0, base.warmup_s / 3 - 1)]
    assert rates == [2000 * WARMUP_SHARE] * 2  # while the new Spark application starts
    assert probe.producer.peak_rate_eps() == 2000
    window = range(int(base.warmup_s / 2), int(base.duration_s))  # settled, then measured
    assert {probe.producer.rate_at(t) for t in window} == {2000}
    no_warmup = at_rate(base.model_copy(update={"warmup_s": 0}), 2000)
    assert (no_warmup.producer.rate_eps, no_warmup.producer.profile) == (2000, None)


def test_start_rates_take_one_rate_for_all_and_name_rate_for_some() -> None:
    configs = ["ours", "seed-baseline"]
    assert pipeline.start_rates("1000,seed-baseline=250", configs) == {
        "ours": 1000.0, "seed-baseline": 250.0}
    assert pipeline.start_rates("seed-baseline=250", configs)["ours"] == pipeline.DEFAULT_START_EPS
    with pytest.raises(ValueError) as bad:
        pipeline.start_rates("fast,ours-sqlite=9,ours=-1", configs)
    assert "fast, ours-sqlite=9, ours=-1" in str(bad.value)
