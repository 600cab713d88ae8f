//! The console's screens, one file each.

pub mod home;
pub mod sessions;

use std::sync::Arc;

use axum::Router;

use super::Console;

/// The screens' routes (beyond home, sign-in and sessions).
pub fn routes() -> Router<Arc<Console>> {
    Router::new()
}
