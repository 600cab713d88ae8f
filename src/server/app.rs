//! The vault's whole router: the API and the staff console over it.

use std::sync::Arc;

use crate::vault::{StartError, Vault};

/// The vault's whole router: the API and the staff console.
///
/// # Errors
/// The console's origin cannot carry passkeys.
pub fn app(vault: &Arc<Vault>) -> Result<axum::Router, StartError> {
    let console = crate::console::Console::new(Arc::clone(vault)).map_err(StartError::Config)?;
    Ok(crate::http::router_with(
        Arc::clone(vault),
        crate::console::router(console),
    ))
}
