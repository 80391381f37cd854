//! torsion's native module: the reactor core and its Python bindings.

pub mod core;
pub mod py;

use pyo3::prelude::*;

#[pymodule]
fn _torsion(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<py::reactor::ReactorBase>()?;
    m.add_class::<py::delayed_call::DelayedCall>()?;
    m.add_class::<py::stream::Stream>()?;
    m.add_class::<py::port::ListeningPort>()?;
    m.add_class::<py::datagram::DatagramPort>()?;
    m.add_function(wrap_pyfunction!(py::dispatch::_dispatching, m)?)?;
    m.add_function(wrap_pyfunction!(
        py::cpython::fast_write::_install_fast_write,
        m
    )?)?;
    Ok(())
}
