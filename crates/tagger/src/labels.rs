//! The tagger's label scheme: BIO over seven kinds of PHI, and how corpus labels map onto it.
//!
//! The kinds are coarser than [`EntityType`]: the tagger learns what a span *is shaped like* (a
//! person, a date, a place, a street address, a phone number, an identifier, an age), and the rules
//! keep the finer types they validate (an SSN's issuing rules, an e-mail's syntax). E-mail, URL and
//! IP gold spans are left out of the loss (the rules find them all); so are the gold types that are
//! not Safe Harbor identifiers, and years standing alone.

use localdx_phi::EntityType;

/// The PHI kinds the tagger predicts, in tag order.
pub const KINDS: [EntityType; 7] =
    [EntityType::Name, EntityType::Date, EntityType::Location, EntityType::Address, EntityType::Phone, EntityType::Id, EntityType::Age];

/// Classes: `O`, then `B-k`, `I-k` for each kind `k`.
pub const CLASSES: usize = 1 + 2 * KINDS.len();

/// The class of a token outside every span.
pub const OUTSIDE: usize = 0;

/// The B- class of kind `k`.
pub fn begin(k: usize) -> usize {
    1 + 2 * k
}

/// The I- class of kind `k`.
pub fn inside(k: usize) -> usize {
    2 + 2 * k
}

/// The kind of a class (None for `O`).
pub fn kind_of_class(c: usize) -> Option<usize> {
    (c > 0).then(|| (c - 1) / 2)
}

/// The names the tagger gives its detections' `pattern`, one per kind.
pub const PATTERNS: [&str; 7] = ["model_name", "model_date", "model_location", "model_address", "model_phone", "model_id", "model_age"];

/// What a corpus label means for training.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// PHI of this kind (an index into [`KINDS`]).
    Kind(usize),
    /// Neither PHI nor not-PHI: its tokens are left out of the loss.
    Ignore,
}

fn kind(e: EntityType) -> Target {
    use EntityType::*;
    let k = match e {
        Name => 0,
        Date => 1,
        Location => 2,
        Address | Zip => 3,
        Phone => 4,
        Ssn | MedicalRecord | HealthPlan | Account | License | Vehicle | Device | Id => 5,
        Age => 6,
        Email | Url | Ip => return Target::Ignore,
    };
    Target::Kind(k)
}

/// Maps a gold label of PhysioNet deid, presidio-research or LocalDx's own types to a target.
/// Unknown labels are ignored rather than taught as "not PHI".
pub fn target(label: &str) -> Target {
    match label {
        "HCPName" | "PTName" | "RelativeProxyName" | "PTNameInitial" | "PERSON" => Target::Kind(0),
        "Date" | "DATE_TIME" => Target::Kind(1),
        "Location" => Target::Kind(2),
        "STREET_ADDRESS" | "ZIP_CODE" => Target::Kind(3),
        "Phone" | "PHONE_NUMBER" => Target::Kind(4),
        "Other" | "US_SSN" | "US_DRIVER_LICENSE" | "CREDIT_CARD" | "IBAN_CODE" => Target::Kind(5),
        "Age" => Target::Kind(6),
        // a year alone is not a Safe Harbor date element; rules decide by the project's setting
        "DateYear" => Target::Ignore,
        other => EntityType::parse(other).map(kind).unwrap_or(Target::Ignore),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_round_trip() {
        for k in 0..KINDS.len() {
            assert_eq!(kind_of_class(begin(k)), Some(k));
            assert_eq!(kind_of_class(inside(k)), Some(k));
        }
        assert_eq!(kind_of_class(OUTSIDE), None);
        assert_eq!(inside(KINDS.len() - 1), CLASSES - 1);
    }

    #[test]
    fn corpus_labels_map_to_kinds() {
        let check = |label: &str, want: Target| assert_eq!(target(label), want, "{label}");
        check("HCPName", Target::Kind(0));
        check("PERSON", Target::Kind(0));
        check("name", Target::Kind(0));
        check("Date", Target::Kind(1));
        check("zip", Target::Kind(3));
        check("medical_record", Target::Kind(5));
        check("US_SSN", Target::Kind(5));
        // negative rows: rule-only types, non-identifiers and unknown labels never teach "not PHI"
        check("EMAIL_ADDRESS", Target::Ignore);
        check("email", Target::Ignore);
        check("DateYear", Target::Ignore);
        check("NRP", Target::Ignore);
        check("whatever", Target::Ignore);
    }
}
