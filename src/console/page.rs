//! What every console page shares: who is signed in ([`Staff`]), the
//! navigation, the refusals, the same-origin rule and the static files.

use std::sync::Arc;

use askama::Template;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::api::{self, Answer};
use super::session::{Session, COOKIE};
use super::Console;
use crate::domain::principal::{Principal, PrincipalStatus};
use crate::domain::vocab::{PrincipalKind, Role};
use crate::http::{ConsoleCaller, Peer};

/// The signed-in person behind a console request.
pub struct Staff {
    pub console: Arc<Console>,
    pub principal: Arc<Principal>,
    pub session: Session,
    /// The cookie's secret (to use up a step-up, to sign out).
    pub secret: String,
    pub peer: Option<Peer>,
}

/// Why a console request was not served, as a page.
#[derive(Debug)]
pub enum Refusal {
    /// No live session: to the sign-in page.
    SignIn,
    /// 403 with a reason.
    NotAllowed(String),
    /// 400 with a reason.
    Bad(String),
    /// 404.
    NotFound,
}

#[derive(Template)]
#[template(path = "refusal.html", config = "src/console/askama.toml")]
struct RefusalPage<'a> {
    nav: Nav,
    heading: &'a str,
    message: &'a str,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, heading, message) = match &self {
            Self::SignIn => return Redirect::to("/console/login").into_response(),
            Self::NotAllowed(m) => (StatusCode::FORBIDDEN, "Not allowed", m.as_str()),
            Self::Bad(m) => (StatusCode::BAD_REQUEST, "Cannot do that", m.as_str()),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is no such page in the console.",
            ),
        };
        let page = RefusalPage {
            nav: Nav::anonymous(),
            heading,
            message,
        };
        (status, render(&page)).into_response()
    }
}

/// A rendered page (an internal error renders as a plain refusal).
pub fn render<T: Template>(page: &T) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered").into_response(),
    }
}

/// The cookie's secret in a request, if any.
pub fn cookie_secret(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// The `Set-Cookie` value that starts a session.
pub fn session_cookie(secret: &str) -> String {
    format!("{COOKIE}={secret}; Path=/; HttpOnly; Secure; SameSite=Strict")
}

/// The `Set-Cookie` value that ends one.
pub fn cleared_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0")
}

/// The principal a session stands for, while it may still use the console.
pub fn session_principal(console: &Console, session: &Session) -> Option<Arc<Principal>> {
    console.vault.principals.get(&session.principal).filter(|p| {
        p.status == PrincipalStatus::Active && p.kind == PrincipalKind::Staff && p.token_hash == session.token_hash
    })
}

impl FromRequestParts<Arc<Console>> for Staff {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, console: &Arc<Console>) -> Result<Self, Refusal> {
        let secret = cookie_secret(&parts.headers).ok_or(Refusal::SignIn)?;
        let now = console.vault.clock.now().unix_timestamp();
        let session = console.sessions.touch(&secret, now).ok_or(Refusal::SignIn)?;
        let Some(principal) = session_principal(console, &session) else {
            console.sessions.end(&secret);
            return Err(Refusal::SignIn);
        };
        Ok(Self {
            console: Arc::clone(console),
            principal,
            session,
            secret,
            peer: parts.extensions.get::<Peer>().copied(),
        })
    }
}

impl Staff {
    /// Makes the API request this console action stands for.
    pub async fn call(&self, method: Method, uri: &str, body: Option<&serde_json::Value>) -> Answer {
        let caller = ConsoleCaller {
            principal: self.principal.id.clone(),
            token_hash: self.principal.token_hash,
        };
        api::call(&self.console.api, &caller, self.peer, method, uri, body).await
    }

