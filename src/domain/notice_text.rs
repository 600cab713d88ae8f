//! The notice a cardholder is sent when a legal request about their card
//! was answered, in the holder's language (Spanish for `es`, English
//! otherwise). It names the request's reference and date, never what the
//! vault does not hold.

/// The languages a notice is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeLanguage {
    English,
    Spanish,
}

impl NoticeLanguage {
    /// The first of the holder's languages (BCP 47) a notice is written in.
    #[must_use]
    pub fn for_holder(languages: &[String]) -> Self {
        let spanish = languages.iter().any(|l| {
            let l = l.to_ascii_lowercase();
            l == "es" || l.starts_with("es-")
        });
        if spanish {
            Self::Spanish
        } else {
            Self::English
        }
    }

    /// The BCP 47 tag (for the page's `lang`).
    #[must_use]
    pub fn tag(self) -> &'static str {
        match self {
            Self::English => "en",
            Self::Spanish => "es",
        }
    }
}

/// A notice ready to print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeText {
    pub language: NoticeLanguage,
    pub title: String,
    pub paragraphs: Vec<String>,
}

/// The notice to `full_name` about the request `reference` answered on
/// `day` (YYYY-MM-DD) by `program`.
#[must_use]
pub fn cardholder_notice(
    language: NoticeLanguage,
    full_name: &str,
    program: &str,
    reference: &str,
    day: &str,
) -> NoticeText {
    let (title, paragraphs) = match language {
        NoticeLanguage::English => (
            "Notice: a legal request about your ID card".to_owned(),
            vec![
                format!("Dear {full_name},"),
                format!(
                    "On {day}, {program} answered a legal request about your card (reference: {reference}). \
                     The request met the program's rules for legal process, and the program is telling you, \
                     as it promised when you applied."
                ),
                "The program keeps as little as it can. It never keeps copies of the documents you showed, \
                 their numbers in readable form, or anything about immigration or citizenship status, so no \
                 answer can include them."
                    .to_owned(),
                "If you have questions, or want to know what was sent, bring your card to any enrollment \
                 center or contact the program office. You may also want to speak with a lawyer."
                    .to_owned(),
            ],
        ),
        NoticeLanguage::Spanish => (
            "Aviso: una solicitud legal sobre su tarjeta de identificación".to_owned(),
            vec![
                format!("Estimado/a {full_name}:"),
                format!(
                    "El {day}, {program} respondió a una solicitud legal sobre su tarjeta (referencia: \
                     {reference}). La solicitud cumplía las reglas del programa para procesos legales, y el \
                     programa se lo comunica, como se comprometió cuando usted presentó su solicitud."
                ),
                "El programa guarda lo mínimo posible. Nunca guarda copias de los documentos que usted \
                 presentó, ni sus números en forma legible, ni nada sobre su situación migratoria o de \
                 ciudadanía, así que ninguna respuesta puede incluirlos."
                    .to_owned(),
                "Si tiene preguntas o quiere saber qué se envió, lleve su tarjeta a cualquier centro de \
                 inscripción o comuníquese con la oficina del programa. También puede consultar con un \
                 abogado."
                    .to_owned(),
            ],
        ),
    };
    NoticeText {
        language,
        title,
        paragraphs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holders_language_chooses_the_text() {
        assert_eq!(NoticeLanguage::for_holder(&["es-US".into()]), NoticeLanguage::Spanish);
        assert_eq!(
            NoticeLanguage::for_holder(&["ase".into(), "es".into()]),
            NoticeLanguage::Spanish
        );
        assert_eq!(NoticeLanguage::for_holder(&["zh".into()]), NoticeLanguage::English);
        assert_eq!(NoticeLanguage::for_holder(&[]), NoticeLanguage::English);
        let es = cardholder_notice(NoticeLanguage::Spanish, "Ana", "IDNYC", "Caso 1", "2026-12-02");
        assert!(es.title.starts_with("Aviso"));
        assert!(es
            .paragraphs
            .iter()
            .any(|p| p.contains("Caso 1") && p.contains("2026-12-02")));
        let en = cardholder_notice(NoticeLanguage::English, "Ana", "IDNYC", "Case 1", "2026-12-02");
        assert!(en.paragraphs[0].contains("Ana"));
    }
}
