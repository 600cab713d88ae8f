//! The first page after signing in: who you are and where you can go.

use askama::Template;
use axum::response::{Redirect, Response};

use crate::console::page::{render, Nav, Staff};

#[derive(Template)]
#[template(path = "home.html", config = "src/console/askama.toml")]
struct Home {
    nav: Nav,
}

pub async fn redirect() -> Redirect {
    Redirect::permanent("/console/")
}

pub async fn page(staff: Staff) -> Response {
    render(&Home {
        nav: staff.nav("/console/"),
    })
}
