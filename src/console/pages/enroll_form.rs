//! The counter's enrollment form: its fields (kept when the page is shown
//! again), the multipart upload with its photo and scans, and the
//! `POST /v1/enrollments` body it stands for. The proof and address shapes
//! are shared with the card desk's renewals and updates.

use axum::extract::Multipart;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::console::page::Refusal;

/// How many proof rows the form offers.
pub const PROOF_ROWS: usize = 4;
/// At most this much per uploaded file, and in all.
const FILE_LIMIT: usize = 10 * 1024 * 1024;
const FORM_LIMIT: usize = 48 * 1024 * 1024;

/// One document as the API takes it (blank dates left out).
#[must_use]
pub fn proof_json(document_type: &str, issuer: &str, number: &str, issued_on: &str, expires_on: &str) -> Value {
    let mut p = json!({"document_type": document_type.trim(), "issuer": issuer.trim(), "number": number.trim()});
    if let Some(d) = blank_none(issued_on) {
        p["issued_on"] = json!(d);
    }
    if let Some(d) = blank_none(expires_on) {
        p["expires_on"] = json!(d);
    }
    p
}

/// An address of `kind` (`residential`, `care_of`, `none`) as the API
/// takes it; None for any other kind (no change).
#[must_use]
pub fn address_json(kind: &str, organization: &str, line1: &str, city: &str, postal_code: &str) -> Option<Value> {
    let (line1, city, postal_code) = (line1.trim(), city.trim(), postal_code.trim());
    match kind {
        "residential" => Some(json!({"kind": "residential", "line1": line1, "city": city, "postal_code": postal_code})),
        "care_of" => Some(
            json!({"kind": "care_of", "organization": organization.trim(), "line1": line1,
            "city": city, "postal_code": postal_code}),
        ),
        "none" => Some(json!({"kind": "none"})),
        _ => None,
    }
}

/// One proof row of the form, as the template shows it.
pub struct ProofRow {
    pub index: usize,
    pub document_type: String,
    pub issuer: String,
    pub number: String,
    pub issued_on: String,
    pub expires_on: String,
}

/// The form's text fields (kept when the page is shown again).
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct Fields {
    pub csrf: Option<String>,
    pub intent: Option<String>,
    pub full_name: String,
    pub date_of_birth: String,
    pub address_kind: String,
    pub organization: String,
    pub line1: String,
    pub city: String,
    pub postal_code: String,
    pub gender: String,
    /// Comma-separated BCP 47 tags (at most two).
    pub languages: String,
    pub fee_waiver: String,
    pub delivery: String,
    pub document_type_1: String,
    pub issuer_1: String,
    pub number_1: String,
    pub issued_on_1: String,
    pub expires_on_1: String,
    pub document_type_2: String,
    pub issuer_2: String,
    pub number_2: String,
    pub issued_on_2: String,
    pub expires_on_2: String,
    pub document_type_3: String,
    pub issuer_3: String,
    pub number_3: String,
    pub issued_on_3: String,
    pub expires_on_3: String,
    pub document_type_4: String,
    pub issuer_4: String,
    pub number_4: String,
    pub issued_on_4: String,
    pub expires_on_4: String,
    /// The photo chosen before "Check requirements", as a `data:` URL, so
    /// the clerk need not choose it again.
    pub photo_kept: String,
}

/// One proof row as typed.
pub struct Row<'a> {
    pub document_type: &'a str,
    pub issuer: &'a str,
    pub number: &'a str,
    pub issued_on: &'a str,
    pub expires_on: &'a str,
}

impl Fields {
    pub fn rows(&self) -> [Row<'_>; PROOF_ROWS] {
        [
            Row {
                document_type: &self.document_type_1,
                issuer: &self.issuer_1,
                number: &self.number_1,
                issued_on: &self.issued_on_1,
                expires_on: &self.expires_on_1,
            },
            Row {
                document_type: &self.document_type_2,
                issuer: &self.issuer_2,
                number: &self.number_2,
                issued_on: &self.issued_on_2,
                expires_on: &self.expires_on_2,
            },
            Row {
                document_type: &self.document_type_3,
                issuer: &self.issuer_3,
                number: &self.number_3,
                issued_on: &self.issued_on_3,
                expires_on: &self.expires_on_3,
            },
            Row {
                document_type: &self.document_type_4,
                issuer: &self.issuer_4,
                number: &self.number_4,
                issued_on: &self.issued_on_4,
                expires_on: &self.expires_on_4,
            },
        ]
    }

