//! What the start-up log tells a newcomer once the vault is open.

use std::sync::Arc;

use crate::vault::Vault;

/// Says, once the vault is open and while no staff member has registered
/// a passkey, how the first person gets into the console. Nothing secret:
/// the command it names needs the keys directory.
pub(crate) async fn first_person_hint(vault: Arc<Vault>) {
    let staff: Vec<String> = vault
        .principals
        .all()
        .iter()
        .filter(|p| p.kind == crate::domain::vocab::PrincipalKind::Staff)
        .map(|p| p.id.clone())
        .collect();
    let anyone = vault
        .read(move |v| {
            for id in &staff {
                if crate::domain::store::Store::staff_keys(&v.store, id)?.is_some_and(|k| !k.passkeys.is_empty()) {
                    return Ok(true);
                }
            }
            Ok(false)
        })
        .await
        .unwrap_or(true);
    if !anyone {
        tracing::info!(
            "nobody can sign in to the console yet: where the keys directory is, run `civic-vault console invite --id <your-id>` and open the link it prints ({}/console/)",
            vault.config.console_origin()
        );
    }
}
