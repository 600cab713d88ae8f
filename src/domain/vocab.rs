//! Closed vocabularies: purposes, agency kinds, staff roles. A word outside
//! them is an error, never a new category.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s { $($text => Ok(Self::$variant),)+ _ => Err(()) }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// Why a caller asks. The first group is what city systems register
    /// for; the enforcement family exists so that it can be refused by name;
    /// the last group names staff work.
    Purpose {
        LibraryServices => "library_services",
        ParksRecreation => "parks_recreation",
        CulturalInstitution => "cultural_institution",
        HealthServices => "health_services",
        TransitDiscount => "transit_discount",
        SeniorServices => "senior_services",
        BenefitsEnrollment => "benefits_enrollment",
        FinancialServices => "financial_services",
        IdentityCheck => "identity_check",
        CardAdministration => "card_administration",
        ImmigrationEnforcement => "immigration_enforcement",
        CivilImmigrationEnforcement => "civil_immigration_enforcement",
        BulkScreening => "bulk_screening",
        DataBrokerage => "data_brokerage",
        CardPrinting => "card_printing",
        LegalProcess => "legal_process",
        Oversight => "oversight",
        PolicyAdministration => "policy_administration",
        SystemAdministration => "system_administration",
    }
}

vocabulary! {
    AgencyKind {
        CityAgency => "city_agency",
        CityPartner => "city_partner",
        LocalLawEnforcement => "local_law_enforcement",
        StateAgency => "state_agency",
        FederalImmigration => "federal_immigration",
        FederalOther => "federal_other",
        PrivateParty => "private_party",
    }
}

vocabulary! {
    Role {
        Clerk => "clerk",
        PrivacyOfficer => "privacy_officer",
        Legal => "legal",
        Auditor => "auditor",
        Admin => "admin",
    }
}

vocabulary! {
    PrincipalKind {
        System => "system",
        Staff => "staff",
    }
}
