//! The device this window drives, once there is one. Until the first-run screen has chosen the
//! demo or a plant there is none, and every command that needs it answers `SIN_CONFIGURAR`.

use std::sync::{Arc, RwLock};

use tauri::AppHandle;
use zeues_sync::api::{ApiError, OpenReport};
use zeues_sync::service::Zeues;

use crate::events;

#[derive(Clone)]
pub struct Device {
    pub zeues: Arc<Zeues>,
    /// What opening the local database found (shown once by the UI).
    pub report: OpenReport,
}

/// Managed by Tauri; commands take `State<'_, AppCore>`.
#[derive(Default)]
pub struct AppCore {
    device: RwLock<Option<Device>>,
}

impl AppCore {
    pub fn with_device(zeues: Arc<Zeues>, report: OpenReport) -> Self {
        AppCore {
            device: RwLock::new(Some(Device { zeues, report })),
        }
    }

    fn current(&self) -> Option<Device> {
        // A panic elsewhere while holding the lock leaves a valid Option behind.
        self.device
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn device(&self) -> Result<Device, ApiError> {
        self.current().ok_or_else(|| {
            ApiError::new(
                "SIN_CONFIGURAR",
                "Este equipo aún no está configurado: elija la planta de demostración o conecte la planta.",
            )
        })
    }

    pub fn zeues(&self) -> Result<Arc<Zeues>, ApiError> {
        self.device().map(|d| d.zeues)
    }

    pub fn is_configured(&self) -> bool {
        self.current().is_some()
    }

    /// Installs the device opened after start (first run) and forwards its events to the
    /// window. A device already installed is shut down first.
    pub fn install(&self, app: &AppHandle, zeues: Arc<Zeues>, report: OpenReport) {
        events::forward(app.clone(), zeues.subscribe());
        let old = self
            .device
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .replace(Device { zeues, report });
        if let Some(old) = old {
            old.zeues.shutdown();
        }
    }

    /// Starts forwarding the events of the device opened at start (from `setup`).
    pub fn forward_events(&self, app: &AppHandle) {
        if let Some(d) = self.current() {
            events::forward(app.clone(), d.zeues.subscribe());
        }
    }

    pub fn shutdown(&self) {
        if let Some(d) = self.current() {
            d.zeues.shutdown();
        }
    }
}
