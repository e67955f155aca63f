//! One module per screen of DOMAIN.md §5, in flow order, then the dashboard, the supervisor
//! desk and the first-run configuration.

pub mod accion;
pub mod configuracion;
pub mod confirmar;
pub mod dashboard;
pub mod exito;
pub mod metrologia;
pub mod operacion;
pub mod spools;
pub mod supervisor;
pub mod supervisor_login;
pub mod trabajador;