    fn set(&mut self, name: &str, value: String) {
        let slot = match name {
            "csrf" => return self.csrf = Some(value),
            "intent" => return self.intent = Some(value),
            "full_name" => &mut self.full_name,
            "date_of_birth" => &mut self.date_of_birth,
            "address_kind" => &mut self.address_kind,
            "organization" => &mut self.organization,
            "line1" => &mut self.line1,
            "city" => &mut self.city,
            "postal_code" => &mut self.postal_code,
            "gender" => &mut self.gender,
            "languages" => &mut self.languages,
            "fee_waiver" => &mut self.fee_waiver,
            "delivery" => &mut self.delivery,
            "document_type_1" => &mut self.document_type_1,
            "issuer_1" => &mut self.issuer_1,
            "number_1" => &mut self.number_1,
            "issued_on_1" => &mut self.issued_on_1,
            "expires_on_1" => &mut self.expires_on_1,
            "document_type_2" => &mut self.document_type_2,
            "issuer_2" => &mut self.issuer_2,
            "number_2" => &mut self.number_2,
            "issued_on_2" => &mut self.issued_on_2,
            "expires_on_2" => &mut self.expires_on_2,
            "document_type_3" => &mut self.document_type_3,
            "issuer_3" => &mut self.issuer_3,
            "number_3" => &mut self.number_3,
            "issued_on_3" => &mut self.issued_on_3,
            "expires_on_3" => &mut self.expires_on_3,
            "document_type_4" => &mut self.document_type_4,
            "issuer_4" => &mut self.issuer_4,
            "number_4" => &mut self.number_4,
            "issued_on_4" => &mut self.issued_on_4,
            "expires_on_4" => &mut self.expires_on_4,
            "photo_kept" => &mut self.photo_kept,
            _ => return,
        };
        *slot = value;
    }

    /// The proof rows for the template (1-based).
    pub fn proof_rows(&self) -> Vec<ProofRow> {
        self.rows()
            .iter()
            .enumerate()
            .map(|(i, r)| ProofRow {
                index: i + 1,
                document_type: r.document_type.to_owned(),
                issuer: r.issuer.to_owned(),
                number: r.number.to_owned(),
                issued_on: r.issued_on.to_owned(),
                expires_on: r.expires_on.to_owned(),
            })
            .collect()
    }
}

/// An uploaded file: its declared type and bytes.
pub struct Upload {
    content_type: String,
    bytes: Vec<u8>,
}

/// The photo types the counter takes.
const PHOTO_TYPES: [&str; 2] = ["image/jpeg", "image/png"];

impl Upload {
    /// The photo as a `data:` URL (to carry it across a re-rendered form);
    /// empty for a type the counter does not take.
    #[must_use]
    pub fn data_url(&self) -> String {
        if !PHOTO_TYPES.contains(&self.content_type.as_str()) {
            return String::new();
        }
        format!(
            "data:{};base64,{}",
            self.content_type,
            base64::engine::general_purpose::STANDARD.encode(&self.bytes)
        )
    }

    /// A photo carried as a `data:` URL, if it is one of the types taken and
    /// within the limit.
    #[must_use]
    pub fn from_data_url(url: &str) -> Option<Self> {
        let rest = url.strip_prefix("data:")?;
        let (content_type, data) = rest.split_once(";base64,")?;
        if !PHOTO_TYPES.contains(&content_type) || data.len() > FILE_LIMIT {
            return None;
        }
        let bytes = base64::engine::general_purpose::STANDARD.decode(data).ok()?;
        (!bytes.is_empty()).then(|| Self {
            content_type: content_type.to_owned(),
            bytes,
        })
    }

    fn json(&self) -> Value {
        json!({
            "content_type": self.content_type,
            "data": base64::engine::general_purpose::STANDARD.encode(&self.bytes),
        })
    }
}

