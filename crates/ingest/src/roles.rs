//! Guessing which column plays which role (text, labels, patient id, note id, split) from the
//! column names and a sample of values. Guesses are only suggestions shown in the preview and used
//! when the user gives no mapping at all; an explicit mapping always wins.

use crate::ColumnMapping;

/// Lower-case letters and digits only: `Medical Specialty` -> `medicalspecialty`.
fn norm(name: &str) -> String {
    name.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

const TEXT_NAMES: &[&str] = &[
    "text", "note", "notes", "notetext", "transcription", "body", "content", "report", "narrative", "document",
    "clinicalnote", "clinicaltext", "sentence", "symptoms", "description",
];
const TEXT_PARTS: &[&str] = &["text", "transcript", "narrative"];
const LABEL_NAMES: &[&str] = &[
    "label", "labels", "diagnosis", "diagnoses", "dx", "specialty", "medicalspecialty", "class", "category", "code",
    "codes", "icd", "icd10", "icd10code", "icdcode", "target", "disease", "condition", "outcome",
];
const LABEL_PARTS: &[&str] = &["label", "diagnos", "specialty", "icd", "disease"];
const PATIENT_NAMES: &[&str] = &["patientid", "patient", "subjectid", "subject", "mrn", "pid", "personid", "patientnumber"];
const PATIENT_PARTS: &[&str] = &["patient"];
const ID_NAMES: &[&str] = &[
    "noteid", "docid", "documentid", "recordid", "id", "index", "rowid", "caseid", "filename", "file", "encounterid",
    "reportid", "sampleid",
];
const SPLIT_NAMES: &[&str] = &["split", "fold", "set", "partition", "subset"];

/// Picks the best unclaimed column: exact name first (in list order), then a name containing a
/// part, else none.
fn pick(norms: &[String], claimed: &[bool], names: &[&str], parts: &[&str]) -> Option<usize> {
    for name in names {
        if let Some(i) = norms.iter().enumerate().position(|(i, n)| !claimed[i] && n == name) {
            return Some(i);
        }
    }
    for part in parts {
        if let Some(i) = norms.iter().enumerate().position(|(i, n)| !claimed[i] && n.contains(part)) {
            return Some(i);
        }
    }
    None
}

/// Guesses roles for `columns` given some sample rows (row[i] is the value of column i).
pub fn guess(columns: &[String], sample: &[Vec<String>]) -> ColumnMapping {
    let norms: Vec<String> = columns.iter().map(|c| norm(c)).collect();
    let mut claimed = vec![false; columns.len()];
    let claim = |i: Option<usize>, claimed: &mut Vec<bool>| {
        if let Some(i) = i {
            claimed[i] = true;
        }
        i.map(|i| columns[i].clone())
    };
    let split_by_values = (0..columns.len()).find(|&i| {
        let values: Vec<&str> = sample.iter().filter_map(|r| r.get(i)).map(|v| v.trim()).filter(|v| !v.is_empty()).collect();
        !values.is_empty() && values.iter().all(|v| crate::split::parse_split_name(v).is_some())
    });
    let split_i = pick(&norms, &claimed, SPLIT_NAMES, &[]).or(split_by_values);
    let split = claim(split_i, &mut claimed);
    let patient = claim(pick(&norms, &claimed, PATIENT_NAMES, PATIENT_PARTS), &mut claimed);
    let mut text_i = pick(&norms, &claimed, TEXT_NAMES, TEXT_PARTS);
    if text_i.is_none() {
        // The column with the longest values, if they look like prose.
        let mean_len = |i: usize| {
            let lens: Vec<usize> = sample.iter().filter_map(|r| r.get(i)).map(|v| v.chars().count()).collect();
            if lens.is_empty() { 0 } else { lens.iter().sum::<usize>() / lens.len() }
        };
        text_i = (0..columns.len()).filter(|&i| !claimed[i]).max_by_key(|&i| mean_len(i)).filter(|&i| mean_len(i) >= 20);
    }
    let text = claim(text_i, &mut claimed);
    let labels: Vec<String> = claim(pick(&norms, &claimed, LABEL_NAMES, LABEL_PARTS), &mut claimed).into_iter().collect();
    let id_i = pick(&norms, &claimed, ID_NAMES, &[]).or_else(|| {
        norms.iter().enumerate().position(|(i, n)| !claimed[i] && n.ends_with("id"))
    });
    let external_id = claim(id_i, &mut claimed);
    ColumnMapping { text, labels, patient_id: patient, external_id, split }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(columns: &[&str], sample: &[&[&str]], expected: (&str, &str, &str, &str, &str)) {
        let columns: Vec<String> = columns.iter().map(|s| s.to_string()).collect();
        let sample: Vec<Vec<String>> = sample.iter().map(|r| r.iter().map(|s| s.to_string()).collect()).collect();
        let m = guess(&columns, &sample);
        let got = (
            m.text.unwrap_or_default(),
            m.labels.join("|"),
            m.patient_id.unwrap_or_default(),
            m.external_id.unwrap_or_default(),
            m.split.unwrap_or_default(),
        );
        let want = (expected.0.into(), expected.1.into(), expected.2.into(), expected.3.into(), expected.4.into());
        assert_eq!(got, want, "{columns:?}");
    }

    #[test]
    fn guesses() {
        // MTSamples: transcription beats description; medical_specialty is the label.
        check(
            &["note_id", "description", "medical_specialty", "sample_name", "transcription", "keywords"],
            &[],
            ("transcription", "medical_specialty", "", "note_id", ""),
        );
        // Symptom2Disease.
        check(&["index", "label", "text"], &[], ("text", "label", "", "index", ""));
        // PhysioNet JSONL keys.
        check(&["patient_id", "note_id", "text", "phi"], &[], ("text", "", "patient_id", "note_id", ""));
        // Split found by its values; text found by its length.
        check(
            &["Body Of Note", "Dx", "part"],
            &[&["patient reports a dull ache in the lower back", "M54.5", "train"], &["cough for three weeks, no fever at all", "R05", "dev"]],
            ("Body Of Note", "Dx", "", "", "part"),
        );
        // Negative rows: short values and unrelated names guess nothing.
        check(&["a", "b"], &[&["1", "2"]], ("", "", "", "", ""));
        check(&[], &[], ("", "", "", "", ""));
    }
}
