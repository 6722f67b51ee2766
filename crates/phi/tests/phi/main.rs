//! Integration tests of localdx-phi: the corpus evaluations against the targets, redaction
//! consistency across notes, the no-panic property on hostile input, and the share of PHI-free
//! texts with a detection.

mod corpus;
mod no_panic;
mod phi_free;
mod redaction;