/// The whole multipart form: text fields, the photo, the scans by row.
pub async fn read_form(
    mut multipart: Multipart,
) -> Result<(Fields, Option<Upload>, [Option<Upload>; PROOF_ROWS]), Refusal> {
    let mut fields = Fields::default();
    let mut photo = None;
    let mut scans: [Option<Upload>; PROOF_ROWS] = Default::default();
    let mut total = 0usize;
    let too_big = || Refusal::Bad("The form is too large: a photo may be at most 5 MiB, a scan 10 MiB.".into());
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|_| Refusal::Bad("The form could not be read.".into()))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let is_file = field.file_name().is_some();
        let content_type = field.content_type().unwrap_or("application/octet-stream").to_owned();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|_| too_big())? {
            total += chunk.len();
            if bytes.len() + chunk.len() > FILE_LIMIT || total > FORM_LIMIT {
                return Err(too_big());
            }
            bytes.extend_from_slice(&chunk);
        }
        if is_file {
            if bytes.is_empty() {
                continue;
            }
            let upload = Upload { content_type, bytes };
            match name.as_str() {
                "photo" => photo = Some(upload),
                n => {
                    let row = n.strip_prefix("scan_").and_then(|i| i.parse::<usize>().ok());
                    if let Some(slot) = row.and_then(|i| scans.get_mut(i.wrapping_sub(1))) {
                        *slot = Some(upload);
                    }
                }
            }
        } else {
            fields.set(&name, String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    Ok((fields, photo, scans))
}

pub fn blank_none(s: &str) -> Option<&str> {
    let t = s.trim();
    (!t.is_empty()).then_some(t)
}

/// The enrollment request, as the API takes it.
pub fn enrollment(form: &Fields, photo: Option<&Upload>, scans: &[Option<Upload>; PROOF_ROWS]) -> Value {
    let kind = match form.address_kind.as_str() {
        k @ ("care_of" | "none") => k,
        _ => "residential",
    };
    let address =
        address_json(kind, &form.organization, &form.line1, &form.city, &form.postal_code).unwrap_or_default();
    let mut applicant =
        json!({"full_name": form.full_name.trim(), "date_of_birth": form.date_of_birth.trim(), "address": address});
    if let Some(g) = blank_none(&form.gender) {
        applicant["gender"] = json!(g);
    }
    let languages: Vec<&str> = form
        .languages
        .split([',', ' '])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if !languages.is_empty() {
        applicant["languages"] = json!(languages);
    }
    let proofs: Vec<Value> = form
        .rows()
        .iter()
        .zip(scans.iter())
        .filter(|(r, _)| !r.document_type.is_empty())
        .map(|(r, scan)| {
            let mut p = proof_json(r.document_type, r.issuer, r.number, r.issued_on, r.expires_on);
            if let Some(s) = scan {
                p["scan"] = s.json();
            }
            p
        })
        .collect();
    let mut body = json!({"applicant": applicant, "proofs": proofs});
    if let Some(w) = blank_none(&form.fee_waiver) {
        body["fee_waiver"] = json!(w);
    }
    if let Some(d) = blank_none(&form.delivery) {
        body["delivery"] = json!(d);
    }
    if let Some(p) = photo {
        body["photo"] = p.json();
    }
    body
}

#[cfg(test)]
mod tests {
    use super::Upload;

    #[test]
    fn a_photo_survives_the_round_trip_through_the_form_and_nothing_else_does() {
        let photo = Upload {
            content_type: "image/png".into(),
            bytes: vec![0x89, b'P', b'N', b'G'],
        };
        let url = photo.data_url();
        assert!(url.starts_with("data:image/png;base64,"));
        let back = Upload::from_data_url(&url).expect("the photo comes back");
        assert_eq!(
            (back.content_type.as_str(), back.bytes.as_slice()),
            ("image/png", photo.bytes.as_slice())
        );
        assert!(Upload::from_data_url("data:text/html;base64,PGI+").is_none());
        assert!(Upload::from_data_url("data:image/png;base64,").is_none());
        assert!(Upload::from_data_url("data:image/png;base64,@@@").is_none());
        let script = Upload {
            content_type: "text/html".into(),
            bytes: b"<b>".to_vec(),
        };
        assert_eq!(script.data_url(), "");
    }
}
