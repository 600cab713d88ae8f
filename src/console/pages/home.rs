//! The first page after signing in: who you are and where you can go (an
//! admin goes straight to the operations dashboard).

use askama::Template;
use axum::response::{IntoResponse, Redirect, Response};

use crate::console::page::{render, Nav, Staff};
use crate::domain::vocab::Role;

#[derive(Template)]
#[template(path = "home.html", config = "src/console/askama.toml")]
struct Home {
    nav: Nav,
}

pub async fn redirect() -> Redirect {
    Redirect::permanent("/console/")
}

/// An admin lands on the operations dashboard; everyone else on the list
/// of their screens.
pub async fn page(staff: Staff) -> Response {
    if staff.has(Role::Admin) {
        return Redirect::to("/console/operations").into_response();
    }
    render(&Home {
        nav: staff.nav("/console/"),
    })
}
