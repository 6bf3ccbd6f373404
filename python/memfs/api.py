"""gRPC pipelines of Python functions, with the original memfs's names: a
``DynamicgRPCComponent`` serves a function over the project's ``Component`` gRPC service (its
``.proto`` and service description are written into a ``MemoryFS``), and a
``PipelineOrchestrator`` chains components, calling each over gRPC in order.

Values travel as JSON: a stage's function takes and returns anything ``json`` can encode.
Servers start on the first ``execute_pipeline`` (or ``start_servers()``) and stop with
``stop()``, at the end of a ``with`` block, or when the orchestrator is garbage-collected. A
failing stage raises ``PipelineError`` (a ``RuntimeError``) naming the stage.
"""

import json
import re

from . import _memfs
from .memfs import MemoryFS, create_fs

__all__ = ["DynamicgRPCComponent", "PipelineError", "PipelineOrchestrator"]


class PipelineError(RuntimeError):
    """A stage failed, timed out or could not be reached; the message names the stage."""


def _stage_name(func, name):
    if name is None:
        name = getattr(func, "__name__", "component")
    name = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64] or "component"
    return name


class DynamicgRPCComponent:
    """``func`` served as a gRPC component (the original's signature; ``name`` defaults to the
    function's name, ``fs`` to a new filesystem that receives the generated files)."""

    def __init__(
        self,
        func,
        proto_dir="/proto",
        generated_dir="/generated",
        port=0,
        name=None,
        fs=None,
    ):
        if not callable(func):
            raise TypeError("func must be callable")
        if fs is not None and not isinstance(fs, MemoryFS):
            raise TypeError("fs must be a memfs.MemoryFS")
        self.func = func
        self.name = _stage_name(func, name)
        self.proto_dir = proto_dir
        self.generated_dir = generated_dir
        self.port = port
        self.fs = fs if fs is not None else create_fs()

        def call(text):
            return json.dumps(func(json.loads(text)))

        self._component = _memfs.Component(self.name, call, proto_dir, generated_dir, port, self.fs)

    def __call__(self, data):
        """Runs the function here, without gRPC."""
        return self.func(data)

    def __repr__(self):
        return f"<DynamicgRPCComponent {self.name} port={self.port}>"


class PipelineOrchestrator:
    """Components in order; ``execute_pipeline(data)`` runs them over gRPC."""

    def __init__(self):
        self._pipeline = _memfs.Pipeline()
        self.components = []

    def add_component(self, component):
        if not isinstance(component, DynamicgRPCComponent):
            raise TypeError("add_component takes a DynamicgRPCComponent")
        self._pipeline.add_component(component._component)
        self.components.append(component)
        return self

    def start_servers(self):
        """Serves every component not served yet; returns their ports, in stage order."""
        try:
            return self._pipeline.start_servers()
        except RuntimeError as e:
            raise PipelineError(str(e)) from None

    def execute_pipeline(self, data):
        """Runs every stage over gRPC on ``data`` (starting the servers if needed)."""
        self.start_servers()
        try:
            return json.loads(self._pipeline.execute(json.dumps(data)))
        except RuntimeError as e:
            raise PipelineError(str(e)) from None

    def stop(self):
        """Stops the servers (they start again on the next ``execute_pipeline``)."""
        self._pipeline.stop_servers()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False
