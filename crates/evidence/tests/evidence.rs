//! What a clinician sees as the reasons for a suggestion: the spans point at the words that match
//! the code's name, and negated findings and relatives' findings are not counted.

use localdx_evidence::{Experiencer, Lexicon};

fn lexicon() -> Lexicon {
    Lexicon::new([
        ("R07", "Chest pain, unspecified"),
        ("R50", "Fever, unspecified"),
        ("E11", "Type 2 diabetes mellitus without complications"),
        ("R60", "Edema, not elsewhere classified"),
        ("I10", "Essential (primary) hypertension"),
        ("J18", "Pneumonia, unspecified organism"),
    ])
}

fn words(note: &str, spans: &[(usize, usize)]) -> Vec<String> {
    spans.iter().map(|&(s, e)| note[s..e].to_string()).collect()
}

#[test]
fn a_labels_evidence_spans_point_at_the_words_that_match_it() {
    let note = "Seen today. Chest pain on exertion for two days, and fever of 38.5 C.";
    let found = lexicon().support(note);
    let labels: Vec<&str> = found.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(labels, ["R07", "R50"], "{found:?}");
    let chest = &found[0].evidence[0];
    assert_eq!(words(note, &chest.spans), ["Chest", "pain"]);
    assert_eq!(words(note, &found[1].evidence[0].spans), ["fever"]);
    // In any order, close together, across spelling and number.
    let note = "Marked pain in the chest. Bilateral oedemas of the legs.";
    let found = lexicon().support(note);
    let r07 = found.iter().find(|s| s.label == "R07").expect("R07");
    assert_eq!(words(note, &r07.evidence[0].spans), ["pain", "chest"]);
    let r60 = found.iter().find(|s| s.label == "R60").expect("R60");
    assert_eq!(words(note, &r60.evidence[0].spans), ["oedemas"]);
    // Words of a name far apart in a long sentence do not make a match.
    let note = "The chest radiograph, taken after a long wait in a crowded emergency department, showed that the pain settled.";
    assert!(lexicon().support(note).iter().all(|s| s.label != "R07"));
}

#[test]
fn a_negated_finding_is_not_counted_as_evidence() {
    let note = "Patient denies chest pain.";
    let all = lexicon().find(note);
    assert_eq!(all.len(), 1);
    assert!(all[0].negated, "{all:?}");
    assert!(lexicon().support(note).is_empty());
    for note in ["No fever.", "Negative for fever.", "Fever was ruled out.", "Afebrile, without fever or chills."] {
        assert!(lexicon().support(note).is_empty(), "{note}: {:?}", lexicon().support(note));
    }
    // The scope ends at the sentence and at a terminator.
    let found = lexicon().support("No fever. Chest pain since Monday.");
    assert_eq!(found.iter().map(|s| s.label.as_str()).collect::<Vec<_>>(), ["R07"]);
    let found = lexicon().support("Denies fever but reports chest pain.");
    assert_eq!(found.iter().map(|s| s.label.as_str()).collect::<Vec<_>>(), ["R07"]);
    // Far from the trigger, the finding stands.
    let found = lexicon().support("No history of travel, contact with animals or recent surgery; chest pain since Monday.");
    assert_eq!(found.iter().map(|s| s.label.as_str()).collect::<Vec<_>>(), ["R07"]);
}

#[test]
fn a_relatives_finding_is_not_the_patients() {
    let note = "History of present illness: chest pain for a week.\nFamily history: type 2 diabetes mellitus, essential hypertension.\n";
    let all = lexicon().find(note);
    let e11 = all.iter().find(|e| e.label == "E11").expect("E11 found");
    assert_eq!(e11.experiencer, Experiencer::Family);
    assert_eq!(all.iter().find(|e| e.label == "I10").expect("I10 found").experiencer, Experiencer::Family);
    let found = lexicon().support(note);
    assert_eq!(found.iter().map(|s| s.label.as_str()).collect::<Vec<_>>(), ["R07"]);
    let found = lexicon().support("Her mother had pneumonia. She has type 2 diabetes mellitus.");
    assert_eq!(found.iter().map(|s| s.label.as_str()).collect::<Vec<_>>(), ["E11"]);
}

#[test]
fn spans_are_byte_ranges_of_the_original_text() {
    let note = "Niño de 5 años: fiebre. Then FEVER again, 39 °C.";
    let found = lexicon().support(note);
    let r50 = found.iter().find(|s| s.label == "R50").expect("R50");
    assert_eq!(words(note, &r50.evidence[0].spans), ["FEVER"]);
    assert!(lexicon().support("").is_empty());
    assert!(lexicon().support("<b>&nbsp;</b>\u{0}\u{feff}").is_empty());
}

/// Text without punctuation is cut into bounded sentences: a note of 200,000 words of one line
/// is matched word by word, not as one sentence whose every pair of words is compared.
#[test]
fn a_note_without_punctuation_is_matched_in_bounded_sentences() {
    let note = "chest pain fever ".repeat(70_000);
    let found = lexicon().support(&note);
    let labels: Vec<&str> = found.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(labels, ["R07", "R50"]);
    assert!(found[0].evidence.len() > 1000, "one match per bounded sentence: {}", found[0].evidence.len());
}
