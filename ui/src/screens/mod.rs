//! One module per screen of DOMAIN.md §5, in flow order.

pub mod accion;
pub mod confirmar;
pub mod dashboard;
pub mod exito;
pub mod metrologia;
pub mod operacion;
pub mod spools;
pub mod trabajador;
