//! An address's lines, borrowed alike for both kinds; what a card prints
//! of them.

use super::Address;

/// An address's lines, borrowed: the same for a residential and a care-of
/// address, the organization aside.
pub struct Lines<'a> {
    /// The care-of organization; `None` for a residential address.
    pub organization: Option<&'a str>,
    pub line1: &'a str,
    pub line2: Option<&'a str>,
    pub city: &'a str,
    pub state: Option<&'a str>,
    pub postal_code: &'a str,
}

impl Address {
    /// Its lines; `None` for an address of kind `none`.
    #[must_use]
    pub fn lines(&self) -> Option<Lines<'_>> {
        let (organization, line1, line2, city, state, postal_code) = match self {
            Self::None => return None,
            Self::Residential {
                line1,
                line2,
                city,
                state,
                postal_code,
            } => (None, line1, line2, city, state, postal_code),
            Self::CareOf {
                organization,
                line1,
                line2,
                city,
                state,
                postal_code,
            } => (Some(organization.as_str()), line1, line2, city, state, postal_code),
        };
        Some(Lines {
            organization,
            line1,
            line2: line2.as_deref(),
            city,
            state: state.as_deref(),
            postal_code,
        })
    }

    /// The lines a card or a letter prints: a residential or care-of
    /// address as posted (care-of first names the organization); none for
    /// a card without one.
    #[must_use]
    pub fn printed_lines(&self) -> Option<Vec<String>> {
        let l = self.lines()?;
        let place = [Some(l.city), l.state, Some(l.postal_code)]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        Some(
            l.organization
                .map(|o| format!("c/o {o}"))
                .into_iter()
                .chain([l.line1.to_owned()])
                .chain(l.line2.map(str::to_owned))
                .chain([place])
                .collect(),
        )
    }
}
