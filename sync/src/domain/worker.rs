//! Workers, their `MR(93)` tokens and which roles may act on which operation.

use serde::{Deserialize, Serialize};

use super::header::normalize_header;
use super::spool::{DefectoOrigen, Operacion};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Rol {
    Armador,
    Soldador,
    Ayudante,
    Metrologia,
    Revestimiento,
    Pintura,
    Despacho,
    Supervisor,
}

impl Rol {
    pub const ALL: [Rol; 8] = [
        Rol::Armador,
        Rol::Soldador,
        Rol::Ayudante,
        Rol::Metrologia,
        Rol::Revestimiento,
        Rol::Pintura,
        Rol::Despacho,
        Rol::Supervisor,
    ];

    /// The name as written in the Roles tab.
    pub fn as_str(self) -> &'static str {
        match self {
            Rol::Armador => "Armador",
            Rol::Soldador => "Soldador",
            Rol::Ayudante => "Ayudante",
            Rol::Metrologia => "Metrologia",
            Rol::Revestimiento => "Revestimiento",
            Rol::Pintura => "Pintura",
            Rol::Despacho => "Despacho",
            Rol::Supervisor => "Supervisor",
        }
    }

    /// Accent- and case-insensitive: `Metrología`, `METROLOGIA` and `metrologia` are one role.
    pub fn parse(s: &str) -> Option<Rol> {
        let n = normalize_header(s);
        Rol::ALL
            .into_iter()
            .find(|r| normalize_header(r.as_str()) == n)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Worker {
    pub id: u32,
    pub nombre: String,
    pub apellido: String,
    pub activo: bool,
    /// Active roles only, sorted, no duplicates.
    pub roles: Vec<Rol>,
}

fn first_letter(s: &str) -> String {
    s.split_whitespace()
        .next()
        .and_then(|w| w.chars().next())
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default()
}

impl Worker {
    /// `Mauricio Rodriguez`, 93 → `MR(93)`. Tokens are not unique without the id.
    pub fn token(&self) -> String {
        format!(
            "{}{}({})",
            first_letter(&self.nombre),
            first_letter(&self.apellido),
            self.id
        )
    }

    pub fn nombre_completo(&self) -> String {
        format!("{} {}", self.nombre.trim(), self.apellido.trim())
    }

    pub fn has(&self, rol: Rol) -> bool {
        self.roles.contains(&rol)
    }

    /// A worker is listed only when active and holding at least one active role.
    pub fn is_listed(&self) -> bool {
        self.activo && !self.roles.is_empty()
    }

    /// Who may act (DOMAIN.md §2). REPARACIÓN follows the defect's origin; unknown → either.
    pub fn may_act(&self, op: Operacion, defecto: Option<DefectoOrigen>) -> bool {
        match op {
            Operacion::Arm => self.has(Rol::Armador) || self.has(Rol::Ayudante),
            Operacion::Sold => self.has(Rol::Soldador) || self.has(Rol::Ayudante),
            Operacion::Metrologia => self.has(Rol::Metrologia),
            Operacion::Reparacion => match defecto {
                Some(DefectoOrigen::Arm) => self.has(Rol::Armador),
                Some(DefectoOrigen::Sold) => self.has(Rol::Soldador),
                None => self.has(Rol::Armador) || self.has(Rol::Soldador),
            },
        }
    }

    pub fn roles_text(&self) -> String {
        if self.roles.is_empty() {
            return "ninguno".to_string();
        }
        self.roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The worker id at the end of a token: `MR(93)` → 93. Legacy cells with plain names → `None`.
pub fn worker_id_from_token(token: &str) -> Option<u32> {
    let t = token.trim();
    let inner = t.strip_suffix(')')?;
    let open = inner.rfind('(')?;
    let digits = &inner[open + 1..];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|id| *id > 0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn w(nombre: &str, apellido: &str, id: u32, roles: &[Rol]) -> Worker {
        Worker {
            id,
            nombre: nombre.into(),
            apellido: apellido.into(),
            activo: true,
            roles: roles.to_vec(),
        }
    }

    #[test]
    fn tokens() {
        assert_eq!(w("Mauricio", "Rodriguez", 93, &[]).token(), "MR(93)");
        assert_eq!(w("Juan Carlos", "Pérez López", 94, &[]).token(), "JP(94)");
        assert_eq!(w("maría josé", "garcía", 95, &[]).token(), "MG(95)");
        assert_eq!(w("Ángel", "Ñuñez", 7, &[]).token(), "ÁÑ(7)");
    }

    #[test]
    fn id_recovery() {
        assert_eq!(worker_id_from_token("MR(93)"), Some(93));
        assert_eq!(worker_id_from_token(" JP(94) "), Some(94));
        assert_eq!(worker_id_from_token("Juan Pérez"), None);
        assert_eq!(worker_id_from_token("X(a1)"), None);
        assert_eq!(worker_id_from_token("X(0)"), None);
    }

    #[test]
    fn roles_are_accent_insensitive() {
        assert_eq!(Rol::parse("Metrología"), Some(Rol::Metrologia));
        assert_eq!(Rol::parse(" SUPERVISOR "), Some(Rol::Supervisor));
        assert_eq!(Rol::parse("Jefe"), None);
    }

    #[test]
    fn who_may_act() {
        let ayudante = w("A", "B", 1, &[Rol::Ayudante]);
        assert!(ayudante.may_act(Operacion::Arm, None));
        assert!(ayudante.may_act(Operacion::Sold, None));
        assert!(!ayudante.may_act(Operacion::Metrologia, None));
        assert!(!ayudante.may_act(Operacion::Reparacion, None));
        let soldador = w("A", "B", 2, &[Rol::Soldador]);
        assert!(soldador.may_act(Operacion::Reparacion, Some(DefectoOrigen::Sold)));
        assert!(!soldador.may_act(Operacion::Reparacion, Some(DefectoOrigen::Arm)));
        assert!(soldador.may_act(Operacion::Reparacion, None));
        assert!(!soldador.may_act(Operacion::Arm, None));
    }
}
