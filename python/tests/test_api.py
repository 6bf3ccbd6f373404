"""memfs.api: stages over gRPC, failures named, clean stops, bad arguments."""

import pytest

from memfs import create_fs
from memfs.api import DynamicgRPCComponent, PipelineError, PipelineOrchestrator


def test_a_failing_stage_raises_with_its_name_and_later_calls_still_work():
    calls = []

    def double(x):
        calls.append(x)
        return {"n": x["n"] * 2}

    def picky(x):
        if x["n"] > 10:
            raise ValueError("too big")
        return x

    fs = create_fs()
    with PipelineOrchestrator() as p:
        p.add_component(DynamicgRPCComponent(double, fs=fs))
        p.add_component(DynamicgRPCComponent(picky, name="picky stage", fs=fs))
        assert p.execute_pipeline({"n": 2}) == {"n": 4}
        with pytest.raises(PipelineError, match="picky_stage") as e:
            p.execute_pipeline({"n": 6})
        assert "too big" in str(e.value)
        assert p.execute_pipeline({"n": 1}) == {"n": 2}
        assert [c["n"] for c in calls] == [2, 6, 1]
    # Stopped: the ports are free again, and a new run serves again.
    assert p.execute_pipeline({"n": 3}) == {"n": 6}
    p.stop()
    assert sorted(fs.listdir("/proto")) == ["double.proto", "picky_stage.proto"]


def test_bad_arguments():
    with pytest.raises(TypeError):
        DynamicgRPCComponent("not callable")
    with pytest.raises(TypeError):
        DynamicgRPCComponent(lambda x: x, fs="nope")
    c = DynamicgRPCComponent(lambda x: x)
    assert c.name == "_lambda_" and c({"a": 1}) == {"a": 1}
    p = PipelineOrchestrator()
    p.add_component(c)
    with pytest.raises(ValueError, match="already part of a pipeline"):
        PipelineOrchestrator().add_component(c)
    with pytest.raises(TypeError):
        p.add_component(object())
    # A result that JSON cannot carry fails the stage, named.
    bad = PipelineOrchestrator().add_component(DynamicgRPCComponent(lambda x: {1, 2}, name="sets"))
    with pytest.raises(PipelineError, match="sets"):
        bad.execute_pipeline({})
    bad.stop()
    p.stop()
