//! Building Cedar requests: a principal's entities (staff with their role
//! entities; systems with agency kind and purposes), cached per principal,
//! and the request context — the one place either is built.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError};

use cedar_policy::{Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, Request, RestrictedExpression};

use super::engine::PolicyEngine;
use super::{Action, RequestContext};
use crate::domain::principal::Principal;
use crate::domain::vocab::PrincipalKind;

/// A principal as Cedar sees it: its uid and its entities (itself, its roles).
pub(super) struct CachedPrincipal {
    pub(super) uid: EntityUid,
    pub(super) entities: Entities,
}

impl PolicyEngine {
    pub(super) fn uid(t: &EntityTypeName, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(t.clone(), EntityId::new(id))
    }

    /// The Cedar uid of a resource.
    pub(super) fn resource_uid(&self, resource: &super::Resource) -> EntityUid {
        use super::Resource;
        match resource {
            Resource::Vault => Self::uid(&self.types.vault, "civic-vault"),
            Resource::Card(id) => Self::uid(&self.types.card, id),
            Resource::Fact(name) => Self::uid(&self.types.fact, name),
            Resource::LegalItem(name) => Self::uid(&self.types.legal_item, name),
        }
    }

    pub(super) fn cached_entities(&self, p: &Principal) -> Option<Arc<CachedPrincipal>> {
        if let Some(e) = self.entities.read().unwrap_or_else(PoisonError::into_inner).get(p) {
            return Some(Arc::clone(e));
        }
        let (uid, list) = self.principal_entities(p);
        let entities = match Entities::from_entities(list, Some(&self.schema)) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(error = %e, "cedar entities could not be built; denying");
                return None;
            }
        };
        let built = Arc::new(CachedPrincipal { uid, entities });
        let mut map = self.entities.write().unwrap_or_else(PoisonError::into_inner);
        if map.len() > 10_000 {
            map.clear();
        }
        map.insert(p.clone(), Arc::clone(&built));
        Some(built)
    }

    /// Checks that a request of every action, with the fullest context, fits
    /// the schema (the per-request path skips this check).
    ///
    /// # Errors
    /// The first action whose request does not fit.
    pub fn schema_checks_requests(&self, p: &Principal) -> Result<(), String> {
        let (principal, _) = self.principal_entities(p);
        // Every optional field filled, as the fullest request would have it.
        let full = RequestContext {
            card_status: Some("active"),
            distinct_cards_last_hour: Some(1),
            requested_by_self: Some(false),
            requested_roles: Some(vec!["clerk"]),
            bulk_ceiling_per_hour: Some(5000),
            duplicate_outcomes_today: Some(0),
            legal: Some(super::LegalContext {
                process: "court_order",
                signed_by_judge: true,
                requester_agency_kind: "local_law_enforcement",
                item: "card_status",
                subject_kind: "card",
            }),
            ..RequestContext::purpose(crate::domain::vocab::Purpose::LibraryServices)
        };
        let context = Self::context(p, &full)?;
        for action in Action::ALL {
            let resource = match action.resource_kind() {
                "Card" => Self::uid(&self.types.card, "c"),
                "Fact" => Self::uid(&self.types.fact, "card_valid"),
                "LegalItem" => Self::uid(&self.types.legal_item, "card_status"),
                _ => Self::uid(&self.types.vault, "civic-vault"),
            };
            Request::new(
                principal.clone(),
                Self::uid(&self.types.action, action.as_str()),
                resource,
                context.clone(),
                Some(&self.schema),
            )
            .map_err(|e| format!("{}: {e}", action.as_str()))?;
        }
        Ok(())
    }

    pub(super) fn principal_entities(&self, p: &Principal) -> (EntityUid, Vec<Entity>) {
        match p.kind {
            PrincipalKind::Staff => {
                let uid = Self::uid(&self.types.staff, &p.id);
                let roles: HashSet<EntityUid> = p
                    .roles
                    .iter()
                    .map(|r| Self::uid(&self.types.role, r.as_str()))
                    .collect();
                let mut entities: Vec<Entity> = roles
                    .iter()
                    .map(|r| Entity::new_no_attrs(r.clone(), HashSet::new()))
                    .collect();
                entities.push(Entity::new_no_attrs(uid.clone(), roles));
                (uid, entities)
            }
            PrincipalKind::System => {
                let uid = Self::uid(&self.types.system, &p.id);
                let agency = p.agency_kind.map_or("", |a| a.as_str());
                let attrs = HashMap::from([
                    (
                        "agency_kind".to_owned(),
                        RestrictedExpression::new_string(agency.to_owned()),
                    ),
                    (
                        "purposes".to_owned(),
                        RestrictedExpression::new_set(
                            p.purposes
                                .iter()
                                .map(|x| RestrictedExpression::new_string(x.as_str().to_owned())),
                        ),
                    ),
                ]);
                let entity = Entity::new(uid.clone(), attrs, HashSet::new());
                (uid, entity.into_iter().collect())
            }
        }
    }

    /// The Cedar context of a request: the one place it is built.
    pub(super) fn context(p: &Principal, cx: &RequestContext) -> Result<Context, String> {
        let registered = p.kind == PrincipalKind::System && p.purposes.contains(&cx.purpose);
        let mut pairs = vec![
            (
                "purpose".to_owned(),
                RestrictedExpression::new_string(cx.purpose.as_str().to_owned()),
            ),
            (
                "purpose_registered".to_owned(),
                RestrictedExpression::new_bool(registered),
            ),
        ];
        if let Some(s) = cx.card_status {
            pairs.push(("card_status".to_owned(), RestrictedExpression::new_string(s.to_owned())));
        }
        if let Some(n) = cx.distinct_cards_last_hour {
            pairs.push(("distinct_cards_last_hour".to_owned(), RestrictedExpression::new_long(n)));
        }
        if let Some(b) = cx.requested_by_self {
            pairs.push(("requested_by_self".to_owned(), RestrictedExpression::new_bool(b)));
        }
        if let Some(roles) = &cx.requested_roles {
            pairs.push((
                "requested_roles".to_owned(),
                RestrictedExpression::new_set(roles.iter().map(|r| RestrictedExpression::new_string((*r).to_owned()))),
            ));
        }
        if let Some(n) = cx.bulk_ceiling_per_hour {
            pairs.push(("bulk_ceiling_per_hour".to_owned(), RestrictedExpression::new_long(n)));
        }
        if let Some(n) = cx.duplicate_outcomes_today {
            pairs.push(("duplicate_outcomes_today".to_owned(), RestrictedExpression::new_long(n)));
        }
        if let Some(l) = &cx.legal {
            let text = |k: &str, v: &str| (k.to_owned(), RestrictedExpression::new_string(v.to_owned()));
            pairs.push(text("process", l.process));
            pairs.push((
                "signed_by_judge".to_owned(),
                RestrictedExpression::new_bool(l.signed_by_judge),
            ));
            pairs.push(text("requester_agency_kind", l.requester_agency_kind));
            pairs.push(text("item", l.item));
            pairs.push(text("subject_kind", l.subject_kind));
        }
        Context::from_pairs(pairs).map_err(|e| e.to_string())
    }
}
