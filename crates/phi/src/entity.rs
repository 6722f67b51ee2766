//! The kinds of protected health information the engine detects (HIPAA Safe Harbor identifiers
//! that can occur in free text). Never holds text: only the kind, its tag and its ranking.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One Safe Harbor identifier kind. The order of the variants is the tie-break priority when
/// overlapping detections of equal score are merged (earlier wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityType {
    /// Names of patients, relatives, clinicians; initials.
    Name,
    /// Social Security numbers.
    Ssn,
    /// E-mail addresses.
    Email,
    /// Web URLs and domain names.
    Url,
    /// IPv4 and IPv6 addresses.
    Ip,
    /// Phone, fax and pager numbers.
    Phone,
    /// Medical record numbers.
    MedicalRecord,
    /// Health plan beneficiary and member numbers.
    HealthPlan,
    /// Account numbers, card numbers, IBANs.
    Account,
    /// Certificate and licence numbers (driver's licence, DEA, NPI).
    License,
    /// Vehicle identifiers (VIN) and licence plates.
    Vehicle,
    /// Device identifiers and serial numbers.
    Device,
    /// Street addresses.
    Address,
    /// ZIP codes.
    Zip,
    /// Cities, counties, hospitals and other facilities, other places smaller than a state.
    Location,
    /// All elements of dates except a year standing alone; years next to a month or day.
    Date,
    /// Ages over 89.
    Age,
    /// Any other unique identifying number or code.
    Id,
}

impl EntityType {
    pub const ALL: [EntityType; 18] = [
        EntityType::Name,
        EntityType::Ssn,
        EntityType::Email,
        EntityType::Url,
        EntityType::Ip,
        EntityType::Phone,
        EntityType::MedicalRecord,
        EntityType::HealthPlan,
        EntityType::Account,
        EntityType::License,
        EntityType::Vehicle,
        EntityType::Device,
        EntityType::Address,
        EntityType::Zip,
        EntityType::Location,
        EntityType::Date,
        EntityType::Age,
        EntityType::Id,
    ];

    /// The snake_case name used in JSON and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::Name => "name",
            EntityType::Ssn => "ssn",
            EntityType::Email => "email",
            EntityType::Url => "url",
            EntityType::Ip => "ip",
            EntityType::Phone => "phone",
            EntityType::MedicalRecord => "medical_record",
            EntityType::HealthPlan => "health_plan",
            EntityType::Account => "account",
            EntityType::License => "license",
            EntityType::Vehicle => "vehicle",
            EntityType::Device => "device",
            EntityType::Address => "address",
            EntityType::Zip => "zip",
            EntityType::Location => "location",
            EntityType::Date => "date",
            EntityType::Age => "age",
            EntityType::Id => "id",
        }
    }

    /// The replacement tag of the type-tag strategy, e.g. `[NAME]`.
    pub fn tag(self) -> String {
        format!("[{}]", self.as_str().to_ascii_uppercase())
    }

    /// Parses the snake_case name (case-insensitive).
    pub fn parse(s: &str) -> Option<EntityType> {
        let s = s.trim().to_ascii_lowercase();
        EntityType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for EntityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
