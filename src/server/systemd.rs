//! Readiness for systemd (`Type=notify` units).

/// Tells systemd (a `Type=notify` unit) that the vault serves or stops;
/// nothing when it was not started by systemd (no `NOTIFY_SOCKET`).
pub(crate) fn notify(state: &[sd_notify::NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_some() {
        if let Err(e) = sd_notify::notify(false, state) {
            tracing::warn!(error = %e, "could not notify systemd");
        }
    }
}