    /// [`Staff::call`], with a refusal page for anything but success.
    ///
    /// # Errors
    /// The API's refusal, in its words.
    pub async fn call_ok(
        &self,
        method: Method,
        uri: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, Refusal> {
        let answer = self.call(method, uri, body).await;
        refusal_of(&answer).map_or(Ok(answer), Err)
    }

    /// Checks a form's CSRF token.
    ///
    /// # Errors
    /// 403 when it is missing or wrong.
    pub fn check_csrf(&self, token: Option<&str>) -> Result<(), Refusal> {
        match token {
            Some(t) if self.session.csrf_matches(t) => Ok(()),
            _ => Err(Refusal::NotAllowed(
                "The form was missing its security token (CSRF). Reload the page and try again.".into(),
            )),
        }
    }

    /// Uses up the session's fresh passkey check.
    ///
    /// # Errors
    /// 403 when there was none within the window.
    pub fn require_step_up(&self) -> Result<(), Refusal> {
        if self.console.sessions.take_step_up(&self.secret) {
            Ok(())
        } else {
            Err(Refusal::NotAllowed(
                "This action needs a fresh passkey check: press the button again and confirm with your passkey.".into(),
            ))
        }
    }

    #[must_use]
    pub fn has(&self, role: Role) -> bool {
        self.principal.roles.contains(&role)
    }

    /// The navigation for this person.
    #[must_use]
    pub fn nav(&self, current: &str) -> Nav {
        let links = SCREENS
            .iter()
            .filter(|(_, _, roles)| roles.is_empty() || roles.iter().any(|r| self.has(*r)))
            .map(|(href, label, _)| NavLink {
                href,
                label,
                current: *href == current,
            })
            .collect();
        Nav {
            who: Some(self.principal.id.clone()),
            roles: self
                .principal
                .roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            csrf: Some(self.session.csrf.clone()),
            links,
        }
    }
}

/// The refusal page when the API refused the person (401, 403); any other
/// failure is the screen's to explain in its own words.
///
/// # Errors
/// That refusal.
pub fn check_allowed(answer: &Answer) -> Result<(), Refusal> {
    if matches!(answer.status.as_u16(), 401 | 403) {
        Err(refusal_of(answer).unwrap_or(Refusal::SignIn))
    } else {
        Ok(())
    }
}

/// The refusal page for an API answer that was not a success.
#[must_use]
pub fn refusal_of(answer: &Answer) -> Option<Refusal> {
    let (code, message) = answer.error()?;
    Some(match answer.status {
        StatusCode::UNAUTHORIZED => Refusal::SignIn,
        StatusCode::FORBIDDEN => Refusal::NotAllowed(format!(
            "The vault's policies do not allow this for your roles ({code}). {message}"
        )),
        StatusCode::NOT_FOUND => Refusal::NotFound,
        _ => Refusal::Bad(message),
    })
}

/// The console's screens: path, label, and the roles that use them (empty: everyone).
const SCREENS: &[(&str, &str, &[Role])] = &[
    ("/console/operations", "Operations", &[Role::Admin, Role::Auditor]),
    ("/console/enroll", "Counter", &[Role::Clerk]),
    ("/console/cards", "Cards", &[Role::Clerk]),
    ("/console/policies", "Policy studio", &[Role::PrivacyOfficer]),
    ("/console/legal", "Legal desk", &[Role::Legal, Role::PrivacyOfficer]),
    ("/console/audit", "Audit", &[Role::Auditor, Role::PrivacyOfficer]),
    ("/console/honey", "Honey cards", &[Role::PrivacyOfficer]),
    (
        "/console/reports",
        "Quarterly report",
        &[Role::PrivacyOfficer, Role::Auditor],
    ),
    (
        "/console/retention",
        "Retention",
        &[Role::Admin, Role::PrivacyOfficer, Role::Auditor],
    ),
    ("/console/principals", "Principals", &[Role::Admin, Role::Auditor]),
    ("/console/sessions", "Sessions", &[]),
];

pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// The header of every page.
pub struct Nav {
    pub who: Option<String>,
    pub roles: String,
    pub csrf: Option<String>,
    pub links: Vec<NavLink>,
}

impl Nav {
    #[must_use]
    pub fn anonymous() -> Self {
        Self {
            who: None,
            roles: String::new(),
            csrf: None,
            links: Vec::new(),
        }
    }
}

/// State-changing requests must come from the console's own origin (the
/// browser says so in `Origin`; SameSite=Strict and the CSRF token are the
/// other two locks).
/// The host a request was asked for (its `Host` header), when it is not
/// the console origin's: passkeys are bound to the origin, so a console
/// used at another address (`127.0.0.1` for `localhost`) cannot register
/// or sign in.
fn wrong_host(origin: &str, headers: &HeaderMap) -> Option<String> {
    let asked = headers.get(header::HOST)?.to_str().ok()?.to_ascii_lowercase();
    let url = url::Url::parse(origin).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    let port = url.port_or_known_default()?;
    let default_port = url.port().is_none();
    let expected = [format!("{host}:{port}"), host.clone()];
    let matches = asked == expected[0] || (default_port && asked == expected[1]);
    (!matches).then_some(asked)
}

/// The console answers at its origin only: a page asked for under another
/// host is redirected there (GET, HEAD); anything else is refused with the
/// address to use. Then the same-origin rule for state changes.
pub async fn same_origin(State(console): State<Arc<Console>>, req: Request, next: Next) -> Response {
    if let Some(asked) = wrong_host(&console.origin, req.headers()) {
        if req.method() == Method::GET || req.method() == Method::HEAD {
            let path = req.uri().path_and_query().map_or("/console/", |p| p.as_str());
            return Redirect::temporary(&format!("{}{path}", console.origin)).into_response();
        }
        let message = format!(
            "The console works only at {origin}/console/ (passkeys are bound to that address); this request came to {asked}. Open {origin}/console/ and try again.",
            origin = console.origin
        );
        return (
            StatusCode::FORBIDDEN,
            axum::Json(serde_json::json!({"error": {"code": "wrong_address", "message": message}})),
        )
            .into_response();
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let origin = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok());
        if origin.is_some_and(|o| o != console.origin) {
            return Refusal::NotAllowed("The request came from another site.".into()).into_response();
        }
    }
    next.run(req).await
}

pub async fn not_found() -> Refusal {
    Refusal::NotFound
}

pub async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("static/console.js"),
    )
}

pub async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("static/console.css"),
    )
}
