//! A profile's proof rules applied: what each presented document counts
//! for, whether the requirements are met, and the counter's checklist.

use time::Date;

use super::{Measure, Program, Proves};

/// A proof as the rules see it: no number, no issuer.
#[derive(Debug, Clone)]
pub struct ProofFacts<'a> {
    pub document_type: &'a str,
    pub issued_on: Option<Date>,
    pub expires_on: Option<Date>,
}

/// What one accepted document counts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    pub proves: Vec<Proves>,
    pub classes: Vec<String>,
    pub identity_points: u32,
    pub residency_points: u32,
}

impl Counted {
    #[must_use]
    pub fn points(&self) -> u32 {
        self.identity_points + self.residency_points
    }
}

/// One requirement on the counter's checklist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub met: bool,
    /// How far the proofs got (`1 of 2`), or which way it was met.
    pub detail: String,
}

/// The outcome of checking an application's proofs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Per proof, in order: what it counted for (`None`: it counted for nothing).
    Met(Vec<Option<Counted>>),
    /// What is missing, by requirement name, with a short explanation each.
    Missing(Vec<String>),
}

impl Program {
    /// Applies the rules to the proofs presented on `today`.
    #[must_use]
    pub fn evaluate(&self, proofs: &[ProofFacts<'_>], today: Date) -> Verdict {
        self.evaluate_waiving(proofs, today, &[])
    }

    /// As [`Program::evaluate`], with the requirements named in `waived`
    /// not applied (a minor accompanied by a caretaker, say).
    #[must_use]
    pub fn evaluate_waiving(&self, proofs: &[ProofFacts<'_>], today: Date, waived: &[String]) -> Verdict {
        let missing: Vec<String> = self
            .checklist(proofs, today, waived)
            .into_iter()
            .filter(|c| !c.met)
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect();
        if missing.is_empty() {
            Verdict::Met(proofs.iter().map(|p| self.count_one(p, today)).collect())
        } else {
            Verdict::Missing(missing)
        }
    }

    /// Each requirement not waived, with whether the proofs meet it and how
    /// far they got: what the counter's checklist shows before submitting,
    /// and what [`Program::evaluate_waiving`] decides with.
    #[must_use]
    pub fn checklist(&self, proofs: &[ProofFacts<'_>], today: Date, waived: &[String]) -> Vec<Check> {
        let counted: Vec<Option<Counted>> = proofs.iter().map(|p| self.count_one(p, today)).collect();
        let accepted: Vec<&Counted> = counted.iter().flatten().collect();
        self.requirements
            .iter()
            .filter(|r| !waived.contains(&r.name))
            .map(|req| {
                if let Some(measure) = &req.count {
                    let have = measure_of(measure, &accepted);
                    Check {
                        name: req.name.clone(),
                        met: have >= req.at_least,
                        detail: format!("{have} of {}", req.at_least),
                    }
                } else {
                    let met = req
                        .one_of
                        .iter()
                        .any(|alt| measure_of(&alt.count, &accepted) >= alt.at_least);
                    Check {
                        name: req.name.clone(),
                        met,
                        detail: if met {
                            "an accepted combination".to_owned()
                        } else {
                            "none of the accepted combinations".to_owned()
                        },
                    }
                }
            })
            .collect()
    }

    /// What one document counts for on `today` (`None`: nothing).
    #[must_use]
    pub fn count(&self, proof: &ProofFacts<'_>, today: Date) -> Option<Counted> {
        self.count_one(proof, today)
    }

    fn count_one(&self, proof: &ProofFacts<'_>, today: Date) -> Option<Counted> {
        let rule = self.documents.get(proof.document_type)?;
        if rule.proves.is_empty() {
            return None;
        }
        let mut identity_points = rule.identity_points;
        if let Some(expires) = proof.expires_on {
            if expires < today {
                let grace_end = rule.expired_grace.and_then(|g| g.add_to_date(expires))?;
                if grace_end < today {
                    return None;
                }
                identity_points = rule.expired_identity_points.unwrap_or(identity_points);
            }
        }
        let mut proves = rule.proves.clone();
        let mut residency_points = rule.residency_points;
        if let Some(window) = rule.residency_max_age {
            let recent = proof
                .issued_on
                .and_then(|d| window.add_to_date(d))
                .is_some_and(|until| until >= today);
            if !recent {
                proves.retain(|p| *p != Proves::Residency);
                residency_points = 0;
            }
        }
        if !proves.contains(&Proves::Identity) {
            identity_points = 0;
        }
        if proves.is_empty() {
            return None;
        }
        Some(Counted {
            proves,
            classes: rule.classes.clone(),
            identity_points,
            residency_points,
        })
    }
}

fn measure_of(measure: &Measure, accepted: &[&Counted]) -> u32 {
    let n = |it: usize| u32::try_from(it).unwrap_or(u32::MAX);
    match measure {
        Measure::Points(Proves::Identity) => accepted.iter().map(|c| c.identity_points).sum(),
        Measure::Points(_) => accepted.iter().map(|c| c.residency_points).sum(),
        Measure::Proving(all) => n(accepted
            .iter()
            .filter(|c| all.iter().all(|p| c.proves.contains(p)))
            .count()),
        Measure::Class(class) => n(accepted.iter().filter(|c| c.classes.contains(class)).count()),
        Measure::Documents => n(accepted.len()),
    }
}
