//! `/v1/legal/requests` and `/v1/legal/notices`.

use axum::body::Body;
use axum::extract::Path;
use axum::Json;

use crate::authz::Action;
use crate::domain::access;
use crate::domain::legal::{AnswerSummary, LegalRequest, StoredPackage};
use crate::domain::store::{Change, Store};
use crate::domain::vocab::Purpose;
use crate::http::dto::{rfc3339, LegalAnswer, LegalRequestList, Notice, NoticeCardholder, NoticeList, NoticeSent};
use crate::http::error::{ApiError, Error};
use crate::http::extract::DEFAULT_LIMIT;
use crate::http::gate::Gate;
use crate::http::openapi::{BadRequest, NotFound, PayloadTooLarge, Refused};

/// Ids the vault issues are short and plain; anything else names nothing.
fn plain_id(id: &str) -> Result<(), ApiError> {
    if id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(Error::NotFound.into());
    }
    Ok(())
}

/// `POST /v1/legal/requests`: legal staff enter a request; the answer.
#[utoipa::path(
    post,
    path = "/v1/legal/requests",
    operation_id = "create_legal_request",
    tag = "legal",
    description = "Enters a legal request the city received (subpoena, warrant, court order, \
        public-records request) about one card, one exact document or one aggregate, and answers \
        it: each item is decided on its own; the answer gives the outcome, the package of what is \
        disclosed (keyed by item), what is withheld and why, what the program does not hold, the \
        package's digest and the response letter.\n\n\
        Permissions: legal (Cedar action `legal_request`, purpose `legal_process`); each item is \
        then decided as action `disclose` (resource `LegalItem::<item>`): by default only on a \
        judicial warrant or court order signed by a judge, aggregates on any non-administrative \
        request; the floor refuses administrative process and limits federal immigration \
        requesters to card_status on a judge-signed judicial warrant.",
    request_body = crate::domain::legal::LegalRequest,
    responses(
        (status = 200, description = "the answer: outcome, package, withheld, not_held, digest, letter", body = LegalAnswer),
        BadRequest,
        PayloadTooLarge,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn create(gate: Gate, body: Body) -> Result<Json<LegalAnswer>, ApiError> {
    let (who, _) = gate.admit(Action::LegalRequest, Purpose::LegalProcess)?;
    let req: LegalRequest = gate.body(body, DEFAULT_LIMIT).await?;
    let answered = crate::vault::legal::respond(&gate.vault, &who, req).await?;
    for d in &answered.decisions {
        gate.slot.item_decision(d.item, d.allowed);
        gate.slot.more_policies(&d.policies);
    }
    gate.slot.subject(answered.subject);
    gate.slot.digest("package", answered.package_digest);
    gate.slot
        .digest("answer", crate::domain::legal::answer_ref(&answered.summary.request_id));
    let committed = gate.commit(vec![answered.change]).await;
    // After the commit returns, whatever it did: access reports read the
    // answers again.
    gate.vault.legal_answers.changed();
    committed?;
    Ok(Json(LegalAnswer::new(answered.summary, Some(answered.package))))
}

/// How many past answers the list gives.
const LISTED: usize = 500;

/// `GET /v1/legal/requests`: the past answers' summaries, newest first.
#[utoipa::path(
    get,
    path = "/v1/legal/requests",
    tag = "legal",
    description = "The last 500 answers' summaries, newest first: id, reference, requester, process,         items, outcome, what was disclosed and withheld, notice, digest, time. No package and nothing         about a cardholder; read one answer for its package.\n\n\
        Permissions: legal or privacy officer (Cedar action `read_legal_request`, purpose `legal_process`).",
    responses(
        (status = 200, description = "past answers, newest first", body = LegalRequestList),
        BadRequest,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn list(gate: Gate) -> Result<Json<LegalRequestList>, ApiError> {
    gate.admit(Action::ReadLegalRequest, Purpose::LegalProcess)?;
    let summaries = gate.vault.read(|v| v.store.legal_summaries()).await?;
    let mut requests = summaries
        .iter()
        .map(|(_, bytes)| serde_json::from_slice::<AnswerSummary>(bytes))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| Error::internal("a stored legal answer does not decode"))?;
    // Newest first, to the nanosecond the answer records.
    let when = |a: &AnswerSummary| {
        time::OffsetDateTime::parse(&a.answered_at, &time::format_description::well_known::Rfc3339).ok()
    };
    requests.sort_by_cached_key(|a| std::cmp::Reverse(when(a)));
    requests.truncate(LISTED);
    Ok(Json(LegalRequestList { requests }))
}

/// `GET /v1/legal/requests/{id}`: a past answer. The package of an answer
/// about a card is opened with that card's key; once the cardholder record
/// is destroyed, so is the package (the digest stays).
#[utoipa::path(
    get,
    path = "/v1/legal/requests/{id}",
    tag = "legal",
    description = "A past answer. The package of an answer about a card is destroyed with the \
        cardholder record: then `package` is null and `package_destroyed` says so (the digest \
        stays).\n\n\
        Permissions: legal or privacy officer (Cedar action `read_legal_request`, purpose `legal_process`).",
    params(("id" = String, Path, description = "the request id")),
    responses(
        (status = 200, description = "a past answer", body = LegalAnswer),
        BadRequest,
        NotFound,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn read(gate: Gate, Path(id): Path<String>) -> Result<Json<LegalAnswer>, ApiError> {
    let (_, permit) = gate.admit(Action::ReadLegalRequest, Purpose::LegalProcess)?;
    plain_id(&id)?;
    gate.slot.subject(format!("legal_request:{id}"));
    let v = &gate.vault;
    let wanted = id.clone();
    let record = v
        .read(move |v| v.store.legal_request(&wanted))
        .await?
        .ok_or(Error::NotFound)?;
    let summary: AnswerSummary = serde_json::from_slice(&record.summary)
        .map_err(|_| Error::internal("a stored legal answer does not decode"))?;
    let package = match &record.package {
        StoredPackage::Plain(bytes) => serde_json::from_slice(bytes).ok(),
        StoredPackage::Sealed { card_id, sealed } => match v.card(*card_id).await? {
            Some(card) => access::open_package(&permit, &v.keys, card_id, &card.record, &record.id, sealed)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok()),
            None => None,
        },
    };
    let destroyed = package.is_none();
    let mut out = LegalAnswer::new(summary, package);
    if destroyed {
        out.package_destroyed = Some("the package was destroyed with the cardholder record; its digest remains".into());
    }
    Ok(Json(out))
}

/// `GET /v1/legal/notices`: cardholder notices waiting to be sent, with
/// what a clerk needs to send them.
#[utoipa::path(
    get,
    path = "/v1/legal/notices",
    tag = "legal",
    description = "Cardholder notices that legal requests queued and nobody has sent yet, with the \
        holder's name, card number and address to send them (or why there is nobody to notify).\n\n\
        Permissions: clerk (Cedar action `list_notices`, purpose `card_administration`).",
    responses(
        (status = 200, description = "cardholder notices to send", body = NoticeList),
        BadRequest,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn notices(gate: Gate) -> Result<Json<NoticeList>, ApiError> {
    let (_, permit) = gate.admit(Action::ListNotices, Purpose::CardAdministration)?;
    let v = &gate.vault;
    let pending = v.read(|v| v.store.notices()).await?;
    let mut rows = Vec::with_capacity(pending.len());
    for n in pending {
        let opened = match v.card(n.card_id).await? {
            Some(card) => access::open_fields(&permit, &v.keys, &n.card_id, &card.record)
                .ok()
                .map(|f| (f, card.languages.clone())),
            None => None,
        };
        let cardholder = match opened {
            Some((f, languages)) => NoticeCardholder::Known {
                card_number: f.card_number.clone(),
                full_name: f.full_name.clone(),
                address: f.address.clone(),
                languages,
            },
            None => NoticeCardholder::Destroyed {
                status: "the cardholder record has been destroyed; nobody to notify".into(),
            },
        };
        rows.push(Notice {
            notice_id: n.id,
            request_id: n.request_id,
            reference: n.reference,
            queued_at: rfc3339(n.at),
            cardholder,
        });
    }
    Ok(Json(NoticeList { notices: rows }))
}

/// `POST /v1/legal/notices/{id}/sent`: the clerk sent it; it leaves the list.
#[utoipa::path(
    post,
    path = "/v1/legal/notices/{id}/sent",
    tag = "legal",
    description = "Marks a notice sent: it leaves the list.\n\n\
        Permissions: clerk (Cedar action `list_notices`, purpose `card_administration`).",
    params(("id" = String, Path, description = "the notice id")),
    responses(
        (status = 200, description = "marked sent", body = NoticeSent),
        BadRequest,
        NotFound,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn sent(gate: Gate, Path(id): Path<String>) -> Result<Json<NoticeSent>, ApiError> {
    gate.admit(Action::ListNotices, Purpose::CardAdministration)?;
    plain_id(&id)?;
    gate.slot.subject(format!("notice:{id}"));
    gate.commit(vec![Change::RemoveNotice { id: id.clone() }]).await?;
    Ok(Json(NoticeSent {
        notice_id: id,
        status: "sent".into(),
    }))
}
