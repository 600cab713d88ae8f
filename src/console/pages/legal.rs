//! (being written)

use crate::console::page::{Refusal, Staff};

pub async fn page(_staff: Staff) -> Refusal {
    Refusal::NotFound
}

pub async fn submit(_staff: Staff) -> Refusal {
    Refusal::NotFound
}

pub async fn answer(_staff: Staff, axum::extract::Path(_id): axum::extract::Path<String>) -> Refusal {
    Refusal::NotFound
}

pub async fn holds(_staff: Staff) -> Refusal {
    Refusal::NotFound
}
