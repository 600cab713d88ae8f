//! The console's screens, one file each.

pub mod access_report;
pub mod audit;
pub mod cards;
pub mod credential_offer;
pub mod enroll;
pub mod enroll_form;
pub mod home;
pub mod honey;
pub mod legal;
pub mod operations;
pub mod principals;
pub mod print_card;
pub mod reports;
pub mod retention;
pub mod sessions;
pub mod studio;
pub mod studio_cases;
pub mod studio_report;
pub mod wallet_authorize;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

use super::Console;

/// The screens' routes (beyond home, sign-in and sessions).
pub fn routes() -> Router<Arc<Console>> {
    Router::new()
        .route("/console/principals", get(principals::page).post(principals::issue))
        .route("/console/principals/action", post(principals::action))
        .route("/console/enroll", get(enroll::page).post(enroll::submit))
        .route("/console/enroll/checklist", post(enroll::checklist))
        .route("/console/cards", get(cards::page))
        .route("/console/cards/action", post(cards::action))
        .route("/console/policies", get(studio::page).post(studio::submit))
        .route("/console/legal", get(legal::page))
        .route("/console/legal/requests", post(legal::submit))
        .route("/console/legal/requests/{id}", get(legal::answer))
        .route("/console/legal/holds", post(legal::holds))
        .route("/console/audit", get(audit::page))
        .route("/console/operations", get(operations::page))
        .route("/console/honey", get(honey::page).post(honey::create))
        .route("/console/reports", get(reports::page))
        .route("/console/reports.csv", get(reports::download))
        .route("/console/retention", get(retention::page).post(retention::action))
}
