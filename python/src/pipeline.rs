//! The gRPC pipeline for Python (`memfs.api`): a Python callable served as a component over the
//! project's `Component` service (`memfs_grpc::Component`), and the orchestrator that chains
//! them (`memfs_grpc::PipelineOrchestrator`).
//!
//! A component's function runs on the server's threads: each call takes the GIL
//! (`Python::attach`), hands the stage's JSON to the Python wrapper as text and gets text
//! back (the wrapper in `memfs/api.py` does `json.loads`/`json.dumps` around the user's
//! function). `execute_pipeline` releases the GIL while the stages run, so those threads can
//! take it; holding it would deadlock the first stage.

use std::io;
use std::sync::Mutex;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use memfs_grpc::{Component as GrpcComponent, ComponentConfig, PipelineOrchestrator};

/// A component not yet added to a pipeline (adding moves it there).
#[pyclass(module = "memfs._memfs", frozen)]
pub(crate) struct Component {
    inner: Mutex<Option<GrpcComponent>>,
    name: String,
}

#[pymethods]
impl Component {
    /// `func(text) -> text` on the stage's JSON; its proto and service description go into
    /// `proto_dir` and `generated_dir` of `fs` (a `memfs._memfs.Fs`).
    #[new]
    #[pyo3(signature = (name, func, proto_dir, generated_dir, port, fs))]
    fn new(
        name: String,
        func: Py<PyAny>,
        proto_dir: String,
        generated_dir: String,
        port: u16,
        fs: &crate::Fs,
    ) -> PyResult<Self> {
        let handler = move |v: serde_json::Value| -> Result<serde_json::Value, String> {
            let text = v.to_string();
            let out: String = Python::attach(|py| {
                func.call1(py, (text,))
                    .and_then(|r| r.extract::<String>(py))
                    .map_err(|e| e.to_string())
            })?;
            serde_json::from_str(&out)
                .map_err(|e| format!("the function's result is not JSON: {e}"))
        };
        let config = ComponentConfig::new(proto_dir, generated_dir, port);
        let c = GrpcComponent::new(name.clone(), fs.engine(), config, handler)
            .map_err(|e| PyValueError::new_err(format!("component {name:?}: {e}")))?;
        Ok(Component {
            inner: Mutex::new(Some(c)),
            name,
        })
    }

    #[getter]
    fn name(&self) -> &str {
        &self.name
    }
}

/// Stages in order, each served on its own port while the pipeline runs.
#[pyclass(module = "memfs._memfs", frozen)]
pub(crate) struct Pipeline {
    inner: Mutex<PipelineOrchestrator>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn runtime_error(e: io::Error) -> PyErr {
    PyRuntimeError::new_err(e.to_string())
}

#[pymethods]
impl Pipeline {
    #[new]
    fn new() -> Self {
        Pipeline {
            inner: Mutex::new(PipelineOrchestrator::new()),
        }
    }

    fn add_component(&self, component: &Component) -> PyResult<()> {
        let c = lock(&component.inner).take().ok_or_else(|| {
            PyValueError::new_err(format!(
                "component {:?} is already part of a pipeline",
                component.name
            ))
        })?;
        lock(&self.inner).add_component(c);
        Ok(())
    }

    /// Serves every stage not served yet; returns their ports.
    fn start_servers(&self, py: Python<'_>) -> PyResult<Vec<u16>> {
        py.detach(|| lock(&self.inner).start_servers())
            .map(|addrs| addrs.into_iter().map(|a| a.port()).collect())
            .map_err(runtime_error)
    }

    /// Stops every server (waiting for each).
    fn stop_servers(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| lock(&self.inner).stop_servers())
            .map_err(runtime_error)
    }

    /// Runs the stages over gRPC on JSON text; a failing stage raises `RuntimeError` naming it.
    fn execute(&self, py: Python<'_>, text: &str) -> PyResult<String> {
        let input: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| PyValueError::new_err(format!("the input is not JSON: {e}")))?;
        let out = py
            .detach(|| lock(&self.inner).execute_pipeline(input))
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        Ok(out.to_string())
    }

    fn stage_names(&self) -> Vec<String> {
        lock(&self.inner).stage_names()
    }
}
