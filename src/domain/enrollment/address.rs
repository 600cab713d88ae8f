//! What a card prints of its holder's address.

use super::Address;

impl Address {
    /// The lines a card or a letter prints: a residential or care-of
    /// address as posted (care-of first names the organization); none for
    /// a card without one.
    #[must_use]
    pub fn printed_lines(&self) -> Option<Vec<String>> {
        let (first, line1, line2, city, state, postal_code) = match self {
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
            } => (
                Some(format!("c/o {organization}")),
                line1,
                line2,
                city,
                state,
                postal_code,
            ),
            Self::None => return None,
        };
        let place = [Some(city.as_str()), state.as_deref(), Some(postal_code.as_str())]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        Some(
            first
                .into_iter()
                .chain([line1.clone()])
                .chain(line2.clone())
                .chain([place])
                .collect(),
        )
    }
}
