//! Dataset statistics through the API: the review's PHI per type is the same for a dataset and
//! its released version, and reading them follows the permission matrix as reading notes does.

use crate::sealed::released_dataset;
use crate::{login, workspace, CLINICIAN, STEWARD};
use localdx_api::ErrorCode;

#[test]
fn statistics_carry_the_reviewed_phi_and_follow_the_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let admin = workspace(dir.path());
    let (raw, version) = released_dataset(&admin, dir.path());
    let steward = login(dir.path(), STEWARD);
    let of_raw = steward.dataset_stats(raw).unwrap();
    assert_eq!((of_raw.notes, of_raw.splits.train, of_raw.labels.len()), (16, 10, 2));
    let names = of_raw.phi.iter().find(|t| t.entity == "name").expect("the doctor's name was found and reviewed");
    assert_eq!((names.redacted, names.undecided), (16, 0), "{:?}", of_raw.phi);
    assert!(of_raw.phi.iter().any(|t| t.entity == "date" && t.redacted == 16), "and the visit dates: {:?}", of_raw.phi);
    let of_version = steward.dataset_stats(version).unwrap();
    assert_eq!(serde_json::to_value(&of_version.phi).unwrap(), serde_json::to_value(&of_raw.phi).unwrap(), "the version shows its source's review");
    assert_eq!(of_version.notes, 16);

    let clinician = login(dir.path(), CLINICIAN);
    assert_eq!(clinician.dataset_stats(version).unwrap().notes, 16, "clinicians read released versions");
    assert_eq!(clinician.dataset_stats(raw).unwrap_err().code, ErrorCode::Forbidden, "and not raw notes");
    assert_eq!(steward.dataset_stats(999).unwrap_err().code, ErrorCode::NotFound);
}
