//! Roles and the guard every route and service method calls.

use serde::{Deserialize, Serialize};

use crate::error::{AuthError, Result};
use crate::token::Claims;

/// What a user may do. Each role includes the ones below it: an ADMIN may do what an EDITOR may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Role {
    /// A listener: discovery with a higher rate limit.
    User,
    /// Creates, edits and publishes content.
    Editor,
    /// Manages users and reads the audit log.
    Admin,
}

impl Role {
    pub const ALL: [Self; 3] = [Self::User, Self::Editor, Self::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "USER",
            Self::Editor => "EDITOR",
            Self::Admin => "ADMIN",
        }
    }

    pub fn parse(input: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str().eq_ignore_ascii_case(input))
    }

    /// Whether this role may do what `required` may.
    pub fn includes(self, required: Role) -> bool {
        self >= required
    }

    /// Passes when this role includes `required`; the guard every service shares.
    pub fn require(self, required: Role) -> Result<()> {
        if self.includes(required) {
            Ok(())
        } else {
            Err(AuthError::Forbidden(format!("this action needs the {} role", required.as_str())))
        }
    }
}

/// Passes when the verified caller holds `role` (or a higher one).
pub fn require(claims: &Claims, role: Role) -> Result<()> {
    claims.role.require(role)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_roles_include_lower_ones() {
        assert!(Role::Admin.includes(Role::Editor));
        assert!(Role::Editor.includes(Role::Editor));
        assert!(!Role::Editor.includes(Role::Admin));
        assert!(!Role::User.includes(Role::Editor));
        assert_eq!(Role::parse("editor"), Some(Role::Editor));
        assert_eq!(Role::parse("root"), None);
        assert_eq!(serde_json::to_string(&Role::Admin).expect("serialises"), r#""ADMIN""#);
    }
}
