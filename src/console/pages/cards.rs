//! (being written)

use crate::console::page::{Refusal, Staff};

pub async fn page(_staff: Staff) -> Refusal {
    Refusal::NotFound
}

pub async fn action(_staff: Staff) -> Refusal {
    Refusal::NotFound
}
